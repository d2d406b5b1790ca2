import type { CacheOutcome } from '../vending/cache';

export type AuditEvent =
  | 'token.issued'
  | 'token.denied'
  | 'token.failed'
  | 'key.rotation-checked'
  | 'key.rotated'
  | 'client-secret.rotated'
  // Changes to the revocation list (audit/list-change.ts).
  | `${'principal' | 'account' | 'target' | 'principal-target'}.${'revoked' | 'unrevoked'}`
  | 'key.rekeyed'
  | 'revocation.changed'
  | 'revocation.removed'
  | 'revocation.unreadable'
  // The PAT sweeper (pat/sweeper.ts): each token it removed, and each sweep.
  | 'pat.removed'
  | 'pat.swept';
export type AuditTrigger = 'http' | 'direct' | 'schedule' | 'rotation' | 'revocation-list';

/**
 * One audit record per request, whatever the outcome. It never holds a token, a key, a passphrase or
 * a client secret: a token appears only as its one-way `tokenId`.
 */
export interface AuditRecord {
  readonly event: AuditEvent;
  /** ISO-8601 time the request started. */
  readonly time: string;
  readonly requestId: string;
  readonly trigger: AuditTrigger;
  readonly principalArn?: string;
  readonly sourceIp?: string;
  readonly userAgent?: string;
  readonly tokenType?: string;
  /** What the caller asked for, as sent (names only: instance, username, connection, integration, scopes). */
  readonly target?: Readonly<Record<string, unknown>>;
  /**
   * The configured target the request resolved to, in the config's own spelling (connection, instance,
   * username, integration, scopes as sent upstream): an audit query by configured name finds every vend,
   * whatever spelling the caller used.
   */
  readonly resolved?: Readonly<Record<string, unknown>>;
  readonly cache?: CacheOutcome;
  readonly issuedAt?: string;
  readonly expiresAt?: string;
  readonly tokenId?: string;
  readonly statementHandle?: string;
  readonly snowflakeRequestId?: string;
  /** How the vendor signed in to Snowflake for this token: `keypair` or `wif` (its IAM role). */
  readonly snowflakeAuth?: 'keypair' | 'wif';
  readonly durationMs: number;
  /** Time spent upstream (Snowflake SQL API, KMS, OAuth token endpoint) on a cache miss. */
  readonly upstreamMs?: number;
  /** Public error code (`NOT_AUTHORIZED`, `UPSTREAM_UNAVAILABLE`, …). */
  readonly errorCode?: string;
  /** The internal code behind it (`SNOWFLAKE_AUTH_FAILED`, `KEY_WRONG_PASSPHRASE`, …). */
  readonly errorCause?: string;
  /** What the caller was told. */
  readonly errorMessage?: string;
  /** What went wrong, when the caller was told less (configuration and upstream failures). */
  readonly errorDetail?: string;
  /** Event-specific details (rotation check results, rotation steps). */
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** Caller-supplied strings are bounded and stripped of control characters before they reach a log. */
export function clean(value: string | undefined, max = 256): string | undefined {
  if (value === undefined) return undefined;
  const stripped = value.replace(/\p{Cc}/gu, ' ');
  return stripped.length > max ? `${stripped.slice(0, max)}…` : stripped;
}
