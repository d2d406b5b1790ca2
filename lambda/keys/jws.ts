import { base64url } from 'jose';
import type { SigningKey } from './signer';

const HEADER = base64url.encode(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));

/**
 * Sign `claims` as a compact RS256 JWS with a {@link SigningKey} (local key or KMS). The compact form is
 * assembled with jose's base64url codec; the signature comes from the key source.
 *
 * @example
 * ```ts
 * const jwt = await signRs256Jwt({ iss, sub, iat, exp }, await signer.currentKey());
 * ```
 */
export async function signRs256Jwt(claims: Record<string, unknown>, key: SigningKey): Promise<string> {
  const signingInput = `${HEADER}.${base64url.encode(JSON.stringify(claims))}`;
  const signature = await key.sign(new TextEncoder().encode(signingInput));
  return `${signingInput}.${base64url.encode(signature)}`;
}
