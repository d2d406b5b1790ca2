import { createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { publicKeyFingerprint } from '../snowflake/fingerprint';
import { KeyErrorCode, KeyMaterialError } from './errors';
import type { SigningKey } from './signer';

/** Snowflake requires RSA keys of at least 2048 bits. */
export const MIN_RSA_BITS = 2048;

const PEM_LABEL = /-----BEGIN ([A-Z0-9 ]+)-----/;

/**
 * Parse and check a PEM private key the way Snowflake needs it: PKCS#8 (plain or encrypted), RSA,
 * at least 2048 bits. Each problem becomes its own {@link KeyMaterialError} code; messages name
 * `source` (where the key came from) and never any part of the key or the passphrase.
 *
 * @example
 * ```ts
 * const key = loadPrivateKey(pem, process.env.KEY_PASSPHRASE, 'file:rsa_key.p8');
 * ```
 */
export function loadPrivateKey(pem: string, passphrase: string | undefined, source: string): KeyObject {
  // PEMs pasted into JSON or environment variables often arrive with literal "\n" sequences.
  const text = !pem.includes('\n') && pem.includes('\\n') ? pem.replaceAll('\\n', '\n') : pem;
  const label = PEM_LABEL.exec(text)?.[1];
  if (label === undefined) {
    throw new KeyMaterialError(
      KeyErrorCode.Malformed,
      `The key from ${source} is not a PEM private key; expected a PKCS#8 PEM (BEGIN PRIVATE KEY or BEGIN ENCRYPTED PRIVATE KEY).`,
    );
  }
  if (label !== 'PRIVATE KEY' && label !== 'ENCRYPTED PRIVATE KEY') {
    throw new KeyMaterialError(
      KeyErrorCode.NotPkcs8,
      `The key from ${source} is "${label}", not PKCS#8. Convert it with: openssl pkcs8 -topk8 -in key.pem -out key.p8 ` +
        '(add -v2 aes256 to keep it encrypted, or -nocrypt).',
    );
  }
  const encrypted = label === 'ENCRYPTED PRIVATE KEY';
  if (encrypted && (passphrase === undefined || passphrase === '')) {
    throw new KeyMaterialError(
      KeyErrorCode.PassphraseRequired,
      `The key from ${source} is encrypted and no passphrase was given.`,
    );
  }

  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem', ...(encrypted ? { passphrase } : {}) });
  } catch (error) {
    if (encrypted) {
      throw new KeyMaterialError(
        KeyErrorCode.WrongPassphrase,
        `The passphrase does not decrypt the key from ${source}.`,
      );
    }
    throw new KeyMaterialError(KeyErrorCode.Malformed, `The PKCS#8 key from ${source} cannot be parsed.`, {
      cause: error instanceof Error ? new Error(error.message) : undefined,
    });
  }

  if (key.asymmetricKeyType !== 'rsa') {
    throw new KeyMaterialError(
      KeyErrorCode.NotRsa,
      `The key from ${source} is ${key.asymmetricKeyType ?? 'not an asymmetric key'}; Snowflake key-pair authentication needs RSA.`,
    );
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) {
    throw new KeyMaterialError(
      KeyErrorCode.TooSmall,
      `The RSA key from ${source} has ${bits} bits; Snowflake needs at least ${MIN_RSA_BITS}.`,
    );
  }
  return key;
}

/**
 * A {@link SigningKey} over a private key held in memory (Secrets Manager or file sources).
 *
 * @example
 * ```ts
 * const signingKey = localSigningKey(loadPrivateKey(pem, undefined, 'file:k.p8'), 'file:k.p8');
 * ```
 */
export function localSigningKey(privateKey: KeyObject, version: string, createdAt?: Date): SigningKey {
  const fingerprint = publicKeyFingerprint(privateKey);
  return {
    fingerprint,
    version,
    ...(createdAt ? { createdAt } : {}),
    sign: async (data) => sign('sha256', data, privateKey),
  };
}
