import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretsManagerSigner } from '../../../lambda/keys/secrets-manager-signer';
import { publicKeyFingerprint } from '../../../lambda/snowflake/fingerprint';
import { mintKeyPairJwt } from '../../../lambda/snowflake/jwt';
import { encryptedPkcs8, rsaKeyPair } from '../../support/keys';
import { verifyRs256 } from '../../support/verify-jwt';

describe('SecretsManagerSigner', () => {
  const sm = mockClient(SecretsManagerClient);
  const pair = rsaKeyPair();
  const client = new SecretsManagerClient({ region: 'us-east-1' });
  afterEach(() => sm.reset());

  it('reads a plain PEM SecretString and signs JWTs that verify', async () => {
    // Prepare
    sm.on(GetSecretValueCommand).resolves({
      SecretString: pair.pkcs8Pem,
      VersionId: 'v1',
      CreatedDate: new Date('2026-01-01'),
    });
    const signer = new SecretsManagerSigner({ client, secretId: 'prod/snowflake/svc' });
    // Act
    const jwt = await mintKeyPairJwt({ account: 'myorg-acct', user: 'svc', signer });
    const key = await signer.currentKey();
    // Assess
    expect(verifyRs256(jwt.token, pair.publicKey).payload.iss).toBe(
      `MYORG-ACCT.SVC.${publicKeyFingerprint(pair.publicKey)}`,
    );
    expect(key.version).toBe('secretsManager:prod/snowflake/svc:v1');
    expect(key.createdAt).toEqual(new Date('2026-01-01'));
    expect(sm.commandCalls(GetSecretValueCommand)[0]!.args[0].input).toEqual({
      SecretId: 'prod/snowflake/svc',
      VersionStage: 'AWSCURRENT',
    });
  });

  it('reads JSON {privateKey, passphrase} with an encrypted PKCS#8 key', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        privateKey: encryptedPkcs8(pair.privateKey, 'pw-123'),
        passphrase: 'pw-123',
      }),
      VersionId: 'v2',
    });
    const key = await new SecretsManagerSigner({ client, secretId: 's' }).currentKey();
    expect(key.fingerprint).toBe(publicKeyFingerprint(pair.publicKey));
  });

  it('reads the AWSPENDING stage when asked (the rotation test step)', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 's', VersionStage: 'AWSPENDING' }).resolves({
      SecretString: pair.pkcs8Pem,
      VersionId: 'p',
    });
    const key = await new SecretsManagerSigner({
      client,
      secretId: 's',
      versionStage: 'AWSPENDING',
    }).currentKey();
    expect(key.version).toBe('secretsManager:s:p');
  });

  it('caches the key for its TTL, reloads after it, and loads once for concurrent callers', async () => {
    // Prepare
    let t = 0;
    sm.on(GetSecretValueCommand).resolves({ SecretString: pair.pkcs8Pem, VersionId: 'v1' });
    const signer = new SecretsManagerSigner({ client, secretId: 's', cacheTtlMs: 60_000, now: () => t });
    // Act
    await Promise.all(Array.from({ length: 50 }, () => signer.currentKey()));
    t = 59_999;
    await signer.currentKey();
    const callsWithinTtl = sm.commandCalls(GetSecretValueCommand).length;
    t = 60_000;
    await signer.currentKey();
    // Assess
    expect(callsWithinTtl).toBe(1);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('refresh() forces a re-read that picks up a rotated key', async () => {
    // Prepare
    const rotated = rsaKeyPair();
    sm.on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: pair.pkcs8Pem, VersionId: 'v1' })
      .resolves({ SecretString: rotated.pkcs8Pem, VersionId: 'v2' });
    const signer = new SecretsManagerSigner({ client, secretId: 's' });
    const before = await signer.currentKey();
    // Act
    signer.refresh();
    const after = await signer.currentKey();
    // Assess
    expect(before.fingerprint).toBe(publicKeyFingerprint(pair.publicKey));
    expect(after.fingerprint).toBe(publicKeyFingerprint(rotated.publicKey));
  });

  it('does not cache a failed read', async () => {
    sm.on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }))
      .resolves({ SecretString: pair.pkcs8Pem });
    const signer = new SecretsManagerSigner({ client, secretId: 's' });
    await expect(signer.currentKey()).rejects.toMatchObject({ code: 'KEY_SOURCE_UNAVAILABLE' });
    await expect(signer.currentKey()).resolves.toMatchObject({
      fingerprint: publicKeyFingerprint(pair.publicKey),
    });
  });

  it.each([
    [
      'a missing secret',
      () =>
        sm
          .on(GetSecretValueCommand)
          .rejects(new ResourceNotFoundException({ message: 'nope', $metadata: {} })),
      'KEY_SECRET_NOT_FOUND',
    ],
    [
      'access denied',
      () =>
        sm
          .on(GetSecretValueCommand)
          .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' })),
      'KEY_SOURCE_ACCESS_DENIED',
    ],
    [
      'an empty secret',
      () => sm.on(GetSecretValueCommand).resolves({ SecretString: '' }),
      'KEY_SECRET_UNREADABLE',
    ],
    [
      'JSON without privateKey',
      () => sm.on(GetSecretValueCommand).resolves({ SecretString: '{"key":"x"}' }),
      'KEY_SECRET_UNREADABLE',
    ],
    [
      'broken JSON',
      () => sm.on(GetSecretValueCommand).resolves({ SecretString: '{"privateKey": "-----BEGIN' }),
      'KEY_SECRET_UNREADABLE',
    ],
    [
      'a wrong passphrase',
      () =>
        sm.on(GetSecretValueCommand).resolves({
          SecretString: JSON.stringify({
            privateKey: encryptedPkcs8(pair.privateKey, 'a'),
            passphrase: 'b',
          }),
        }),
      'KEY_WRONG_PASSPHRASE',
    ],
    [
      'a PKCS#1 key',
      () =>
        sm
          .on(GetSecretValueCommand)
          .resolves({ SecretString: pair.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString() }),
      'KEY_NOT_PKCS8',
    ],
  ])('%s gives %s, naming the secret and nothing of its content', async (_name, arrange, code) => {
    arrange();
    const error = await new SecretsManagerSigner({ client, secretId: 'prod/key' })
      .currentKey()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code });
    expect((error as Error).message).toContain('secretsManager:prod/key');
    const secretLines = [...pair.pkcs8Pem.split('\n').slice(1, -2), '"key":"x"', 'pw-123'];
    for (const line of secretLines) expect((error as Error).message).not.toContain(line);
  });
});
