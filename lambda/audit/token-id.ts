import { createHash } from 'node:crypto';

/** Prefix that marks a token id, so one is never mistaken for a token. */
export const TOKEN_ID_PREFIX = 'tid_';

/**
 * A one-way id for a token: `tid_` + the first 24 hex digits (96 bits) of SHA-256 over the token.
 *
 * Audit records carry this id, never the token. An operator holding a token computes the same id with
 * `token-vendor token-id <token>` and finds its issuance in the audit trail; the id cannot be turned
 * back into the token.
 *
 * @example
 * ```ts
 * tokenId('eyJhbGciOi…'); // 'tid_3f0c9a…'
 * ```
 */
export function tokenId(token: string): string {
  return TOKEN_ID_PREFIX + createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 24);
}
