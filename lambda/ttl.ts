/**
 * TTL metadata carried by every vended token. Dates serialise to ISO-8601 (`…T10:00:00.000Z`) in JSON.
 *
 * - `issuedAt`: when the vendor obtained the token (never later than the issuer's own clock start);
 * - `expiresAt`: from the issuer's lifetime;
 * - `expiresIn`: whole seconds left at the moment the answer is built;
 * - `refreshAt`: when a client should ask again (a fraction of the lifetime, 80 % by default).
 */
export interface TokenLifetime {
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly expiresIn: number;
  readonly refreshAt: Date;
}

/** Fraction of a token's lifetime after which clients should ask again. */
export const DEFAULT_REFRESH_RATIO = 0.8;

/**
 * Build TTL metadata for a token issued at `issuedAtMs` that expires at `expiresAtMs`, as seen at `nowMs`.
 *
 * @example
 * ```ts
 * tokenLifetime(t0, t0 + 900_000, t0); // { expiresIn: 900, refreshAt: t0 + 12 min, … }
 * ```
 */
export function tokenLifetime(
  issuedAtMs: number,
  expiresAtMs: number,
  nowMs: number,
  refreshRatio: number = DEFAULT_REFRESH_RATIO,
): TokenLifetime {
  return {
    issuedAt: new Date(issuedAtMs),
    expiresAt: new Date(expiresAtMs),
    expiresIn: secondsLeft(expiresAtMs, nowMs),
    refreshAt: new Date(issuedAtMs + Math.floor((expiresAtMs - issuedAtMs) * refreshRatio)),
  };
}

/** Whole seconds from `nowMs` to `expiresAtMs`, never negative (rounded down: a client must not overrun). */
export function secondsLeft(expiresAtMs: number, nowMs: number): number {
  return Math.max(0, Math.floor((expiresAtMs - nowMs) / 1000));
}
