/**
 * @module auth/policy
 * IAM-style policy documents, the subset people write for S3: Allow/Deny statements over actions
 * (`s3:GetObject`, `s3:*`, …) and S3 ARNs with `*`/`?` wildcards, and the `s3:prefix` condition of
 * listings. Pure and runtime-neutral: documents are validated once at startup, then evaluated per
 * request. Anything outside the subset (NotAction, Principal, other condition keys) is refused at
 * parse time rather than ignored, since ignoring a restriction would grant more than was written.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
 */

export type Effect = 'Allow' | 'Deny'
export type Decision = 'allow' | 'deny'

/** The condition keys this gateway supplies; absent keys fail any condition on them, as in IAM. */
export interface PolicyContext {
  's3:prefix'?: string
}

type ConditionKey = keyof PolicyContext
type ConditionOperator = 'StringLike' | 'StringEquals'

interface Condition {
  operator: ConditionOperator
  key: ConditionKey
  values: string[]
}

export interface Statement {
  sid?: string
  effect: Effect
  actions: RegExp[]
  resources: RegExp[]
  /** All must hold (IAM ANDs operators and keys; the values of one key are ORed). */
  conditions: Condition[]
}

export interface Policy {
  name: string
  statements: Statement[]
}

export interface AccessRequest {
  /** e.g. `s3:GetObject`. */
  action: string
  /** e.g. `arn:aws:s3:::bucket/key`, or `*` for actions on no resource (ListAllMyBuckets). */
  resource: string
  context?: PolicyContext
}

/** Everything, for the embedded default's development user and for tests that predate policies. */
export const FULL_ACCESS_DOCUMENT = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }],
} as const

export class PolicyError extends Error {
  constructor(
    readonly policy: string,
    /** JSON path inside the document, e.g. `Statement[1].Resource[0]`. */
    readonly path: string,
    readonly problem: string
  ) {
    super(`policy "${policy}": ${path}: ${problem}`)
    this.name = 'PolicyError'
  }
}

/** IAM's two published grammar versions; 2008-10-17 lacks policy variables, which we do not support anyway. */
const VERSIONS = new Set(['2012-10-17', '2008-10-17'])
const STATEMENT_FIELDS = new Set(['Sid', 'Effect', 'Action', 'Resource', 'Condition'])
const OPERATORS = new Set<string>(['StringLike', 'StringEquals'])
const CONDITION_KEYS = new Set<string>(['s3:prefix'])
/** `arn:aws:s3:::` (or another partition's) followed by a bucket pattern. */
const S3_ARN = /^arn:(aws|aws-cn|aws-us-gov|\*):s3:::[^/]+/
const ACTION = /^(\*|[A-Za-z0-9-]+:[A-Za-z0-9*?]+)$/

type Json = Record<string, unknown>

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A string or a non-empty array of non-empty strings (IAM accepts both forms for Action and Resource). */
function stringList(value: unknown, fail: (path: string, problem: string) => never, path: string): string[] {
  const list = Array.isArray(value) ? value : [value]
  if (list.length === 0) fail(path, 'must not be empty')
  return list.map((item, i) => {
    if (typeof item !== 'string' || item === '') {
      fail(Array.isArray(value) ? `${path}[${i}]` : path, 'must be a non-empty string')
    }
    return item
  })
}

/**
 * `*` matches any run of characters (including `/` and none), `?` exactly one, as in IAM's
 * ARN and StringLike matching.
 */
export function wildcardPattern(pattern: string, caseInsensitive: boolean): RegExp {
  const body = pattern
    .split('')
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('')
  return new RegExp(`^${body}$`, caseInsensitive ? 'is' : 's')
}

function parseConditions(value: unknown, fail: (path: string, problem: string) => never, path: string): Condition[] {
  if (value === undefined) return []
  if (!isObject(value)) fail(path, 'must be an object')
  const conditions: Condition[] = []
  for (const [operator, block] of Object.entries(value)) {
    if (!OPERATORS.has(operator)) fail(`${path}.${operator}`, 'unsupported condition operator (StringLike and StringEquals are)')
    if (!isObject(block)) fail(`${path}.${operator}`, 'must be an object')
    for (const [key, values] of Object.entries(block)) {
      // IAM matches condition key names case-insensitively.
      const normalized = key.toLowerCase()
      if (!CONDITION_KEYS.has(normalized)) fail(`${path}.${operator}.${key}`, 'unsupported condition key (s3:prefix is)')
      conditions.push({
        operator: operator as ConditionOperator,
        key: normalized as ConditionKey,
        values: conditionValues(values, fail, `${path}.${operator}.${key}`),
      })
    }
  }
  return conditions
}

function conditionValues(value: unknown, fail: (path: string, problem: string) => never, path: string): string[] {
  const list = Array.isArray(value) ? value : [value]
  if (list.length === 0) fail(path, 'must not be empty')
  return list.map((item, i) => {
    // An empty prefix is meaningful (a listing of the whole bucket), unlike an empty action.
    if (typeof item !== 'string') fail(Array.isArray(value) ? `${path}[${i}]` : path, 'must be a string')
    return item
  })
}

/** Validates a policy document; throws a PolicyError naming the policy and the JSON path of the problem. */
export function parsePolicy(name: string, document: unknown): Policy {
  const fail = (path: string, problem: string): never => {
    throw new PolicyError(name, path, problem)
  }
  if (!isObject(document)) fail('(top level)', 'must be an object')
  const doc = document as Json
  for (const field of Object.keys(doc)) {
    if (field !== 'Version' && field !== 'Statement' && field !== 'Id') fail(field, 'unknown field')
  }
  if (doc.Version !== undefined && (typeof doc.Version !== 'string' || !VERSIONS.has(doc.Version))) {
    fail('Version', 'must be "2012-10-17"')
  }
  // IAM also accepts a single statement object in place of the array.
  const raw = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement === undefined ? [] : [doc.Statement]
  if (raw.length === 0) fail('Statement', 'must list at least one statement')
  const statements = raw.map((entry, i): Statement => {
    const path = Array.isArray(doc.Statement) ? `Statement[${i}]` : 'Statement'
    if (!isObject(entry)) fail(path, 'must be an object')
    const s = entry as Json
    for (const field of Object.keys(s)) {
      if (!STATEMENT_FIELDS.has(field)) {
        fail(`${path}.${field}`, `unsupported field (supported: ${[...STATEMENT_FIELDS].join(', ')})`)
      }
    }
    if (s.Sid !== undefined && typeof s.Sid !== 'string') fail(`${path}.Sid`, 'must be a string')
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') fail(`${path}.Effect`, 'must be "Allow" or "Deny"')
    if (s.Action === undefined) fail(`${path}.Action`, 'is required')
    if (s.Resource === undefined) fail(`${path}.Resource`, 'is required')
    const item = (field: string, j: number) => (Array.isArray(s[field]) ? `${path}.${field}[${j}]` : `${path}.${field}`)
    const actions = stringList(s.Action, fail, `${path}.Action`).map((action, j) => {
      if (!ACTION.test(action)) fail(item('Action', j), 'must be "*" or "service:Action" (e.g. "s3:GetObject")')
      return wildcardPattern(action, true)
    })
    const resources = stringList(s.Resource, fail, `${path}.Resource`).map((resource, j) => {
      // Only S3 resources can ever match here: a malformed ARN would be a rule that silently never applies.
      if (resource !== '*' && !S3_ARN.test(resource)) {
        fail(item('Resource', j), 'must be "*" or an S3 ARN (e.g. "arn:aws:s3:::bucket/*")')
      }
      return wildcardPattern(resource, false)
    })
    return {
      sid: s.Sid as string | undefined,
      effect: s.Effect as Effect,
      actions,
      resources,
      conditions: parseConditions(s.Condition, fail, `${path}.Condition`),
    }
  })
  return { name, statements }
}

function conditionHolds(condition: Condition, context: PolicyContext): boolean {
  const actual = context[condition.key]
  if (actual === undefined) return false
  return condition.values.some((expected) =>
    condition.operator === 'StringEquals' ? actual === expected : wildcardPattern(expected, false).test(actual)
  )
}

function applies(statement: Statement, request: AccessRequest): boolean {
  return (
    statement.actions.some((a) => a.test(request.action)) &&
    statement.resources.some((r) => r.test(request.resource)) &&
    statement.conditions.every((c) => conditionHolds(c, request.context ?? {}))
  )
}

/**
 * IAM's evaluation for one identity: an explicit Deny in any policy wins, otherwise any Allow
 * allows, otherwise the implicit default is deny.
 */
export function evaluate(policies: readonly Policy[], request: AccessRequest): Decision {
  let allowed = false
  for (const policy of policies) {
    for (const statement of policy.statements) {
      if (!applies(statement, request)) continue
      if (statement.effect === 'Deny') return 'deny'
      allowed = true
    }
  }
  return allowed ? 'allow' : 'deny'
}
