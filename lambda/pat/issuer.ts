import { tokenId } from '../audit/token-id';
import { TokenVendorError } from '../errors';
import { SnowflakeError, SnowflakeErrorCode } from '../snowflake/errors';
import {
  addPat,
  countsTowardCap,
  patProblem,
  readPatReadiness,
  removePat,
} from '../snowflake/programmatic-access-token';
import type { SqlApiClient } from '../snowflake/sql-api';
import { type TokenLifetime, tokenLifetime } from '../ttl';
import type { PatLease, PatLeaseStore } from './lease-store';
import { parsePatName, patName } from './names';

/** A PAT as the vendor hands it out: the secret, the lease (`expiresAt`) and where it signs in. */
export interface ProgrammaticAccessToken extends TokenLifetime {
  readonly tokenType: 'programmatic-access-token';
  readonly token: string;
  readonly name: string;
  readonly user: string;
  readonly role: string;
  /** Set when this call made it: the ADD statement's handle and request id. */
  readonly statementHandle?: string;
  readonly requestId?: string;
}

/** The user holds as many PATs as Snowflake allows; `retryAfterSeconds` when one of this stack's leases ends soon. */
export class PatLimitError extends TokenVendorError {
  readonly retryAfterSeconds?: number;
  constructor(message: string, retryAfterSeconds?: number) {
    super('PAT_LIMIT', message);
    if (retryAfterSeconds !== undefined) this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * Snowflake refused the token for a reason an administrator fixes (the role is not granted to the user,
 * a service user under no network policy, a blocked role): the message names the fix.
 */
export class PatPreconditionError extends TokenVendorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PAT_PRECONDITION_FAILED', message, options);
  }
}

/** Another container is making this holder's token and did not finish in time: ask again shortly. */
export class PatBusyError extends TokenVendorError {
  constructor() {
    super('PAT_BUSY', "Another request is making this caller's token; retry after the Retry-After delay.");
  }
}

export interface PatIssuerOptions {
  readonly leases: PatLeaseStore;
  /** The SQL API client of a connection (the one a target names). */
  readonly sql: (connection: string) => SqlApiClient;
  /** This stack's tag in PAT names (`stackTag(namespace)`). */
  readonly tag: string;
  /** How often the sweeper runs: a lease's token is gone at most this long after the lease ends. */
  readonly sweepMs: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface PatRequest {
  readonly holder: string;
  /** The caller's ARN as API Gateway reported it (`direct` for a direct invoke). */
  readonly caller: string;
  readonly targetName: string;
  readonly connection: string;
  readonly user: string;
  readonly role: string;
  readonly blockedRoles: readonly string[];
  readonly leaseSeconds: number;
  readonly refreshRatio: number;
  readonly deadline: number;
  /** Whether a token issued at `issuedAt` may be handed out (false once the revocation list taints it). */
  readonly accept: (issuedAt: Date) => boolean;
}

/** How long one container may hold the right to mint a holder's token (its ADD and lease write). */
const CLAIM_MS = 30_000;
/** How often a container waiting for another's mint reads the lease (and tries the claim) again. */
const WAIT_POLL_MS = 250;
/** A Retry-After is given only when a lease ends (and its token is removed) within this. */
const NEAR_MS = 3_600_000;

/**
 * Issues PATs: one per holder, target and role at a time, fleet-wide. It hands a holder the PAT it already
 * holds until that PAT's `refreshAt` (from the lease table, whichever container made it); otherwise it
 * claims the mint, runs `ALTER USER … ADD PROGRAMMATIC ACCESS TOKEN … DAYS_TO_EXPIRY = 1`, and records
 * the lease (the secret sealed) before answering. A PAT whose lease could not be recorded is removed at
 * once; one left by a crash between the two is removed by the sweeper's reconciliation.
 *
 * @example
 * ```ts
 * const pat = await issuer.issue({ holder, caller, targetName: 'tableau', …, deadline, accept: () => true });
 * ```
 */
export class PatIssuer {
  readonly #o: PatIssuerOptions;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: PatIssuerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async issue(request: PatRequest): Promise<ProgrammaticAccessToken> {
    // While another container holds the claim, wait for the token it makes; when it lets the claim go
    // without one (Snowflake refused it, or it failed), claim it here and ask Snowflake for this request's
    // own answer rather than wait out the bound for a token nobody is making.
    const waitUntil = Math.min(request.deadline - 500, this.#now() + 10_000);
    for (;;) {
      const held = await this.#held(request);
      if (held) return held;
      const claim = await this.#o.leases.claim(
        request.holder,
        request.targetName,
        request.role,
        Math.min(this.#now() + CLAIM_MS, request.deadline + 5000),
      );
      if (claim) {
        try {
          // Claimed: a token another container finished just before is still this holder's.
          return (await this.#held(request)) ?? (await this.#mint(request));
        } finally {
          await this.#o.leases.release(request.holder, request.targetName, request.role, claim.owner);
        }
      }
      if (this.#now() >= waitUntil) throw new PatBusyError();
      await this.#sleep(WAIT_POLL_MS);
    }
  }

  /** The holder's own live PAT, before its refreshAt, whichever container made it. */
  async #held(request: PatRequest): Promise<ProgrammaticAccessToken | undefined> {
    const now = this.#now();
    const leases = await this.#o.leases.leasesOf(request.holder, request.targetName, request.role);
    for (const lease of leases) {
      if (lease.refreshAt <= now || lease.connection !== request.connection || lease.user !== request.user)
        continue;
      if (!request.accept(new Date(lease.issuedAt))) continue;
      const secret = await this.#o.leases.unseal(lease);
      // A seal that does not open, or opens to another token than the lease names, is not this holder's.
      if (secret === undefined || tokenId(secret) !== lease.tokenId) continue;
      return this.#answer(lease, secret, request.refreshRatio);
    }
    return undefined;
  }

  async #mint(request: PatRequest): Promise<ProgrammaticAccessToken> {
    const sql = this.#o.sql(request.connection);
    const now = this.#now();
    const leaseEnd = now + request.leaseSeconds * 1000;
    const name = patName(this.#o.tag, leaseEnd);
    let added: Awaited<ReturnType<typeof addPat>>;
    try {
      added = await addPat(sql, {
        user: request.user,
        name,
        role: request.role,
        comment: `token-vendor lease of ${request.caller} until ${new Date(leaseEnd).toISOString()}`,
        deadline: request.deadline,
      });
    } catch (error) {
      if (error instanceof SnowflakeError && error.code === SnowflakeErrorCode.Rejected)
        await this.#explain(sql, request, error);
      throw error;
    }
    const issuedAt = added.sentAt;
    const lifetime = tokenLifetime(issuedAt, leaseEnd, issuedAt, request.refreshRatio);
    const lease = {
      principal: request.holder,
      tokenId: tokenId(added.secret),
      caller: request.caller,
      patTarget: request.targetName,
      role: request.role,
      connection: request.connection,
      user: request.user,
      name,
      issuedAt,
      expiresAt: leaseEnd,
      refreshAt: lifetime.refreshAt.getTime(),
    };
    try {
      await this.#o.leases.record(lease, added.secret);
    } catch (error) {
      // Without its lease no container can hand it out again and nothing would end it on time: remove it.
      await removePat(sql, { user: request.user, name, deadline: request.deadline + 5000 }).catch(() => {});
      throw error;
    }
    return {
      ...this.#answer(lease, added.secret, request.refreshRatio),
      statementHandle: added.statementHandle,
      requestId: added.requestId,
    };
  }

  /** Snowflake refused the ADD: read the user's state and say why, with the fix (or rethrow as it was). */
  async #explain(sql: SqlApiClient, request: PatRequest, cause: SnowflakeError): Promise<never> {
    const now = this.#now();
    const readiness = await readPatReadiness(sql, request.user, { deadline: request.deadline }).catch(
      () => undefined,
    );
    if (!readiness) throw cause;
    const problem = patProblem(readiness, request.role, { now, blockedRoles: request.blockedRoles });
    if (!problem) throw cause;
    if (problem.kind !== 'limit') throw new PatPreconditionError(problem.message, { cause });
    // The first of this stack's leases to end frees a place once the sweeper removes its token.
    const ends = readiness.tokens
      .filter((t) => countsTowardCap(t, now))
      .flatMap((t) => parsePatName(t.name, this.#o.tag)?.leaseEnd ?? [])
      .filter((end) => end - now < NEAR_MS)
      .sort((a, b) => a - b);
    const retryAfter =
      ends[0] === undefined ? undefined : Math.max(1, Math.ceil((ends[0] - now + this.#o.sweepMs) / 1000));
    throw new PatLimitError(problem.message, retryAfter);
  }

  #answer(lease: Omit<PatLease, 'sealed'>, secret: string, refreshRatio: number): ProgrammaticAccessToken {
    const lifetime = tokenLifetime(lease.issuedAt, lease.expiresAt, this.#now(), refreshRatio);
    return {
      tokenType: 'programmatic-access-token',
      token: secret,
      name: lease.name,
      user: lease.user,
      role: lease.role,
      ...lifetime,
      refreshAt: new Date(lease.refreshAt),
    };
  }
}
