import { DecryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import {
  ENCRYPTION_SDK_ALGORITHM,
  EncryptionSdkError,
  openEncryptionSdkMessage,
  type SealedToken,
} from '../lambda/api/encryption-sdk';
import { ENVELOPE_ALGORITHM, type EnvelopedToken, openWithDataKey } from '../lambda/api/envelope';
import { TokenVendorClientError } from './types';

/** The earlier format of the direct path (AES-256-GCM with the data key beside it), opened for one more release. */
type LegacySealedToken = Pick<
  EnvelopedToken,
  'encryptedToken' | 'encryptedDataKey' | 'iv' | 'envelopeAlgorithm' | 'encryptionContext' | 'encryptionKeyId'
>;

const invalid = (message: string) => new TokenVendorClientError('ENVELOPE_INVALID', 0, message);

/**
 * Open a token the direct-invoke entry returned sealed (`encryptedToken`): `kms:Decrypt` of the data key
 * with the encryption context (only the consumers the key policy names may), then AES-256-GCM. The
 * current format is an AWS Encryption SDK message (`envelopeAlgorithm: "aws-encryption-sdk"`), which any
 * Encryption SDK also opens; its data key must be under `encryptionKeyId`, and its authenticated context
 * must equal `encryptionContext`. The earlier format (`"AES-256-GCM"`) still opens. A tampered message,
 * nonce or context fails with `ENVELOPE_INVALID`.
 *
 * @example
 * ```ts
 * const token = await openEnvelope(new KMSClient({}), stateMachineOutput);
 * ```
 */
export async function openEnvelope(kms: KMSClient, sealed: SealedToken | LegacySealedToken): Promise<string> {
  if (sealed.envelopeAlgorithm === ENCRYPTION_SDK_ALGORITHM) return openMessage(kms, sealed as SealedToken);
  if (sealed.envelopeAlgorithm === ENVELOPE_ALGORITHM) return openLegacy(kms, sealed as LegacySealedToken);
  throw invalid(
    `Unknown envelope algorithm ${String((sealed as { envelopeAlgorithm?: unknown }).envelopeAlgorithm)}.`,
  );
}

async function openMessage(kms: KMSClient, sealed: SealedToken): Promise<string> {
  try {
    const { plaintext } = await openEncryptionSdkMessage(
      Buffer.from(sealed.encryptedToken, 'base64'),
      async ({ keyArn, encryptedDataKey, encryptionContext }) => {
        const { Plaintext } = await kms.send(
          new DecryptCommand({
            CiphertextBlob: encryptedDataKey,
            EncryptionContext: { ...encryptionContext },
            KeyId: keyArn,
          }),
        );
        if (!Plaintext) throw invalid('KMS returned no data key.');
        return Plaintext;
      },
      { keyArn: sealed.encryptionKeyId, encryptionContext: sealed.encryptionContext },
    );
    try {
      return plaintext.toString('utf8');
    } finally {
      plaintext.fill(0);
    }
  } catch (error) {
    if (error instanceof EncryptionSdkError)
      throw invalid(`The sealed token does not open: ${error.message}`);
    throw error;
  }
}

async function openLegacy(kms: KMSClient, sealed: LegacySealedToken): Promise<string> {
  const { Plaintext } = await kms.send(
    new DecryptCommand({
      CiphertextBlob: Buffer.from(sealed.encryptedDataKey, 'base64'),
      EncryptionContext: sealed.encryptionContext,
      KeyId: sealed.encryptionKeyId,
    }),
  );
  if (!Plaintext) throw invalid('KMS returned no data key.');
  try {
    const token = openWithDataKey(Plaintext, sealed);
    if (token === undefined) throw invalid('The sealed token does not open: it was altered.');
    return token;
  } finally {
    Plaintext.fill(0);
  }
}
