import type { KMSClient } from '@aws-sdk/client-kms';
import {
  ENVELOPE_ALGORITHM,
  type EncryptionContext,
  type EnvelopedToken,
  sealWithDataKey,
} from '../api/envelope';
import { loadKms } from '../aws/sdk';
import { TokenVendorError } from '../errors';

export type { EncryptionContext, EnvelopedToken };

/**
 * Seal a token so it never appears in Step Functions execution history in plain text, whatever its size:
 * a fresh KMS data key (`GenerateDataKey`, AES-256) encrypts it with AES-256-GCM here; only the data key's
 * KMS ciphertext travels with it. The encryption context names the token (its type, its one-way id, the
 * request) and is bound both to the data key (KMS) and to the ciphertext (GCM associated data), so a
 * ciphertext cannot be passed off as another token's. Consumers open it with `openEnvelope` (client/).
 *
 * @example
 * ```ts
 * const sealed = await envelopeToken(kms, keyArn, token, { 'token-vendor:tokenType': 'snowflake-postgres', … });
 * ```
 */
export async function envelopeToken(
  kms: KMSClient,
  keyId: string,
  token: string,
  context: EncryptionContext,
  options: { readonly abortSignal?: AbortSignal } = {},
): Promise<EnvelopedToken> {
  let key: Uint8Array;
  let encryptedKey: Uint8Array;
  let usedKeyId: string;
  try {
    const { GenerateDataKeyCommand } = await loadKms();
    const answer = await kms.send(
      new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: context }),
      options.abortSignal ? { abortSignal: options.abortSignal } : {},
    );
    if (!answer.Plaintext || !answer.CiphertextBlob) throw new Error('KMS GenerateDataKey returned no key');
    key = answer.Plaintext;
    encryptedKey = answer.CiphertextBlob;
    usedKeyId = answer.KeyId ?? keyId;
  } catch (error) {
    throw new TokenVendorError(
      'KEY_SOURCE_UNAVAILABLE',
      `The token could not be encrypted with ${keyId} (${(error as Error).name}).`,
      { cause: error },
    );
  }
  const { encryptedToken, iv } = sealWithDataKey(key, token, context);
  key.fill(0);
  return {
    encryptedToken,
    encryptedDataKey: Buffer.from(encryptedKey).toString('base64'),
    iv,
    envelopeAlgorithm: ENVELOPE_ALGORITHM,
    encryptionKeyId: usedKeyId,
    encryptionContext: context,
  };
}
