import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

/**
 * The public-key fingerprint exactly as Snowflake computes it for `RSA_PUBLIC_KEY_FP`:
 * `SHA256:` + standard base64 (with padding) of SHA-256 over the DER SubjectPublicKeyInfo.
 *
 * Accepts a private or public `KeyObject`, a PEM string, or DER SPKI bytes (what KMS `GetPublicKey`
 * returns). Hashing PKCS#1 instead of SPKI, or a PEM with its headers, gives a fingerprint Snowflake
 * rejects with 394304, so every input is converted to DER SPKI first.
 *
 * @example
 * ```ts
 * publicKeyFingerprint(privateKey); // 'SHA256:7l4k…=' (51 characters)
 * ```
 */
export function publicKeyFingerprint(key: KeyObject | string | Uint8Array): string {
  return `SHA256:${createHash('sha256').update(spkiDer(key)).digest('base64')}`;
}

/**
 * The value Snowflake stores in `RSA_PUBLIC_KEY` / `RSA_PUBLIC_KEY_2`: the base64 body of the PEM public
 * key, without the BEGIN/END lines or line breaks.
 *
 * @example
 * ```ts
 * await sql(`ALTER USER svc SET RSA_PUBLIC_KEY_2 = '${publicKeyBody(newKey)}'`);
 * ```
 */
export function publicKeyBody(key: KeyObject | string | Uint8Array): string {
  return spkiDer(key).toString('base64');
}

/** DER SubjectPublicKeyInfo of any accepted key form; parsing DER input also validates it. */
function spkiDer(key: KeyObject | string | Uint8Array): Buffer {
  const publicKey =
    key instanceof Uint8Array
      ? createPublicKey({ key: Buffer.from(key), format: 'der', type: 'spki' })
      : typeof key !== 'string' && key.type === 'public'
        ? key
        : createPublicKey(key);
  return publicKey.export({ format: 'der', type: 'spki' });
}
