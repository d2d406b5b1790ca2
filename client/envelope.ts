import { DecryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { ENVELOPE_ALGORITHM, type EnvelopedToken, openWithDataKey } from '../lambda/api/envelope';
import { TokenVendorClientError } from './types';

/**
 * Open a token the direct-invoke entry returned sealed (`encryptedToken`): `kms:Decrypt` of the data key
 * with the encryption context (only the consumers the key policy names may), then AES-256-GCM with the
 * context as associated data. A tampered ciphertext, nonce or context fails.
 *
 * @example
 * ```ts
 * const token = await openEnvelope(new KMSClient({}), stateMachineOutput);
 * ```
 */
export async function openEnvelope(
  kms: KMSClient,
  sealed: Pick<
    EnvelopedToken,
    | 'encryptedToken'
    | 'encryptedDataKey'
    | 'iv'
    | 'envelopeAlgorithm'
    | 'encryptionContext'
    | 'encryptionKeyId'
  >,
): Promise<string> {
  if (sealed.envelopeAlgorithm !== ENVELOPE_ALGORITHM)
    throw new TokenVendorClientError(
      'ENVELOPE_INVALID',
      0,
      `Unknown envelope algorithm ${sealed.envelopeAlgorithm}.`,
    );
  const { Plaintext } = await kms.send(
    new DecryptCommand({
      CiphertextBlob: Buffer.from(sealed.encryptedDataKey, 'base64'),
      EncryptionContext: sealed.encryptionContext,
      KeyId: sealed.encryptionKeyId,
    }),
  );
  if (!Plaintext) throw new TokenVendorClientError('ENVELOPE_INVALID', 0, 'KMS returned no data key.');
  try {
    const token = openWithDataKey(Plaintext, sealed);
    if (token === undefined)
      throw new TokenVendorClientError(
        'ENVELOPE_INVALID',
        0,
        'The sealed token does not open: it was altered.',
      );
    return token;
  } finally {
    Plaintext.fill(0);
  }
}
