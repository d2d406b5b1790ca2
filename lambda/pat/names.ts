import { createHash, randomBytes } from 'node:crypto';

/**
 * The names the vendor gives the PATs it makes: `TV_<stack>_<lease end>_<random>`, for example
 * `TV_K3QZ7A_1796644800_M2X9QF4R`.
 *
 * - `<stack>`: six characters of a digest of the stack's namespace, so two stacks that manage the same
 *   Snowflake user each sweep only their own tokens.
 * - `<lease end>`: epoch seconds: even without its lease record (a crash between ADD and the lease
 *   write), the sweeper knows when the token's lease ends.
 * - `<random>`: so two mints in the same second never collide.
 *
 * Snowflake takes it unquoted (letters, digits, `_`) and shows it upper case, as here.
 */
export const PAT_NAME_PREFIX = 'TV_';

/** The encryption context key of a PAT secret sealed in its lease (the key policy allows nothing else). */
export const PAT_CONTEXT_KEY = 'token-vendor:pat';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const base32 = (bytes: Buffer, length: number) =>
  [...bytes]
    .map((b) => ALPHABET[b % 32])
    .join('')
    .slice(0, length);

/** The stack tag of `namespace` (the construct sets TOKEN_VENDOR_CACHE_NAMESPACE to the stack's address). */
export function stackTag(namespace: string): string {
  return base32(createHash('sha256').update(`token-vendor-pat\u0000${namespace}`).digest(), 6);
}

/**
 * A fresh name for a PAT whose lease ends at `leaseEnd` (epoch ms).
 *
 * @example
 * ```ts
 * patName(stackTag(namespace), Date.now() + 3_600_000); // 'TV_K3QZ7A_1796644800_M2X9QF4R'
 * ```
 */
export function patName(tag: string, leaseEnd: number): string {
  return `${PAT_NAME_PREFIX}${tag}_${Math.ceil(leaseEnd / 1000)}_${base32(randomBytes(8), 8)}`;
}

/** A name of this stack's (its lease end, in epoch ms), or undefined for anyone else's token. */
export function parsePatName(name: string, tag: string): { readonly leaseEnd: number } | undefined {
  const m = /^TV_([A-Z2-7]{6})_(\d{9,11})_[A-Z2-7]{8}$/.exec(name);
  if (!m || m[1] !== tag) return undefined;
  return { leaseEnd: Number(m[2]) * 1000 };
}
