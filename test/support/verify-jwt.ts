import { createVerify, type KeyObject } from 'node:crypto';

export interface VerifiedJwt {
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
}

/**
 * An independent RS256 JWT check built on `node:crypto` only (not jose), so a bug in how the vendor
 * uses jose cannot hide itself: strict base64url, the header, and the signature over the exact
 * signing input.
 *
 * @example
 * ```ts
 * const { payload } = verifyRs256(token, publicKey);
 * ```
 */
export function verifyRs256(token: string, publicKey: KeyObject): VerifiedJwt {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error(`expected 3 JWS parts, got ${parts.length}`);
  const [h, p, s] = parts as [string, string, string];
  for (const part of parts) {
    if (!/^[A-Za-z0-9_-]+$/.test(part)) throw new Error('JWS part is not unpadded base64url');
  }
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
  if (header.alg !== 'RS256') throw new Error(`alg is ${String(header.alg)}`);
  const verifier = createVerify('RSA-SHA256');
  verifier.update(`${h}.${p}`);
  if (!verifier.verify(publicKey, Buffer.from(s, 'base64url'))) throw new Error('signature does not verify');
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header, payload };
}
