import { createHash } from 'node:crypto';
import { instanceKey } from '../config/instance-key';
import type {
  Config,
  Connection,
  OAuthIntegration,
  PatTarget,
  PostgresInstance,
  Targets,
} from '../config/schema';
import { InvalidRequestError, NotAuthorizedError } from './errors';
import { parsedGrant, parsePrincipal, principalMatches, revocationPrincipal } from './principal';
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
  | {
      readonly tokenType: 'pat';
      readonly targetName: string;
      readonly target: PatTarget;
      readonly role: string;
      /** The lease asked for (or the target's default), within the target's maximum. */
      readonly leaseSeconds: number;
      /** Who holds the token: a role or user (lower case, as the revocation list names it), or `direct`. */
      readonly holder: string;
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
          cacheKey: `postgres\u0000${instance.connection}\u0000${key}\u0000${request.username}\u0000${settingsDigest('sign-in', config.connections[instance.connection])}`,
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
          cacheKey: `jwt\u0000${request.connection}\u0000${settingsDigest('jwt', connection)}`,
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
          cacheKey: `oauth\u0000${request.integration}\u0000${scopes.join(' ')}\u0000${settingsDigest('oauth', integration)}`,
          resolved: { integration: request.integration, scopes },
        };
      }
      break;
    }
    case 'pat': {
      const target = Object.hasOwn(config.patTargets, request.target)
        ? config.patTargets[request.target]
        : undefined;
      if (!target) break;
      // A PAT is its holder's own: never shared between principals (a session stands for its role).
      const holder = caller.kind === 'direct' ? 'direct' : revocationPrincipal(caller.principalArn);
      if (!holder) break;
      const granted = targets.pat.some(
        (g) =>
          g.target === request.target &&
          g.roles.includes(request.role) &&
          target.roles.includes(request.role),
      );
      if (!granted) break;
      const leaseSeconds = request.lifetimeSeconds ?? target.leaseSeconds;
      if (leaseSeconds > target.maxLeaseSeconds)
        throw new InvalidRequestError(
          `lifetimeSeconds must be at most ${target.maxLeaseSeconds} for PAT target "${request.target}".`,
        );
      return {
        tokenType: 'pat',
        targetName: request.target,
        target,
        role: request.role,
        leaseSeconds,
        holder,
        cacheKey: `pat\u0000${holder}\u0000${request.target}\u0000${request.role}\u0000${settingsDigest('sign-in', config.connections[target.connection])}\u0000${target.user}`,
        resolved: { target: request.target, user: target.user, role: request.role },
      };
    }
  }
  throw new NotAuthorizedError();
}

/**
 * A digest of the settings that decide a target's token: who the vendor signs in to Snowflake as
 * (account, user, role, session, API base URL, key pair or workload identity) and, for an OAuth token,
 * whom it asks and as what. Part of the cache key, so a token minted under other settings is never
 * served for these: a changed setting is a miss, in this container and in the shared cache. Where a key
 * is (a path, a secret id) is left out for Postgres and OAuth tokens (a rotated or moved key signs in as
 * the same user); a key-pair JWT is the key's own signature, so its key source is in. Computed once per
 * settings object (the config is immutable): a cached vend pays a map lookup, not a hash.
 */
const digests = new WeakMap<object, Map<string, string>>();

type DigestKind = 'sign-in' | 'jwt' | 'oauth';

function settingsDigest(kind: DigestKind, settings: Connection | OAuthIntegration | undefined): string {
  if (!settings) return '-';
  let byKind = digests.get(settings);
  if (!byKind) {
    byKind = new Map();
    digests.set(settings, byKind);
  }
  let digest = byKind.get(kind);
  if (digest === undefined) {
    digest = createHash('sha256')
      .update(canonicalJson(deciding(kind, settings)))
      .digest('base64url')
      .slice(0, 22);
    byKind.set(kind, digest);
  }
  return digest;
}

function deciding(kind: DigestKind, settings: Connection | OAuthIntegration): unknown {
  if (kind === 'oauth') {
    const i = settings as OAuthIntegration;
    const { key: _key, ...assertion } = i.assertion ?? { key: undefined };
    return {
      grant: i.grant,
      tokenEndpoint: i.tokenEndpoint,
      clientAuthMethod: i.clientAuthMethod,
      clientId: i.clientId,
      assertion: i.assertion ? assertion : null,
      accessTokenValiditySeconds: i.accessTokenValiditySeconds ?? null,
    };
  }
  const c = settings as Connection;
  const signIn = {
    account: c.account,
    user: c.user,
    role: c.role ?? null,
    warehouse: c.warehouse ?? null,
    database: c.database ?? null,
    schema: c.schema ?? null,
    apiBaseUrl: c.apiBaseUrl ?? null,
    signIn: c.workloadIdentity ? { workloadIdentity: c.workloadIdentity } : 'keypair',
  };
  return kind === 'jwt'
    ? { ...signIn, key: c.key ?? null, jwtLifetimeSeconds: c.jwtLifetimeSeconds }
    : signIn;
}

/** JSON with object keys sorted: the same settings give the same text, whatever order they were written in. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
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
      pat: grants.flatMap((g) => g.pat),
    };
    if (byPrincipal.size >= 10_000) byPrincipal.clear(); // bounded: callers cannot grow it without limit
    byPrincipal.set(caller.principalArn, targets);
  }
  return targets;
}
