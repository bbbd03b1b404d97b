/**
 * @module auth/principal
 * Who is calling. Authentication schemes produce a Principal; authorization (policies looked up by
 * user and groups) and the audit log read it. Secrets never live here.
 */
import type { Policy } from './policy.js'

export type AuthMethod = 'sigv4-header' | 'sigv4-presigned' | 'basic' | 'mtls' | 'anonymous'

export interface Principal {
  user: string
  groups: string[]
  accessKeyId?: string
  method: AuthMethod
  /**
   * Set for users from a directory: they get only their groups' policies, never those of a local
   * user who happens to have the same name.
   */
  directory?: 'ldap'
  /**
   * Temporary credentials' session policy: it can only narrow what the user's own policies allow
   * (both must allow), as in AWS.
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session
   */
  sessionPolicy?: Policy
}
