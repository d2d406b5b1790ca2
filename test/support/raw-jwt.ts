import { createHash, createPublicKey, type KeyObject, sign } from 'node:crypto';

/**
 * Sign arbitrary claims RS256 with node:crypto: for feeding the emulator JWTs the vendor would never mint.
 *
 * @example
 * ```ts
 * rawJwt({ iss: 'x', sub: 'y', iat: 0, exp: 1 }, key);
 * ```
 */
export function rawJwt(
  claims: Record<string, unknown>,
  privateKey: KeyObject,
  header: Record<string, unknown> = { alg: 'RS256', typ: 'JWT' },
): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode(header)}.${encode(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

/** `SHA256:` fingerprint computed here, independently of the code under test. */
export function fp(key: KeyObject): string {
  const der = (key.type === 'public' ? key : createPublicKey(key)).export({ type: 'spki', format: 'der' });
  return `SHA256:${createHash('sha256').update(der).digest('base64')}`;
}
