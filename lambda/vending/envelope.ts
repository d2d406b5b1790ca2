import type { KMSClient } from '@aws-sdk/client-kms';
import { ENCRYPTION_SDK_ALGORITHM, type SealedToken, sealEncryptionSdkMessage } from '../api/encryption-sdk';
import {
  ENVELOPE_ALGORITHM,
  type EncryptionContext,
  type EnvelopedToken,
  sealWithDataKey,
} from '../api/envelope';
import { loadKms } from '../aws/sdk';
import { TokenVendorError } from '../errors';

export type { EncryptionContext, EnvelopedToken, SealedToken };

/**
 * Seal a token under a fresh KMS data key (`GenerateDataKey`, AES-256) with AES-256-GCM, the encryption
 * context bound both to the data key (KMS) and to the ciphertext (GCM associated data), so a ciphertext
 * cannot be passed off as another's. The vendor's own format: the shared cache seals with it (its period
 * keys and the entries sealed one by one), and the direct path answered in it until it moved to the
 * Encryption SDK's message format (`sealForConsumer`); `openEnvelope` (client/) still opens it.
 *
 * @example
 * ```ts
 * const sealed = await envelopeToken(kms, keyArn, text, { 'token-vendor:cache': namespaceHash });
 * ```
 */
export async function envelopeToken(
  kms: KMSClient,
  keyId: string,
  token: string,
  context: EncryptionContext,
  options: { readonly abortSignal?: AbortSignal } = {},
): Promise<EnvelopedToken> {
  const { key, encryptedKey, usedKeyId } = await generateDataKey(kms, keyId, context, options);
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

/**
 * Seal a token for a consumer outside the vendor (the direct path's answer, so Step Functions history
 * never holds it): an AWS Encryption SDK message under a fresh KMS data key, the encryption context
 * naming the token. Any Encryption SDK (Python, Java, C, .NET, JavaScript, the CLI) opens it with a KMS
 * keyring naming `encryptionKeyId`, as does `openEnvelope` from the client.
 *
 * @example
 * ```ts
 * const sealed = await sealForConsumer(kms, keyArn, token, { 'token-vendor:tokenType': 'snowflake-postgres', … });
 * ```
 */
export async function sealForConsumer(
  kms: KMSClient,
  keyId: string,
  token: string,
  context: EncryptionContext,
): Promise<SealedToken> {
  const { key, encryptedKey, usedKeyId } = await generateDataKey(kms, keyId, context, {});
  try {
    const message = sealEncryptionSdkMessage(
      key,
      encryptedKey,
      usedKeyId,
      Buffer.from(token, 'utf8'),
      context,
    );
    return {
      encryptedToken: message.toString('base64'),
      envelopeAlgorithm: ENCRYPTION_SDK_ALGORITHM,
      encryptionKeyId: usedKeyId,
      encryptionContext: context,
    };
  } finally {
    key.fill(0);
  }
}

/** A fresh AES-256 data key under `keyId` for `context`; KMS failures become KEY_SOURCE_UNAVAILABLE. */
async function generateDataKey(
  kms: KMSClient,
  keyId: string,
  context: EncryptionContext,
  options: { readonly abortSignal?: AbortSignal },
): Promise<{ key: Uint8Array; encryptedKey: Uint8Array; usedKeyId: string }> {
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
  return { key, encryptedKey, usedKeyId };
}
