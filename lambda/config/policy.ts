import { instanceKey } from './instance-key';
import type { Config } from './schema';

// Derived from a validated config, without the schema: the Lambda entries use these on a config CDK
// validated at synth (see sealed.ts) and never build the zod schema.

/**
 * How many distinct tokens the grants allow: Postgres (connection, instance, user), JWT connections and
 * OAuth (integration, scope set) targets. A request for a subset of a grant's scopes is one more.
 */
export function grantableTargets(
  config: Pick<Config, 'grants' | 'directInvoke' | 'postgresInstances'>,
): number {
  const keys = new Set<string>();
  for (const targets of [...config.grants, config.directInvoke]) {
    for (const target of targets.postgres) {
      for (const instance of config.postgresInstances) {
        if (instanceKey(instance.instance) !== instanceKey(target.instance)) continue;
        if (target.connection && instance.connection !== target.connection) continue;
        for (const user of target.usernames)
          keys.add(`p\u0000${instance.connection}\u0000${instanceKey(instance.instance)}\u0000${user}`);
      }
    }
    for (const connection of targets.snowflakeJwt) keys.add(`j\u0000${connection}`);
    for (const target of targets.oauth)
      keys.add(`o\u0000${target.integration}\u0000${[...target.scopes].sort().join(' ')}`);
  }
  // A PAT is per holder: each grant's principal holds its own for each target and role.
  config.grants.forEach((grant, i) => {
    for (const t of grant.pat)
      for (const role of t.roles) keys.add(`t\u0000${i}\u0000${t.target}\u0000${role}`);
  });
  for (const t of config.directInvoke.pat)
    for (const role of t.roles) keys.add(`t\u0000direct\u0000${t.target}\u0000${role}`);
  return keys.size;
}

/**
 * Tokens one container keeps: `cache.maxEntries`, or twice the grantable targets (room for scope subsets),
 * at least 1000, at most 100,000.
 *
 * @example
 * ```ts
 * new TokenCache({ maxEntries: cacheEntriesFor(config) });
 * ```
 */
export function cacheEntriesFor(config: Config): number {
  return config.cache.maxEntries ?? Math.min(100_000, Math.max(1000, 2 * grantableTargets(config)));
}
