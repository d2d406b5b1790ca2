import type {
  OAuthTokenResponse,
  PatResponse,
  PostgresTokenResponse,
  SnowflakeJwtResponse,
  TokenResponse,
} from '../api/responses';
import { tokenId } from '../audit/token-id';
import { ConfigError } from '../config/errors';
import { cacheEntriesFor } from '../config/policy';
import type { Config, Connection } from '../config/schema';
import type { Signer } from '../keys/signer';
import type { OAuthTokenSource } from '../oauth/access-token';
import type { PatIssuer, ProgrammaticAccessToken } from '../pat/issuer';
import type { KeyPairJwt } from '../snowflake/jwt';
import { mintKeyPairJwt } from '../snowflake/jwt';
import { mintPostgresAccessToken, type PostgresAccessToken } from '../snowflake/postgres-token';
import type { SqlApiClient } from '../snowflake/sql-api';
import type { TokenLifetime } from '../ttl';
import { tokenLifetime } from '../ttl';
import { type CacheOutcome, TokenCache } from './cache';
import { type Codec, jsonCodec } from './codec';
import type { LeaseRecorder } from './leases';
import { type AuthorizedTarget, authorize } from './policy';
import type { Caller, VendRequest } from './request';
import type { Revocations } from './revocations';
import type { SharedTokenCache } from './shared-cache';

/** The SQL API client and signer of one configured Snowflake connection. */
export interface SnowflakeConnection {
  readonly name: string;
  readonly config: Connection;
  readonly sql: SqlApiClient;
  /** The key the connection signs with; none for a keyless (workload identity) connection. */
  readonly signer?: Signer;
}

export interface TokenVendorDeps {
  readonly config: Config;
  /** The runtime of a configured connection (created lazily by the composition root). */
  readonly connection: (name: string) => SnowflakeConnection;
  readonly oauth: OAuthTokenSource;
  /** The fleet-wide level of the cache, when the config turns it on (Postgres and OAuth tokens). */
  readonly shared?: SharedTokenCache;
  /** The revocation list, when there is a table to read it from: checked on every vend, before either cache. */
  readonly revocations?: Revocations;
  /** Who holds what (config `leases`): each (principal, token) pair written once per container. */
  readonly leases?: LeaseRecorder;
  /** The PAT issuer, when the config has PAT targets (loaded on first use: no other function pays for it). */
  readonly pat?: () => Promise<PatIssuer>;
  readonly now?: () => number;
}

export type { OAuthTokenResponse, PatResponse, PostgresTokenResponse, SnowflakeJwtResponse, TokenResponse };

/** What the audit trail records about a vend: everything but the token. */
export interface VendAudit {
  /** The configured target the request resolved to (the policy's spelling, not the caller's). */
  readonly resolved: Readonly<Record<string, string | readonly string[]>>;
  readonly cache: CacheOutcome;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly tokenId: string;
  readonly statementHandle?: string;
  readonly snowflakeRequestId?: string;
  /** How the vendor signed in to Snowflake for this token: a key pair or its workload identity. */
  readonly snowflakeAuth?: 'keypair' | 'wif';
  /** Time spent minting upstream (Snowflake, KMS, OAuth), for misses. */
  readonly upstreamMs?: number;
}

export interface VendOutcome {
  readonly response: TokenResponse;
  readonly audit: VendAudit;
}

/** Whether a cached token may be served: false for one the revocation list taints. */
type Accept = (value: Minted<{ readonly issuedAt: Date }>) => boolean;

/** A minted token as cached: the token, its id and what the audit trail needs. */
interface Minted<T> {
  readonly token: T;
  readonly tokenId: string;
  readonly expiresAt: Date;
  readonly upstreamMs: number;
}

/**
 * The token vendor: policy first, then the cache (with single-flight), then a mint through the SQL
 * API, the signer or the OAuth token endpoint. Every answer carries TTL metadata computed at the
 * moment of the answer.
 *
 * @example
 * ```ts
 * const { response } = await vendor.vend({ kind: 'http', principalArn }, { tokenType: 'postgres', instance: 'reporting_server', username: 'reporting_user' }, { deadline });
 * ```
 */
export class TokenVendor {
  readonly #deps: TokenVendorDeps;
  readonly #cache: TokenCache;
  /** The shared level and its codec, built once (not per vend); undefined without `cache.shared`. */
  readonly #sharedLevel: { cache: SharedTokenCache; codec: Codec<unknown> } | undefined;
  readonly #now: () => number;

  constructor(deps: TokenVendorDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#sharedLevel = deps.shared ? { cache: deps.shared, codec: jsonCodec() } : undefined;
    this.#cache = new TokenCache({
      maxEntries: cacheEntriesFor(deps.config),
      enabled: deps.config.cache.enabled,
      now: this.#now,
    });
  }

  /** Throws NotAuthorizedError, SnowflakeError, KeyMaterialError, OAuthError, … (see `public-error.ts`). */
  async vend(
    caller: Caller,
    request: VendRequest,
    options: { readonly deadline: number },
  ): Promise<VendOutcome> {
    const target = authorize(this.#deps.config, caller, request);
    // After the grant check (a principal without a grant learns nothing of any entry), before either cache.
    const verdict = this.#deps.revocations?.check(caller, target);
    const taintedBefore =
      verdict === undefined
        ? Number.NEGATIVE_INFINITY
        : (verdict instanceof Promise ? await verdict : verdict).taintedBefore;
    const accept = (value: Minted<{ readonly issuedAt: Date }>) =>
      value.token.issuedAt.getTime() > taintedBefore;
    if (target.tokenType === 'pat') return this.#pat(target, caller, options.deadline, taintedBefore);
    const outcome = await this.#mint(target, options.deadline, accept);
    await this.#deps.leases?.record(caller, target, outcome.audit);
    return outcome;
  }

  #mint(
    target: Exclude<AuthorizedTarget, { tokenType: 'pat' }>,
    deadline: number,
    accept: Accept,
  ): Promise<VendOutcome> {
    switch (target.tokenType) {
      case 'postgres':
        return this.#postgres(target, deadline, accept);
      case 'snowflake-jwt':
        return this.#snowflakeJwt(target, accept);
      case 'oauth':
        return this.#oauth(target, deadline, accept);
    }
  }

  /**
   * A PAT: the holder's own, served from this container until its `refreshAt`, else from the lease table
   * (another container made it), else made now. Its lease is its record (pat/lease-store.ts), so the
   * lease recorder writes nothing for it.
   */
  async #pat(
    target: Extract<AuthorizedTarget, { tokenType: 'pat' }>,
    caller: Caller,
    deadline: number,
    taintedBefore: number,
  ): Promise<VendOutcome> {
    if (!this.#deps.pat)
      throw new ConfigError('PAT targets need the lease table and a KMS key (the stack provides both).');
    const issuer = await this.#deps.pat();
    const policy = this.#deps.config.tokens.pat;
    const connection = this.#deps.config.connections[target.target.connection];
    const { value, cache } = await this.#cache.get(
      target.cacheKey,
      policy.minRemainingSeconds * 1000,
      () =>
        this.#timed(() =>
          issuer.issue({
            holder: target.holder,
            caller: caller.kind === 'http' ? caller.principalArn : 'direct',
            targetName: target.targetName,
            connection: target.target.connection,
            user: target.target.user,
            role: target.role,
            blockedRoles: target.target.blockedRoles,
            leaseSeconds: target.leaseSeconds,
            refreshRatio: policy.refreshRatio,
            deadline,
            accept: (issuedAt) => issuedAt.getTime() > taintedBefore,
          }),
        ),
      deadline,
      undefined,
      // Never past its refreshAt, and never once tainted: the next request gets the holder a fresh one.
      (v) =>
        v.token.issuedAt.getTime() > taintedBefore &&
        this.#now() < (v.token as ProgrammaticAccessToken).refreshAt.getTime(),
    );
    const pat: ProgrammaticAccessToken = value.token;
    return {
      response: {
        tokenType: 'programmatic-access-token',
        token: pat.token,
        target: target.targetName,
        account: connection?.account ?? '',
        user: pat.user,
        role: pat.role,
        tokenName: pat.name,
        ...this.#ttl(pat, policy.refreshRatio),
        refreshAt: pat.refreshAt,
      },
      audit: {
        ...auditOf(target, value, cache),
        ...(pat.statementHandle ? { statementHandle: pat.statementHandle } : {}),
        ...(pat.requestId ? { snowflakeRequestId: pat.requestId } : {}),
        snowflakeAuth: this.#snowflakeAuth(target.target.connection),
      },
    };
  }

  async #postgres(
    target: Extract<AuthorizedTarget, { tokenType: 'postgres' }>,
    deadline: number,
    accept: Accept,
  ): Promise<VendOutcome> {
    const policy = this.#deps.config.tokens.postgres;
    const { value, cache } = await this.#cache.get(
      target.cacheKey,
      policy.minRemainingSeconds * 1000,
      () =>
        this.#timed(async () => {
          const { sql } = this.#deps.connection(target.instance.connection);
          return mintPostgresAccessToken(sql, {
            instance: target.instance.instance,
            username: target.username,
            deadline,
            refreshRatio: policy.refreshRatio,
            now: this.#now,
            queryTag: 'token-vendor',
          });
        }),
      deadline,
      this.#shared(),
      accept,
    );
    const token: PostgresAccessToken = value.token;
    const { instance } = target;
    return {
      response: {
        tokenType: 'snowflake-postgres',
        token: token.token,
        instance: instance.instance,
        username: token.username,
        ...this.#ttl(token, policy.refreshRatio),
        connection: { host: instance.host, port: instance.port, sslmode: instance.sslmode },
      },
      audit: {
        ...auditOf(target, value, cache),
        statementHandle: token.statementHandle,
        snowflakeRequestId: token.requestId,
        snowflakeAuth: this.#snowflakeAuth(instance.connection),
      },
    };
  }

  async #snowflakeJwt(
    target: Extract<AuthorizedTarget, { tokenType: 'snowflake-jwt' }>,
    accept: Accept,
  ): Promise<VendOutcome> {
    const policy = this.#deps.config.tokens.snowflakeJwt;
    const { value, cache } = await this.#cache.get(
      target.cacheKey,
      policy.minRemainingSeconds * 1000,
      () =>
        this.#timed(() =>
          mintKeyPairJwt({
            account: target.connection.account,
            user: target.connection.user,
            signer: this.#signerOf(target.connectionName),
            lifetimeSeconds: target.connection.jwtLifetimeSeconds,
            refreshRatio: policy.refreshRatio,
            now: this.#now,
          }),
        ),
      undefined,
      undefined,
      accept,
    );
    const jwt: KeyPairJwt = value.token;
    return {
      response: {
        tokenType: 'KEYPAIR_JWT',
        token: jwt.token,
        account: jwt.account,
        user: jwt.user,
        publicKeyFingerprint: jwt.publicKeyFingerprint,
        ...this.#ttl(jwt, policy.refreshRatio),
      },
      audit: { ...auditOf(target, value, cache), snowflakeAuth: 'keypair' },
    };
  }

  /** The shared level for a token type worth sharing (an upstream call per mint): Postgres and OAuth. */
  #shared<T>(): { cache: SharedTokenCache; codec: Codec<T> } | undefined {
    // The codec is JSON with dates: the same for every token type.
    return this.#sharedLevel as { cache: SharedTokenCache; codec: Codec<T> } | undefined;
  }

  /** How the vendor signs in to Snowflake on a connection, for the audit record. */
  #snowflakeAuth(connectionName: string): 'wif' | 'keypair' {
    return this.#deps.config.connections[connectionName]?.workloadIdentity ? 'wif' : 'keypair';
  }

  #signerOf(connectionName: string): Signer {
    const { signer } = this.#deps.connection(connectionName);
    // The config refuses a snowflake-jwt grant of a keyless connection; this is the runtime's backstop.
    if (!signer)
      throw new ConfigError(`Connection "${connectionName}" is keyless: it cannot sign a Snowflake JWT.`);
    return signer;
  }

  async #oauth(
    target: Extract<AuthorizedTarget, { tokenType: 'oauth' }>,
    deadline: number,
    accept: Accept,
  ): Promise<VendOutcome> {
    const policy = this.#deps.config.tokens.oauth;
    const { value, cache } = await this.#cache.get(
      target.cacheKey,
      policy.minRemainingSeconds * 1000,
      () => this.#timed(() => this.#deps.oauth(target.integrationName, target.scopes, deadline)),
      deadline,
      this.#shared(),
      accept,
    );
    return {
      response: {
        tokenType: 'oauth-access-token',
        token: value.token.token,
        integration: target.integrationName,
        scopes: [...value.token.scopes],
        ...this.#ttl(value.token, policy.refreshRatio),
      },
      audit: auditOf(target, value, cache),
    };
  }

  /** TTL metadata as of now: `expiresIn` counts down for cached tokens; `refreshAt` stays fixed. */
  #ttl(token: { issuedAt: Date; expiresAt: Date }, refreshRatio: number): TokenLifetime {
    return tokenLifetime(token.issuedAt.getTime(), token.expiresAt.getTime(), this.#now(), refreshRatio);
  }

  async #timed<T extends { token: string; expiresAt: Date }>(mint: () => Promise<T>): Promise<Minted<T>> {
    const started = this.#now();
    const token = await mint();
    return {
      token,
      tokenId: tokenId(token.token),
      expiresAt: token.expiresAt,
      upstreamMs: this.#now() - started,
    };
  }
}

function auditOf(
  target: AuthorizedTarget,
  value: Minted<{ issuedAt: Date; expiresAt: Date }>,
  cache: CacheOutcome,
): VendAudit {
  return {
    resolved: target.resolved,
    cache,
    issuedAt: value.token.issuedAt,
    expiresAt: value.expiresAt,
    tokenId: value.tokenId,
    ...(cache === 'miss' ? { upstreamMs: value.upstreamMs } : {}),
  };
}
