import { instanceKey } from '../config/instance-key';
import type { Config, Connection, OAuthIntegration, PostgresInstance, Targets } from '../config/schema';
import { NotAuthorizedError } from './errors';
import { parsedGrant, parsePrincipal, principalMatches } from './principal';
import type { Caller, VendRequest } from './request';

/** A request the policy allowed, resolved against the config. */
export type AuthorizedTarget = (
  | {
      readonly tokenType: 'postgres';
      readonly instance: PostgresInstance;
      readonly username: string;
      readonly cacheKey: string;
    }
  | {
      readonly tokenType: 'snowflake-jwt';
      readonly connectionName: string;
      readonly connection: Connection;
      readonly cacheKey: string;
    }
  | {
      readonly tokenType: 'oauth';
      readonly integrationName: string;
      readonly integration: OAuthIntegration;
      /** Never empty: what is sent to the token endpoint, sorted and de-duplicated. */
      readonly scopes: readonly string[];
      readonly cacheKey: string;
    }
) & {
  /** The configured target in the config's own spelling, for the audit record. */
  readonly resolved: Readonly<Record<string, string | readonly string[]>>;
};

/**
 * Decide whether `caller` may have what `request` asks for. Deny by default: an HTTP caller gets the
 * union of the grants naming its principal, a direct invoke gets `directInvoke`. Postgres user names
 * are compared exactly (case-sensitive); instance names as Snowflake resolves them. Every denial is
 * the same {@link NotAuthorizedError}, so a denial does not reveal which targets exist.
 *
 * @example
 * ```ts
 * const target = authorize(config, { kind: 'http', principalArn }, { tokenType: 'postgres', instance: 'reporting_server', username: 'reporting_user' });
 * ```
 */
export function authorize(config: Config, caller: Caller, request: VendRequest): AuthorizedTarget {
  const targets = targetsOf(config, caller);
  switch (request.tokenType) {
    case 'postgres': {
      const key = instanceKey(request.instance);
      for (const target of targets.postgres) {
        if (instanceKey(target.instance) !== key || !target.usernames.includes(request.username)) continue;
        const connection = target.connection ?? request.connection;
        if (request.connection && target.connection && request.connection !== target.connection) continue;
        const instances = config.postgresInstances.filter(
          (p) => instanceKey(p.instance) === key && (!connection || p.connection === connection),
        );
        if (instances.length !== 1) continue;
        const instance = instances[0]!;
        return {
          tokenType: 'postgres',
          instance,
          username: request.username,
          cacheKey: `postgres\u0000${instance.connection}\u0000${key}\u0000${request.username}`,
          resolved: {
            connection: instance.connection,
            instance: instance.instance,
            username: request.username,
          },
        };
      }
      break;
    }
    case 'snowflake-jwt': {
      const connection = config.connections[request.connection];
      if (
        connection &&
        Object.hasOwn(config.connections, request.connection) &&
        targets.snowflakeJwt.includes(request.connection)
      ) {
        return {
          tokenType: 'snowflake-jwt',
          connectionName: request.connection,
          connection,
          cacheKey: `jwt\u0000${request.connection}`,
          resolved: { connection: request.connection },
        };
      }
      break;
    }
    case 'oauth': {
      const integration = Object.hasOwn(config.oauthIntegrations, request.integration)
        ? config.oauthIntegrations[request.integration]
        : undefined;
      if (!integration?.enabled) break;
      // Never vacuous: the scopes sent upstream are an explicit, non-empty subset of both the grant and
      // the integration's allowedScopes. An empty list would make the token endpoint pick its defaults.
      const allowed = new Set(integration.allowedScopes);
      for (const target of targets.oauth) {
        if (target.integration !== request.integration) continue;
        const granted = new Set(target.scopes.filter((s) => allowed.has(s)));
        const scopes = [...new Set(request.scopes ?? granted)].sort();
        if (scopes.length === 0 || !scopes.every((s) => granted.has(s))) continue;
        return {
          tokenType: 'oauth',
          integrationName: request.integration,
          integration,
          scopes,
          cacheKey: `oauth\u0000${request.integration}\u0000${scopes.join(' ')}`,
          resolved: { integration: request.integration, scopes },
        };
      }
      break;
    }
  }
  throw new NotAuthorizedError();
}

// The union of a principal's grants depends only on the (immutable) config and the ARN: computed once.
const grantedTargets = new WeakMap<Config, Map<string, Targets>>();

function targetsOf(config: Config, caller: Caller): Targets {
  if (caller.kind === 'direct') return config.directInvoke;
  let byPrincipal = grantedTargets.get(config);
  if (!byPrincipal) {
    byPrincipal = new Map();
    grantedTargets.set(config, byPrincipal);
  }
  let targets = byPrincipal.get(caller.principalArn);
  if (!targets) {
    const principal = parsePrincipal(caller.principalArn);
    const grants = config.grants.filter((g) => principalMatches(principal, parsedGrant(g.principal)));
    targets = {
      postgres: grants.flatMap((g) => g.postgres),
      snowflakeJwt: grants.flatMap((g) => g.snowflakeJwt),
      oauth: grants.flatMap((g) => g.oauth),
    };
    if (byPrincipal.size >= 10_000) byPrincipal.clear(); // bounded: callers cannot grow it without limit
    byPrincipal.set(caller.principalArn, targets);
  }
  return targets;
}
