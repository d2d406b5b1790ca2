import { constants, createHash, type KeyObject, privateEncrypt } from 'node:crypto';
import { DescribeKeyCommand, GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KmsSigner } from '../../../lambda/keys/kms-signer';
import { publicKeyFingerprint } from '../../../lambda/snowflake/fingerprint';
import { mintKeyPairJwt } from '../../../lambda/snowflake/jwt';
import { rsaKeyPair } from '../../support/keys';
import { verifyRs256 } from '../../support/verify-jwt';

/** DER DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1): what RSASSA-PKCS1-v1_5 signs around the digest. */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/** KMS Sign for RSASSA_PKCS1_V1_5_SHA_256 over a DIGEST, done for real with the key KMS would hold. */
function kmsSign(privateKey: KeyObject, digest: Uint8Array): Uint8Array {
  return privateEncrypt(
    { key: privateKey, padding: constants.RSA_PKCS1_PADDING },
    Buffer.concat([SHA256_DIGEST_INFO, digest]),
  );
}

describe('KmsSigner', () => {
  const kms = mockClient(KMSClient);
  const pair = rsaKeyPair();
  const client = new KMSClient({ region: 'us-east-1' });
  const keyArn = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  const publicKeyAnswer = {
    KeyId: keyArn,
    PublicKey: new Uint8Array(pair.publicKey.export({ type: 'spki', format: 'der' })),
    KeySpec: 'RSA_2048' as const,
    KeyUsage: 'SIGN_VERIFY' as const,
    SigningAlgorithms: ['RSASSA_PKCS1_V1_5_SHA_256' as const, 'RSASSA_PSS_SHA_256' as const],
  };

  beforeEach(() => {
    kms.on(GetPublicKeyCommand).resolves(publicKeyAnswer);
    kms
      .on(SignCommand)
      .callsFake(
        (input: { Message: Uint8Array; MessageType: string; SigningAlgorithm: string; KeyId: string }) => {
          if (
            input.MessageType !== 'DIGEST' ||
            input.SigningAlgorithm !== 'RSASSA_PKCS1_V1_5_SHA_256' ||
            input.Message.length !== 32
          ) {
            throw Object.assign(new Error('ValidationException'), { name: 'ValidationException' });
          }
          return {
            KeyId: input.KeyId,
            Signature: kmsSign(pair.privateKey, input.Message),
            SigningAlgorithm: input.SigningAlgorithm,
          };
        },
      );
  });
  afterEach(() => kms.reset());

  it('signs a JWT through kms:Sign that verifies against the GetPublicKey key', async () => {
    // Prepare
    const signer = new KmsSigner({ client, keyId: 'alias/snowflake-svc' });
    // Act
    const jwt = await mintKeyPairJwt({ account: 'xy12345.us-east-2.aws', user: 'svc', signer });
    // Assess
    const { payload } = verifyRs256(jwt.token, pair.publicKey);
    expect(payload.iss).toBe(`XY12345.SVC.${publicKeyFingerprint(pair.publicKey)}`);
    const sign = kms.commandCalls(SignCommand)[0]!.args[0].input;
    expect(sign.KeyId).toBe(keyArn);
    const signingInput = jwt.token.split('.').slice(0, 2).join('.');
    expect(Buffer.from(sign.Message!)).toEqual(createHash('sha256').update(signingInput).digest());
  });

  it('caches GetPublicKey across many signatures and re-reads after refresh()', async () => {
    const signer = new KmsSigner({ client, keyId: keyArn });
    for (let i = 0; i < 5; i += 1) await mintKeyPairJwt({ account: 'xy12345', user: 'svc', signer });
    expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(1);
    expect(kms.commandCalls(SignCommand)).toHaveLength(5);
    signer.refresh();
    await signer.currentKey();
    expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(2);
  });

  it.each([
    ['an ECC key', { KeySpec: 'ECC_NIST_P256' as const }, 'KMS_KEY_WRONG_SPEC'],
    [
      'a symmetric key',
      { KeySpec: 'SYMMETRIC_DEFAULT' as const, KeyUsage: 'ENCRYPT_DECRYPT' as const },
      'KMS_KEY_WRONG_SPEC',
    ],
    [
      'an RSA encryption key',
      { KeyUsage: 'ENCRYPT_DECRYPT' as const, SigningAlgorithms: [] },
      'KMS_KEY_WRONG_USAGE',
    ],
    [
      'an RSA key limited to PSS',
      { SigningAlgorithms: ['RSASSA_PSS_SHA_256' as const] },
      'KMS_KEY_WRONG_USAGE',
    ],
  ])('refuses %s with %s before signing anything', async (_name, override, code) => {
    kms.on(GetPublicKeyCommand).resolves({ ...publicKeyAnswer, ...override });
    const signer = new KmsSigner({ client, keyId: keyArn });
    await expect(mintKeyPairJwt({ account: 'xy12345', user: 'svc', signer })).rejects.toMatchObject({ code });
    expect(kms.commandCalls(SignCommand)).toHaveLength(0);
  });

  it('maps a missing or disabled key to typed errors', async () => {
    kms
      .on(GetPublicKeyCommand)
      .rejectsOnce(Object.assign(new Error('gone'), { name: 'NotFoundException' }))
      .rejectsOnce(Object.assign(new Error('off'), { name: 'DisabledException' }));
    await expect(new KmsSigner({ client, keyId: 'k' }).currentKey()).rejects.toMatchObject({
      code: 'KEY_SECRET_NOT_FOUND',
    });
    await expect(new KmsSigner({ client, keyId: 'k' }).currentKey()).rejects.toMatchObject({
      code: 'KEY_SOURCE_ACCESS_DENIED',
    });
  });

  it('reports the key creation date for the rotation age', async () => {
    kms
      .on(DescribeKeyCommand)
      .resolves({ KeyMetadata: { KeyId: keyArn, CreationDate: new Date('2026-03-01T00:00:00Z') } });
    await expect(new KmsSigner({ client, keyId: keyArn }).createdAt()).resolves.toEqual(
      new Date('2026-03-01T00:00:00Z'),
    );
  });
});
