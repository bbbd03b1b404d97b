/**
 * Authorization on every operation (issue 4, item 4), through the running gateway with the AWS SDK:
 * a table of (user × operation) → allowed or AccessDenied over every operation the gateway serves.
 * `reader` may only get and list under `shared/`; `writer` reads and writes `team/` and lists only
 * with a `team/` prefix (the s3:prefix condition); `admin` may do everything; `restricted` has full
 * access through its group but its own Deny on `secret/` wins; `nobody` has no policy (default deny).
 * Copies need read on the source and write on the destination, multipart steps are checked each,
 * DeleteObjects is checked per key. Denied writes store nothing, and denials are audited.
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
 */
import { randomBytes } from 'node:crypto'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requestRecords, startGateway, type GatewayProcess } from '../helpers/gateway.js'
import { FULL_ACCESS_POLICY, REGION, sdkClient, sdkError } from './support.js'

const BUCKET = 'authz'
const ARN = `arn:aws:s3:::${BUCKET}`
const USERS = ['admin', 'reader', 'writer', 'restricted', 'nobody'] as const
type User = (typeof USERS)[number]

const POLICIES = {
  'full-access': FULL_ACCESS_POLICY,
  'read-shared': {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'Read', Effect: 'Allow', Action: 's3:GetObject', Resource: `${ARN}/shared/*` },
      { Sid: 'List', Effect: 'Allow', Action: 's3:ListBucket', Resource: ARN, Condition: { StringLike: { 's3:prefix': 'shared/*' } } },
    ],
  },
  'team-rw': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        Resource: `${ARN}/team/*`,
      },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: ARN, Condition: { StringLike: { 's3:prefix': ['team/', 'team/*'] } } },
    ],
  },
  'no-secret': {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Deny', Action: 's3:*', Resource: `${ARN}/secret/*` },
      { Effect: 'Deny', Action: 's3:ListBucket', Resource: ARN, Condition: { StringLike: { 's3:prefix': 'secret*' } } },
    ],
  },
}

type Expect = 'ok' | 'AccessDenied'
interface Row {
  user: User
  what: string
  run: (s3: S3Client) => Promise<unknown>
  expect: Expect
  /** For denied writes: keys that must not exist afterwards (nothing was stored). */
  absent?: string[]
  /** Keys that must still exist afterwards (a denied delete deleted nothing). */
  present?: string[]
  /** Any further check of the outcome (the response of an allowed call). */
  check?: (result: unknown) => void | Promise<void>
}

describe('authorization: user × operation', () => {
  let gw: GatewayProcess
  const clients = {} as Record<User, S3Client>
  const uploads = { shared: '', team: '', teamComplete: '', teamAbort: '' }
  let teamCompleteEtag = ''

  const admin = () => clients.admin
  const exists = async (key: string) =>
    admin()
      .send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))
      .then(
        () => true,
        (err: { $metadata?: { httpStatusCode?: number } }) => {
          if (err.$metadata?.httpStatusCode === 404) return false
          throw err
        }
      )
  const createUpload = async (key: string) =>
    (await admin().send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }))).UploadId!

  beforeAll(async () => {
    const keys = Object.fromEntries(
      USERS.map((u) => [u, { id: 'AKAUTHZ' + randomBytes(6).toString('hex').toUpperCase(), secret: randomBytes(30).toString('base64') }])
    ) as Record<User, { id: string; secret: string }>
    const user = (name: User, policies: string[], groups: string[] = []) => ({ name, groups, policies, accessKeys: [keys[name]] })
    gw = await startGateway({
      config: {
        region: REGION,
        storage: { type: 'disk' },
        keyring: { current: 'k1', keys: [{ id: 'k1', key: randomBytes(32).toString('base64') }] },
        policies: POLICIES,
        groups: { staff: { policies: ['full-access'] } },
        users: [
          user('admin', ['full-access']),
          user('reader', ['read-shared']),
          user('writer', ['team-rw']),
          user('restricted', ['no-secret'], ['staff']),
          user('nobody', []),
        ],
        logLevel: 'info',
      },
    })
    for (const u of USERS) clients[u] = sdkClient(gw.url, { accessKeyId: keys[u].id, secretAccessKey: keys[u].secret })
    await admin().send(new CreateBucketCommand({ Bucket: BUCKET }))
    for (const key of ['shared/a.txt', 'team/a.txt', 'secret/a.txt', 'other/a.txt', 'team/del1', 'team/del2']) {
      await admin().send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `content of ${key}` }))
    }
    uploads.shared = await createUpload('shared/mp')
    uploads.team = await createUpload('team/mp')
    uploads.teamComplete = await createUpload('team/mp-complete')
    uploads.teamAbort = await createUpload('team/mp-abort')
    const part = await admin().send(
      new UploadPartCommand({ Bucket: BUCKET, Key: 'team/mp-complete', UploadId: uploads.teamComplete, PartNumber: 1, Body: 'one part' })
    )
    teamCompleteEtag = part.ETag!
  })

  afterAll(async () => {
    await gw?.stop()
  })

  const list = (Prefix?: string) => (s3: S3Client) => s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix }))
  const get = (Key: string) => (s3: S3Client) => s3.send(new GetObjectCommand({ Bucket: BUCKET, Key }))
  const put = (Key: string) => (s3: S3Client) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: 'new' }))
  const copy = (from: string, Key: string) => (s3: S3Client) =>
    s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key, CopySource: `${BUCKET}/${from}` }))
  const uploadPart = (Key: string, upload: keyof typeof uploads) => (s3: S3Client) =>
    s3.send(new UploadPartCommand({ Bucket: BUCKET, Key, UploadId: uploads[upload], PartNumber: 2, Body: 'part' }))
  const uploadPartCopy = (Key: string, upload: keyof typeof uploads, from: string) => (s3: S3Client) =>
    s3.send(new UploadPartCopyCommand({ Bucket: BUCKET, Key, UploadId: uploads[upload], PartNumber: 3, CopySource: `${BUCKET}/${from}` }))
  const listParts = (Key: string, upload: keyof typeof uploads) => (s3: S3Client) =>
    s3.send(new ListPartsCommand({ Bucket: BUCKET, Key, UploadId: uploads[upload] }))
  const abort = (Key: string, upload: keyof typeof uploads) => (s3: S3Client) =>
    s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key, UploadId: uploads[upload] }))
  const complete = (Key: string, upload: keyof typeof uploads) => (s3: S3Client) =>
    s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key,
        UploadId: uploads[upload],
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: teamCompleteEtag }] },
      })
    )
  const keysOf = (result: unknown) => ((result as { Contents?: { Key?: string }[] }).Contents ?? []).map((c) => c.Key)

  const rows: Row[] = [
    // Buckets
    { user: 'admin', what: 'ListBuckets', run: (s3) => s3.send(new ListBucketsCommand({})), expect: 'ok' },
    { user: 'reader', what: 'ListBuckets', run: (s3) => s3.send(new ListBucketsCommand({})), expect: 'AccessDenied' },
    { user: 'nobody', what: 'ListBuckets', run: (s3) => s3.send(new ListBucketsCommand({})), expect: 'AccessDenied' },
    { user: 'writer', what: 'CreateBucket', run: (s3) => s3.send(new CreateBucketCommand({ Bucket: 'authz-writer' })), expect: 'AccessDenied' },
    { user: 'admin', what: 'CreateBucket', run: (s3) => s3.send(new CreateBucketCommand({ Bucket: 'authz-admin' })), expect: 'ok' },
    { user: 'admin', what: 'HeadBucket', run: (s3) => s3.send(new HeadBucketCommand({ Bucket: BUCKET })), expect: 'ok' },
    { user: 'restricted', what: 'HeadBucket (via group)', run: (s3) => s3.send(new HeadBucketCommand({ Bucket: BUCKET })), expect: 'ok' },
    { user: 'reader', what: 'HeadBucket (listing only with a prefix)', run: (s3) => s3.send(new HeadBucketCommand({ Bucket: BUCKET })), expect: 'AccessDenied' },
    { user: 'admin', what: 'GetBucketLocation', run: (s3) => s3.send(new GetBucketLocationCommand({ Bucket: BUCKET })), expect: 'ok' },
    { user: 'writer', what: 'GetBucketLocation', run: (s3) => s3.send(new GetBucketLocationCommand({ Bucket: BUCKET })), expect: 'AccessDenied' },
    { user: 'writer', what: 'DeleteBucket', run: (s3) => s3.send(new DeleteBucketCommand({ Bucket: 'authz-admin' })), expect: 'AccessDenied' },
    { user: 'admin', what: 'DeleteBucket', run: (s3) => s3.send(new DeleteBucketCommand({ Bucket: 'authz-admin' })), expect: 'ok' },
    // Listings and the s3:prefix condition
    { user: 'admin', what: 'ListObjectsV2 without prefix', run: list(), expect: 'ok', check: (r) => expect(keysOf(r)).toContain('secret/a.txt') },
    { user: 'reader', what: 'ListObjectsV2 without prefix', run: list(), expect: 'AccessDenied' },
    { user: 'reader', what: 'ListObjectsV2 prefix shared/', run: list('shared/'), expect: 'ok', check: (r) => expect(keysOf(r)).toEqual(['shared/a.txt']) },
    { user: 'reader', what: 'ListObjectsV2 prefix team/', run: list('team/'), expect: 'AccessDenied' },
    { user: 'writer', what: 'ListObjectsV2 without prefix', run: list(), expect: 'AccessDenied' },
    { user: 'writer', what: 'ListObjectsV2 prefix team/', run: list('team/'), expect: 'ok', check: (r) => expect(keysOf(r)).toContain('team/a.txt') },
    { user: 'writer', what: 'ListObjectsV2 prefix shared/', run: list('shared/'), expect: 'AccessDenied' },
    { user: 'writer', what: 'ListObjects (v1) prefix team/', run: (s3) => s3.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'team/' })), expect: 'ok' },
    { user: 'writer', what: 'ListObjects (v1) without prefix', run: (s3) => s3.send(new ListObjectsCommand({ Bucket: BUCKET })), expect: 'AccessDenied' },
    { user: 'restricted', what: 'ListObjectsV2 prefix other/', run: list('other/'), expect: 'ok' },
    { user: 'restricted', what: 'ListObjectsV2 prefix secret/ (Deny beats Allow)', run: list('secret/'), expect: 'AccessDenied' },
    { user: 'nobody', what: 'ListObjectsV2 prefix shared/', run: list('shared/'), expect: 'AccessDenied' },
    { user: 'admin', what: 'ListMultipartUploads', run: (s3) => s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET })), expect: 'ok' },
    { user: 'writer', what: 'ListMultipartUploads', run: (s3) => s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET })), expect: 'AccessDenied' },
    // Reads
    { user: 'reader', what: 'GetObject shared/', run: get('shared/a.txt'), expect: 'ok' },
    { user: 'reader', what: 'GetObject team/', run: get('team/a.txt'), expect: 'AccessDenied' },
    { user: 'reader', what: 'HeadObject shared/', run: (s3) => s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'shared/a.txt' })), expect: 'ok' },
    { user: 'reader', what: 'HeadObject team/', run: (s3) => s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'team/a.txt' })), expect: 'AccessDenied' },
    { user: 'writer', what: 'GetObject team/', run: get('team/a.txt'), expect: 'ok' },
    { user: 'writer', what: 'GetObject shared/', run: get('shared/a.txt'), expect: 'AccessDenied' },
    { user: 'restricted', what: 'GetObject other/ (via group)', run: get('other/a.txt'), expect: 'ok' },
    { user: 'restricted', what: 'GetObject secret/ (Deny beats Allow)', run: get('secret/a.txt'), expect: 'AccessDenied' },
    { user: 'nobody', what: 'GetObject shared/', run: get('shared/a.txt'), expect: 'AccessDenied' },
    // Writes
    { user: 'writer', what: 'PutObject team/', run: put('team/new'), expect: 'ok', check: async () => expect(await exists('team/new')).toBe(true) },
    { user: 'writer', what: 'PutObject shared/', run: put('shared/new-w'), expect: 'AccessDenied', absent: ['shared/new-w'] },
    { user: 'reader', what: 'PutObject shared/', run: put('shared/new-r'), expect: 'AccessDenied', absent: ['shared/new-r'] },
    { user: 'restricted', what: 'PutObject secret/ (Deny beats Allow)', run: put('secret/new'), expect: 'AccessDenied', absent: ['secret/new'] },
    { user: 'restricted', what: 'PutObject other/', run: put('other/new'), expect: 'ok' },
    { user: 'nobody', what: 'PutObject anywhere', run: put('team/nobody'), expect: 'AccessDenied', absent: ['team/nobody'] },
    // Copies: read on the source, write on the destination
    { user: 'writer', what: 'CopyObject team/ → team/', run: copy('team/a.txt', 'team/copy'), expect: 'ok', check: async () => expect(await exists('team/copy')).toBe(true) },
    { user: 'writer', what: 'CopyObject forbidden source shared/ → team/', run: copy('shared/a.txt', 'team/copy-shared'), expect: 'AccessDenied', absent: ['team/copy-shared'] },
    { user: 'writer', what: 'CopyObject team/ → forbidden destination shared/', run: copy('team/a.txt', 'shared/copy'), expect: 'AccessDenied', absent: ['shared/copy'] },
    { user: 'restricted', what: 'CopyObject denied source secret/ → other/', run: copy('secret/a.txt', 'other/copy'), expect: 'AccessDenied', absent: ['other/copy'] },
    { user: 'reader', what: 'CopyObject shared/ → shared/ (no write)', run: copy('shared/a.txt', 'shared/copy-r'), expect: 'AccessDenied', absent: ['shared/copy-r'] },
    // Multipart steps, each checked
    {
      user: 'writer',
      what: 'CreateMultipartUpload team/',
      run: (s3) => s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'team/mp-w' })),
      expect: 'ok',
    },
    {
      user: 'writer',
      what: 'CreateMultipartUpload shared/',
      run: (s3) => s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'shared/mp-w' })),
      expect: 'AccessDenied',
    },
    { user: 'writer', what: 'UploadPart team/', run: uploadPart('team/mp', 'team'), expect: 'ok' },
    { user: 'writer', what: 'UploadPart shared/', run: uploadPart('shared/mp', 'shared'), expect: 'AccessDenied' },
    { user: 'reader', what: 'UploadPart shared/ (no write)', run: uploadPart('shared/mp', 'shared'), expect: 'AccessDenied' },
    { user: 'writer', what: 'UploadPartCopy team/ → team/', run: uploadPartCopy('team/mp', 'team', 'team/a.txt'), expect: 'ok' },
    { user: 'writer', what: 'UploadPartCopy forbidden source shared/ → team/', run: uploadPartCopy('team/mp', 'team', 'shared/a.txt'), expect: 'AccessDenied' },
    { user: 'writer', what: 'UploadPartCopy team/ → forbidden destination shared/', run: uploadPartCopy('shared/mp', 'shared', 'team/a.txt'), expect: 'AccessDenied' },
    {
      user: 'writer',
      what: 'ListParts team/',
      run: listParts('team/mp', 'team'),
      expect: 'ok',
      check: (r) => expect((r as { Parts?: { PartNumber?: number }[] }).Parts?.map((p) => p.PartNumber)).toEqual([2, 3]),
    },
    { user: 'reader', what: 'ListParts team/', run: listParts('team/mp', 'team'), expect: 'AccessDenied' },
    { user: 'writer', what: 'ListParts shared/', run: listParts('shared/mp', 'shared'), expect: 'AccessDenied' },
    { user: 'reader', what: 'CompleteMultipartUpload team/ (no write)', run: complete('team/mp-complete', 'teamComplete'), expect: 'AccessDenied', absent: ['team/mp-complete'] },
    {
      user: 'writer',
      what: 'CompleteMultipartUpload team/',
      run: complete('team/mp-complete', 'teamComplete'),
      expect: 'ok',
      check: async () => expect(await exists('team/mp-complete')).toBe(true),
    },
    { user: 'reader', what: 'AbortMultipartUpload shared/ (not granted)', run: abort('shared/mp', 'shared'), expect: 'AccessDenied' },
    { user: 'writer', what: 'AbortMultipartUpload shared/', run: abort('shared/mp', 'shared'), expect: 'AccessDenied' },
    { user: 'writer', what: 'AbortMultipartUpload team/', run: abort('team/mp-abort', 'teamAbort'), expect: 'ok' },
    // Deletes
    { user: 'reader', what: 'DeleteObject shared/ (no delete)', run: (s3) => s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'shared/a.txt' })), expect: 'AccessDenied', present: ['shared/a.txt'] },
    { user: 'writer', what: 'DeleteObject other/', run: (s3) => s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'other/a.txt' })), expect: 'AccessDenied', present: ['other/a.txt'] },
    {
      user: 'writer',
      what: 'DeleteObject team/',
      run: (s3) => s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'team/del1' })),
      expect: 'ok',
      check: async () => expect(await exists('team/del1')).toBe(false),
    },
    {
      user: 'writer',
      what: 'DeleteObjects with allowed and forbidden keys (per-key AccessDenied)',
      run: (s3) =>
        s3.send(
          new DeleteObjectsCommand({
            Bucket: BUCKET,
            Delete: { Objects: [{ Key: 'team/del2' }, { Key: 'shared/a.txt' }, { Key: 'other/a.txt' }] },
          })
        ),
      expect: 'ok',
      present: ['shared/a.txt', 'other/a.txt'],
      check: async (r) => {
        const result = r as { Deleted?: { Key?: string }[]; Errors?: { Key?: string; Code?: string }[] }
        expect(result.Deleted?.map((d) => d.Key)).toEqual(['team/del2'])
        expect(result.Errors?.map((e) => [e.Key, e.Code]).sort()).toEqual([
          ['other/a.txt', 'AccessDenied'],
          ['shared/a.txt', 'AccessDenied'],
        ])
        expect(await exists('team/del2')).toBe(false)
      },
    },
    {
      user: 'nobody',
      what: 'DeleteObjects with only forbidden keys',
      run: (s3) => s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: 'team/a.txt' }] } })),
      expect: 'ok',
      present: ['team/a.txt'],
      check: (r) => expect((r as { Errors?: { Code?: string }[] }).Errors?.map((e) => e.Code)).toEqual(['AccessDenied']),
    },
  ]

  it.each(rows.map((row) => [`${row.user}: ${row.what} → ${row.expect}`, row] as const))('%s', async (_name, row) => {
    const s3 = clients[row.user]
    if (row.expect === 'ok') {
      const result = await row.run(s3)
      await row.check?.(result)
    } else {
      const err = await sdkError(row.run(s3))
      expect(err.status).toBe(403)
      // HEAD answers carry no body, so the SDK cannot see the code.
      if (!/^Head/.test(row.what)) expect(err.name).toBe('AccessDenied')
    }
    for (const key of row.absent ?? []) expect(await exists(key), `${key} must not exist`).toBe(false)
    for (const key of row.present ?? []) expect(await exists(key), `${key} must still exist`).toBe(true)
  })

  it('denied writes left the multipart upload they targeted untouched', async () => {
    const parts = await admin().send(new ListPartsCommand({ Bucket: BUCKET, Key: 'shared/mp', UploadId: uploads.shared }))
    expect(parts.Parts ?? []).toEqual([])
    const uploadsLeft = await admin().send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))
    expect(uploadsLeft.Uploads?.map((u) => u.Key)).not.toContain('shared/mp-w')
    expect(uploadsLeft.Uploads?.map((u) => u.Key)).toContain('shared/mp')
    const buckets = await admin().send(new ListBucketsCommand({}))
    expect(buckets.Buckets?.map((b) => b.Name)).not.toContain('authz-writer')
  })

  it('audits a denial as a policy-denied security event with the user and operation', () => {
    const records = requestRecords(gw.output())
    const denied = records.filter((r) => r.securityEvent === 'policy-denied')
    expect(denied.length).toBeGreaterThan(0)
    expect(denied).toContainEqual(expect.objectContaining({ user: 'writer', operation: 'CopyObject', status: 403, errorCode: 'AccessDenied' }))
    expect(denied).toContainEqual(expect.objectContaining({ user: 'writer', operation: 'DeleteObjects', status: 200 }))
    // Failed authentication is still told apart from policy denial.
    expect(records.filter((r) => r.securityEvent === 'auth-failure')).toEqual([])
  })
})
