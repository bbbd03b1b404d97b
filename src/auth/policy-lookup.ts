/**
 * @module auth/policy-lookup
 * The policies in force for an authenticated caller, from the configuration: shared by the Node and
 * Worker entries.
 */
import { effectivePolicies, type Config } from '../config.js'
import type { Policy } from './policy.js'
import type { Principal } from './principal.js'

/** DNs compare case-insensitively and regardless of spaces around separators (`CN=Staff, OU=…`). */
function groupKey(name: string): string {
  return name.includes('=') ? name.toLowerCase().replace(/\s*([,=+])\s*/g, '$1') : name
}

/**
 * Policies by user name (a name listed twice gets both entries' policies). Directory users get their
 * groups' policies only, the groups named in `groups` by cn or by DN.
 */
export function policyLookup(config: Config): (principal: Principal) => readonly Policy[] {
  const byUser = new Map<string, Policy[]>()
  for (const user of config.users) {
    byUser.set(user.name, [...(byUser.get(user.name) ?? []), ...effectivePolicies(config, user)])
  }
  const groupNames = new Map(Object.keys(config.groups).map((name) => [groupKey(name), name]))
  return (principal) => {
    if (principal.directory !== 'ldap') return byUser.get(principal.user) ?? []
    const groups = principal.groups.flatMap((g) => groupNames.get(groupKey(g)) ?? [])
    return effectivePolicies(config, { groups, policies: [] })
  }
}
