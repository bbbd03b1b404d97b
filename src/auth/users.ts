/**
 * @module auth/users
 * Local users from the configuration as a SigV4 credential lookup. Disabled keys do not exist as
 * far as clients can tell (InvalidAccessKeyId), as with a deleted key in IAM.
 */
import type { Principal } from './principal.js'
import type { Credential, CredentialLookup } from './sigv4/verify.js'

export interface LocalUser {
  name: string
  groups: string[]
  accessKeys: { id: string; secret: string; disabled: boolean }[]
}

export function localCredentials(users: LocalUser[]): CredentialLookup {
  const byKey = new Map<string, Credential>()
  for (const user of users) {
    for (const key of user.accessKeys) {
      if (key.disabled) continue
      const principal: Principal = { user: user.name, groups: user.groups, accessKeyId: key.id, method: 'sigv4-header' }
      byKey.set(key.id, { accessKeyId: key.id, secretAccessKey: key.secret, principal })
    }
  }
  return async (accessKeyId, sessionToken) => (sessionToken ? undefined : byKey.get(accessKeyId))
}
