import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  KmsKeyringNode,
} from '@aws-crypto/client-node';
import { DecryptCommand, GenerateDataKeyCommand, KMS } from '@aws-sdk/client-kms';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type DecryptDataKey,
  EncryptionSdkError,
  MAX_ENCRYPTION_SDK_MESSAGE_BYTES,
  openEncryptionSdkMessage,
  sealEncryptionSdkMessage,
} from '../../../lambda/api/encryption-sdk';
import { CACHE_KEY_ID, fakeKms } from '../../support/shared-cache';

/**
 * The vendor writes and reads the AWS Encryption SDK's message format itself (node:crypto only). The
 * SDK's own maintained implementation (JavaScript; Python, Java, C and .NET read the same format) must
 * open what the vendor writes, and the vendor's reader must open what the SDK writes, with the strictest
 * commitment policy, a KMS keyring naming the key, and KMS mocked at the SDK boundary (real cryptography).
 */
describe('Encryption SDK message format', () => {
  let kms: ReturnType<typeof fakeKms> | undefined;
  afterEach(() => kms?.restore());
  const { decrypt, encrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

  const seal = async (plaintext: Buffer, context: Record<string, string>) => {
    const client = kms!.client();
    const { Plaintext, CiphertextBlob, KeyId } = await client.send(
      new GenerateDataKeyCommand({ KeyId: CACHE_KEY_ID, KeySpec: 'AES_256', EncryptionContext: context }),
    );
    return sealEncryptionSdkMessage(Plaintext!, CiphertextBlob!, KeyId!, plaintext, context);
  };
  /** kms:Decrypt as a consumer calls it, through the mocked SDK client. */
  const decryptDataKey: DecryptDataKey = async ({ keyArn, encryptedDataKey, encryptionContext }) => {
    const { Plaintext } = await kms!.client().send(
      new DecryptCommand({
        KeyId: keyArn,
        CiphertextBlob: encryptedDataKey,
        EncryptionContext: { ...encryptionContext },
      }),
    );
    return Plaintext!;
  };
  // The keyring takes the SDK's aggregated client (methods per operation); the mock covers it too
  const keyring = () =>
    new KmsKeyringNode({
      generatorKeyId: CACHE_KEY_ID,
      clientProvider: () => new KMS({ region: 'us-east-1' }),
    });
  const context = { 'token-vendor:tokenType': 'postgres', 'token-vendor:tokenId': 'tv_abc', 'é-key': 'ü' };

  it.each([0, 1, 900, 4095, 4096, 4097, 20_000])(
    'the SDK opens what the vendor seals: %i bytes',
    async (size) => {
      kms = fakeKms();
      const plaintext = Buffer.from(Array.from({ length: size }, (_, i) => i % 251));
      const message = await seal(plaintext, context);
      const opened = await decrypt(keyring(), message);
      expect(Buffer.compare(opened.plaintext, plaintext)).toBe(0);
      expect(opened.messageHeader.encryptionContext).toMatchObject(context);
      // and so does the vendor's own reader
      const own = await openEncryptionSdkMessage(message, decryptDataKey, {
        keyArn: CACHE_KEY_ID,
        encryptionContext: context,
      });
      expect(Buffer.compare(own.plaintext, plaintext)).toBe(0);
      expect(own.encryptionContext).toEqual(context);
    },
  );

  it.each([0, 5, 4096, 9000])(
    'the vendor opens what the SDK seals (suite 0x0478, framed): %i bytes',
    async (size) => {
      kms = fakeKms();
      const plaintext = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7) % 256));
      const { result } = await encrypt(keyring(), plaintext, {
        encryptionContext: context,
        suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
        frameLength: 4096,
      });
      const opened = await openEncryptionSdkMessage(result, decryptDataKey, {
        keyArn: CACHE_KEY_ID,
        encryptionContext: context,
      });
      expect(Buffer.compare(opened.plaintext, plaintext)).toBe(0);
    },
  );

  it('refuses a signed suite (the SDK default) and a non-committing one: not what the vendor writes', async () => {
    kms = fakeKms();
    const signed = await encrypt(keyring(), Buffer.from('x'), {
      encryptionContext: context,
      suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
    });
    const uncommitted = await buildClient(CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT).encrypt(
      keyring(),
      Buffer.from('x'),
      { encryptionContext: context, suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA256 },
    );
    for (const { result } of [signed, uncommitted])
      await expect(
        openEncryptionSdkMessage(result, decryptDataKey, { keyArn: CACHE_KEY_ID }),
      ).rejects.toMatchObject({ name: 'EncryptionSdkError', reason: 'unsupported' });
    expect(kms.calls.decrypt).toBe(0);
  });

  it('refuses every single-bit change and every truncation, and bytes after the final frame', async () => {
    kms = fakeKms();
    const message = await seal(Buffer.from('a token of a realistic length '.repeat(3)), context);
    const open = (bytes: Buffer) => openEncryptionSdkMessage(bytes, decryptDataKey, { keyArn: CACHE_KEY_ID });
    for (let at = 0; at < message.length; at++) {
      const bad = Buffer.from(message);
      bad[at]! ^= 0x10;
      await expect(open(bad), `byte ${at}`).rejects.toThrow();
    }
    for (let length = 0; length < message.length; length += 7)
      await expect(open(message.subarray(0, length)), `length ${length}`).rejects.toThrow();
    await expect(open(Buffer.concat([message, Buffer.from([0])]))).rejects.toMatchObject({
      reason: 'malformed',
    });
    // the original still opens: the failures were the changes
    await expect(open(message)).resolves.toBeDefined();
  });

  it('checks the key and the context beside the message before it asks KMS', async () => {
    kms = fakeKms();
    const message = await seal(Buffer.from('token'), context);
    await expect(
      openEncryptionSdkMessage(message, decryptDataKey, { keyArn: `${CACHE_KEY_ID}-other` }),
    ).rejects.toMatchObject({ reason: 'wrong-key' });
    await expect(
      openEncryptionSdkMessage(message, decryptDataKey, {
        keyArn: CACHE_KEY_ID,
        encryptionContext: { ...context, 'token-vendor:tokenId': 'tv_other' },
      }),
    ).rejects.toMatchObject({ reason: 'context-mismatch' });
    await expect(
      openEncryptionSdkMessage(message, decryptDataKey, {
        keyArn: CACHE_KEY_ID,
        encryptionContext: { 'token-vendor:tokenType': 'postgres' },
      }),
    ).rejects.toMatchObject({ reason: 'context-mismatch' });
    expect(kms.calls.decrypt).toBe(0);
  });

  it('refuses a context that repeats a key, and an oversized message, without asking KMS', async () => {
    kms = fakeKms();
    // Two keys of the same length; renaming the second to the first makes a duplicate in the header
    const message = await seal(Buffer.from('token'), { aa: '1', ab: '2' });
    const at = message.indexOf(Buffer.from('ab'));
    const duplicated = Buffer.from(message);
    duplicated.write('aa', at);
    await expect(
      openEncryptionSdkMessage(duplicated, decryptDataKey, { keyArn: CACHE_KEY_ID }),
    ).rejects.toMatchObject({
      reason: 'malformed',
    });
    const huge = Buffer.concat([message, Buffer.alloc(MAX_ENCRYPTION_SDK_MESSAGE_BYTES)]);
    await expect(
      openEncryptionSdkMessage(huge, decryptDataKey, { keyArn: CACHE_KEY_ID }),
    ).rejects.toBeInstanceOf(EncryptionSdkError);
    expect(kms.calls.decrypt).toBe(0);
  });
});
