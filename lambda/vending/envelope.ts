import type { KMSClient } from '@aws-sdk/client-kms';
import { loadKms } from '../aws/sdk';
import { TokenVendorError } from '../errors';

/** KMS encryption context of an enveloped token; `kms:Decrypt` needs the same context. */
export type EncryptionContext = Record<string, string>;

export interface EnvelopedToken {
  /** Base64 KMS ciphertext of the token. */
  readonly encryptedToken: string;
  readonly encryptionKeyId: string;
  readonly encryptionContext: EncryptionContext;
}

/**
 * Encrypt a token with KMS so it never appears in Step Functions execution history in plain text.
 * The encryption context names the token (its type, its one-way id and the request), so a ciphertext
 * cannot be passed off as another token's.
 *
 * @example
 * ```ts
 * const sealed = await envelopeToken(kms, keyArn, token, { tokenType: 'snowflake-postgres', tokenId, requestId });
 * // consumer: kms.decrypt({ CiphertextBlob, EncryptionContext: sealed.encryptionContext })
 * ```
 */
export async function envelopeToken(
  kms: KMSClient,
  keyId: string,
  token: string,
  context: EncryptionContext,
): Promise<EnvelopedToken> {
  try {
    const { EncryptCommand } = await loadKms();
    const answer = await kms.send(
      new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(token, 'utf8'), EncryptionContext: context }),
    );
    if (!answer.CiphertextBlob) throw new Error('KMS Encrypt returned no ciphertext');
    return {
      encryptedToken: Buffer.from(answer.CiphertextBlob).toString('base64'),
      encryptionKeyId: answer.KeyId ?? keyId,
      encryptionContext: context,
    };
  } catch (error) {
    throw new TokenVendorError(
      'KEY_SOURCE_UNAVAILABLE',
      `The token could not be encrypted with ${keyId} (${(error as Error).name}).`,
      { cause: error },
    );
  }
}
