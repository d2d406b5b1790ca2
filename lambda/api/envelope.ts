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
