import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * The sealed-token format of the direct-invoke entry (part of its contract, shared by the vendor that
 * seals and the client that opens): a KMS data key, AES-256-GCM, the encryption context as associated data.
 */
export const ENVELOPE_ALGORITHM = 'AES-256-GCM';

/** KMS encryption context of an enveloped token; `kms:Decrypt` needs the same context. */
export type EncryptionContext = Record<string, string>;

export interface EnvelopedToken {
  /** Base64 of the AES-256-GCM ciphertext followed by its 16-byte tag. */
  readonly encryptedToken: string;
  /** Base64 KMS ciphertext of the data key (decrypt it with kms:Decrypt and the encryption context). */
  readonly encryptedDataKey: string;
  /** Base64 of the 12-byte GCM nonce. */
  readonly iv: string;
  readonly envelopeAlgorithm: typeof ENVELOPE_ALGORITHM;
  readonly encryptionKeyId: string;
  readonly encryptionContext: EncryptionContext;
}

/** The GCM associated data: the encryption context, keys sorted, so neither can be swapped. */
export function envelopeAad(context: EncryptionContext): Buffer {
  return Buffer.from(
    JSON.stringify(
      Object.keys(context)
        .sort()
        .map((k) => [k, context[k]]),
    ),
    'utf8',
  );
}

/**
 * AES-256-GCM under a data key, the context as associated data: the sealing half of the format.
 *
 * @example
 * ```ts
 * const { encryptedToken, iv } = sealWithDataKey(dataKey, token, context);
 * ```
 */
export function sealWithDataKey(
  key: Uint8Array,
  plaintext: string,
  context: EncryptionContext,
): { encryptedToken: string; iv: string } {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(envelopeAad(context));
  const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { encryptedToken: sealed.toString('base64'), iv: iv.toString('base64') };
}

/**
 * The opening half: undefined when the ciphertext, nonce or context was altered (or is truncated).
 *
 * @example
 * ```ts
 * const token = openWithDataKey(dataKey, sealed) ?? fail('altered');
 * ```
 */
export function openWithDataKey(
  key: Uint8Array,
  sealed: {
    readonly encryptedToken: string;
    readonly iv: string;
    readonly encryptionContext: EncryptionContext;
  },
): string | undefined {
  const data = Buffer.from(sealed.encryptedToken, 'base64');
  if (data.length < 16) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(envelopeAad(sealed.encryptionContext));
    decipher.setAuthTag(data.subarray(data.length - 16));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    return undefined;
  }
}
