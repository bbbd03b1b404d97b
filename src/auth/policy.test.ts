/** @module auth/policy.test */
import { describe, expect, it } from 'vitest'
import { requiredAccess } from './actions.js'
import { FULL_ACCESS_DOCUMENT, evaluate, parsePolicy, PolicyError, type AccessRequest, type Decision } from './policy.js'
import type { Operation } from '../s3/operations.js'

const allow = (Action: unknown, Resource: unknown, Condition?: unknown) => ({ Effect: 'Allow', Action, Resource, ...(Condition ? { Condition } : {}) })
const deny = (Action: unknown, Resource: unknown, Condition?: unknown) => ({ Effect: 'Deny', Action, Resource, ...(Condition ? { Condition } : {}) })
const doc = (...Statement: unknown[]) => ({ Version: '2012-10-17', Statement })
const req = (action: string, resource: string, prefix?: string): AccessRequest => ({
  action,
  resource,
  context: prefix === undefined ? undefined : { 's3:prefix': prefix },
})

describe('evaluate', () => {
  const cases: [string, unknown[], AccessRequest, Decision][] = [
    ['no policies: default deny', [], req('s3:GetObject', 'arn:aws:s3:::b/k'), 'deny'],
    ['full access', [FULL_ACCESS_DOCUMENT], req('s3:DeleteBucket', 'arn:aws:s3:::b'), 'allow'],
    ['full access covers ListAllMyBuckets on *', [FULL_ACCESS_DOCUMENT], req('s3:ListAllMyBuckets', '*'), 'allow'],
    ['exact action and resource', [doc(allow('s3:GetObject', 'arn:aws:s3:::b/k'))], req('s3:GetObject', 'arn:aws:s3:::b/k'), 'allow'],
    ['other action', [doc(allow('s3:GetObject', 'arn:aws:s3:::b/k'))], req('s3:PutObject', 'arn:aws:s3:::b/k'), 'deny'],
    ['actions are case-insensitive', [doc(allow('S3:getobject', 'arn:aws:s3:::b/k'))], req('s3:GetObject', 'arn:aws:s3:::b/k'), 'allow'],
    ['action wildcard *', [doc(allow('s3:Get*', '*'))], req('s3:GetObject', 'arn:aws:s3:::b/k'), 'allow'],
    ['action wildcard does not cross into another prefix', [doc(allow('s3:Get*', '*'))], req('s3:PutObject', 'arn:aws:s3:::b/k'), 'deny'],
    ['action wildcard ?', [doc(allow('s3:?etObject', '*'))], req('s3:GetObject', 'arn:aws:s3:::b/k'), 'allow'],
    ['bare * action', [doc(allow('*', '*'))], req('s3:PutObject', 'arn:aws:s3:::b/k'), 'allow'],
    ['action list', [doc(allow(['s3:PutObject', 's3:GetObject'], '*'))], req('s3:GetObject', 'arn:aws:s3:::b/k'), 'allow'],
    ['resource wildcard spans slashes', [doc(allow('s3:GetObject', 'arn:aws:s3:::b/shared/*'))], req('s3:GetObject', 'arn:aws:s3:::b/shared/a/b/c'), 'allow'],
    ['resource outside the prefix', [doc(allow('s3:GetObject', 'arn:aws:s3:::b/shared/*'))], req('s3:GetObject', 'arn:aws:s3:::b/other/x'), 'deny'],
    ['resources are case-sensitive', [doc(allow('s3:GetObject', 'arn:aws:s3:::b/Shared/*'))], req('s3:GetObject', 'arn:aws:s3:::b/shared/x'), 'deny'],
    ['resource ? is one character', [doc(allow('s3:GetObject', 'arn:aws:s3:::b/k?'))], req('s3:GetObject', 'arn:aws:s3:::b/k1'), 'allow'],
    ['resource ? is not zero characters', [doc(allow('s3:GetObject', 'arn:aws:s3:::b/k?'))], req('s3:GetObject', 'arn:aws:s3:::b/k'), 'deny'],
    ['regex metacharacters are literal', [doc(allow('s3:GetObject', 'arn:aws:s3:::b/a.b'))], req('s3:GetObject', 'arn:aws:s3:::b/aXb'), 'deny'],
    ['bucket ARN is not its objects', [doc(allow('s3:ListBucket', 'arn:aws:s3:::b'))], req('s3:ListBucket', 'arn:aws:s3:::b2'), 'deny'],
    ['bucket/* does not cover the bucket', [doc(allow('s3:*', 'arn:aws:s3:::b/*'))], req('s3:ListBucket', 'arn:aws:s3:::b', ''), 'deny'],
    ['explicit deny wins within a policy', [doc(allow('s3:*', '*'), deny('s3:DeleteObject', 'arn:aws:s3:::b/*'))], req('s3:DeleteObject', 'arn:aws:s3:::b/k'), 'deny'],
    ['explicit deny wins across policies', [FULL_ACCESS_DOCUMENT, doc(deny('s3:*', 'arn:aws:s3:::secret/*'))], req('s3:GetObject', 'arn:aws:s3:::secret/k'), 'deny'],
    ['deny elsewhere does not block', [FULL_ACCESS_DOCUMENT, doc(deny('s3:*', 'arn:aws:s3:::secret/*'))], req('s3:GetObject', 'arn:aws:s3:::open/k'), 'allow'],
    ['StringLike prefix matches', [doc(allow('s3:ListBucket', 'arn:aws:s3:::b', { StringLike: { 's3:prefix': 'team/*' } }))], req('s3:ListBucket', 'arn:aws:s3:::b', 'team/x'), 'allow'],
    ['StringLike prefix mismatch', [doc(allow('s3:ListBucket', 'arn:aws:s3:::b', { StringLike: { 's3:prefix': 'team/*' } }))], req('s3:ListBucket', 'arn:aws:s3:::b', 'other/'), 'deny'],
    ['empty prefix needs its own value', [doc(allow('s3:ListBucket', 'arn:aws:s3:::b', { StringLike: { 's3:prefix': ['team/*'] } }))], req('s3:ListBucket', 'arn:aws:s3:::b', ''), 'deny'],
    ['values of one key are ORed', [doc(allow('s3:ListBucket', 'arn:aws:s3:::b', { StringLike: { 's3:prefix': ['', 'team/*'] } }))], req('s3:ListBucket', 'arn:aws:s3:::b', ''), 'allow'],
    ['StringEquals is exact', [doc(allow('s3:ListBucket', 'arn:aws:s3:::b', { StringEquals: { 's3:prefix': 'team/*' } }))], req('s3:ListBucket', 'arn:aws:s3:::b', 'team/x'), 'deny'],
    ['StringEquals exact match', [doc(allow('s3:ListBucket', 'arn:aws:s3:::b', { StringEquals: { 's3:prefix': 'team/' } }))], req('s3:ListBucket', 'arn:aws:s3:::b', 'team/'), 'allow'],
    ['condition key absent: no match', [doc(allow('s3:*', '*', { StringLike: { 's3:prefix': '*' } }))], req('s3:GetObject', 'arn:aws:s3:::b/k'), 'deny'],
    ['operators are ANDed', [doc(allow('s3:ListBucket', '*', { StringLike: { 's3:prefix': 'team/*' }, StringEquals: { 's3:prefix': 'team/a' } }))], req('s3:ListBucket', 'arn:aws:s3:::b', 'team/b'), 'deny'],
    ['conditional deny applies only when it holds', [FULL_ACCESS_DOCUMENT, doc(deny('s3:ListBucket', '*', { StringLike: { 's3:prefix': 'private/*' } }))], req('s3:ListBucket', 'arn:aws:s3:::b', 'public/'), 'allow'],
    ['conditional deny', [FULL_ACCESS_DOCUMENT, doc(deny('s3:ListBucket', '*', { StringLike: { 's3:prefix': 'private/*' } }))], req('s3:ListBucket', 'arn:aws:s3:::b', 'private/x'), 'deny'],
    ['single statement object', [{ Statement: allow('s3:GetObject', '*') }], req('s3:GetObject', 'arn:aws:s3:::b/k'), 'allow'],
  ]
  it.each(cases)('%s', (_name, documents, request, expected) => {
    const policies = documents.map((d, i) => parsePolicy(`p${i}`, d))
    expect(evaluate(policies, request)).toBe(expected)
  })
})

describe('parsePolicy rejects what it does not understand, naming policy and path', () => {
  const cases: [string, unknown, string][] = [
    ['not an object', 'x', '(top level)'],
    ['unknown top-level field', { Statement: [allow('*', '*')], Extra: 1 }, 'Extra'],
    ['bad version', { Version: '2020-01-01', Statement: [allow('*', '*')] }, 'Version'],
    ['no statements', { Statement: [] }, 'Statement'],
    ['missing Statement', {}, 'Statement'],
    ['statement not an object', { Statement: ['x'] }, 'Statement[0]'],
    ['bad effect', { Statement: [{ Effect: 'allow', Action: '*', Resource: '*' }] }, 'Statement[0].Effect'],
    ['missing action', { Statement: [{ Effect: 'Allow', Resource: '*' }] }, 'Statement[0].Action'],
    ['missing resource', { Statement: [{ Effect: 'Allow', Action: '*' }] }, 'Statement[0].Resource'],
    ['empty action list', { Statement: [allow([], '*')] }, 'Statement[0].Action'],
    ['non-string action', { Statement: [allow(['s3:GetObject', 3], '*')] }, 'Statement[0].Action[1]'],
    ['malformed action', { Statement: [allow('GetObject', '*')] }, 'Statement[0].Action'],
    ['malformed resource', { Statement: [allow('*', ['*', 'bucket/key'])] }, 'Statement[0].Resource[1]'],
    ['ARN missing a colon', { Statement: [allow('*', 'arn:aws:s3::data/*')] }, 'Statement[0].Resource'],
    ['ARN of another service', { Statement: [allow('*', 'arn:aws:iam::123456789012:user/x')] }, 'Statement[0].Resource'],
    ['NotAction unsupported', { Statement: [{ Effect: 'Deny', NotAction: 's3:GetObject', Action: '*', Resource: '*' }] }, 'Statement[0].NotAction'],
    ['Principal unsupported', { Statement: [{ ...allow('*', '*'), Principal: '*' }] }, 'Statement[0].Principal'],
    ['unknown operator', { Statement: [allow('*', '*', { StringNotLike: { 's3:prefix': 'x' } })] }, 'Statement[0].Condition.StringNotLike'],
    ['unknown condition key', { Statement: [allow('*', '*', { StringLike: { 'aws:SourceIp': 'x' } })] }, 'Statement[0].Condition.StringLike.aws:SourceIp'],
    ['empty condition values', { Statement: [allow('*', '*', { StringLike: { 's3:prefix': [] } })] }, 'Statement[0].Condition.StringLike.s3:prefix'],
    ['non-string condition value', { Statement: [allow('*', '*', { StringLike: { 's3:prefix': [1] } })] }, 'Statement[0].Condition.StringLike.s3:prefix[0]'],
    ['second statement', { Statement: [allow('*', '*'), { Effect: 'Allow', Action: '*', Resource: 7 }] }, 'Statement[1].Resource'],
  ]
  it.each(cases)('%s', (_name, document, path) => {
    let caught: unknown
    try {
      parsePolicy('team-rw', document)
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(PolicyError)
    expect((caught as PolicyError).path).toBe(path)
    expect((caught as PolicyError).message).toMatch(/^policy "team-rw": /)
  })
})

describe('requiredAccess', () => {
  const q = (s = '') => new URLSearchParams(s)
  const cases: [Operation, string | undefined, string | undefined, string, AccessRequest | 'per-key'][] = [
    ['ListBuckets', undefined, undefined, '', { action: 's3:ListAllMyBuckets', resource: '*' }],
    ['ListObjects', 'b', undefined, '', { action: 's3:ListBucket', resource: 'arn:aws:s3:::b', context: { 's3:prefix': '' } }],
    ['ListObjectsV2', 'b', undefined, 'list-type=2&prefix=team%2F', { action: 's3:ListBucket', resource: 'arn:aws:s3:::b', context: { 's3:prefix': 'team/' } }],
    ['ListMultipartUploads', 'b', undefined, 'uploads', { action: 's3:ListBucketMultipartUploads', resource: 'arn:aws:s3:::b' }],
    ['HeadBucket', 'b', undefined, '', { action: 's3:ListBucket', resource: 'arn:aws:s3:::b' }],
    ['GetBucketLocation', 'b', undefined, 'location', { action: 's3:GetBucketLocation', resource: 'arn:aws:s3:::b' }],
    ['CreateBucket', 'b', undefined, '', { action: 's3:CreateBucket', resource: 'arn:aws:s3:::b' }],
    ['DeleteBucket', 'b', undefined, '', { action: 's3:DeleteBucket', resource: 'arn:aws:s3:::b' }],
    ['GetObject', 'b', 'a/k', '', { action: 's3:GetObject', resource: 'arn:aws:s3:::b/a/k' }],
    ['HeadObject', 'b', 'k', '', { action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' }],
    ['GetObjectTagging', 'b', 'k', 'tagging', { action: 's3:GetObjectTagging', resource: 'arn:aws:s3:::b/k' }],
    ['PutObject', 'b', 'k', '', { action: 's3:PutObject', resource: 'arn:aws:s3:::b/k' }],
    ['CopyObject', 'b', 'k', '', { action: 's3:PutObject', resource: 'arn:aws:s3:::b/k' }],
    ['CreateMultipartUpload', 'b', 'k', 'uploads', { action: 's3:PutObject', resource: 'arn:aws:s3:::b/k' }],
    ['UploadPart', 'b', 'k', 'uploadId=u&partNumber=1', { action: 's3:PutObject', resource: 'arn:aws:s3:::b/k' }],
    ['UploadPartCopy', 'b', 'k', 'uploadId=u&partNumber=1', { action: 's3:PutObject', resource: 'arn:aws:s3:::b/k' }],
    ['CompleteMultipartUpload', 'b', 'k', 'uploadId=u', { action: 's3:PutObject', resource: 'arn:aws:s3:::b/k' }],
    ['AbortMultipartUpload', 'b', 'k', 'uploadId=u', { action: 's3:AbortMultipartUpload', resource: 'arn:aws:s3:::b/k' }],
    ['ListParts', 'b', 'k', 'uploadId=u', { action: 's3:ListMultipartUploadParts', resource: 'arn:aws:s3:::b/k' }],
    ['DeleteObject', 'b', 'k', '', { action: 's3:DeleteObject', resource: 'arn:aws:s3:::b/k' }],
    ['DeleteObjects', 'b', undefined, 'delete', 'per-key'],
  ]
  it.each(cases)('%s', (operation, bucket, key, query, expected) => {
    expect(requiredAccess(operation, bucket, key, q(query))).toEqual(expected)
  })
})
