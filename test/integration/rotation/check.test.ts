import { Metrics } from '@aws-lambda-powertools/metrics';
import { DescribeKeyCommand, GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../lambda/audit/audit-log';
import type { AuditRecord } from '../../../lambda/audit/record';
import { parseConfig } from '../../../lambda/config/load';
import type { ConfigInput } from '../../../lambda/config/schema';
import { createRotationCheckHandler } from '../../../lambda/handlers/rotation-check';
import { checkKeys } from '../../../lambda/rotation/check';
import { createRuntime } from '../../../lambda/runtime';
import { type EmulatorFixture, emulatorFixture } from '../../support/emulator';
import { lambdaContext } from '../../support/events';
import { FakeSecretsManager } from '../../support/fake-secrets-manager';
import { rsaKeyPair } from '../../support/keys';
import { fp } from '../../support/raw-jwt';

const DAY = 86_400_000;

describe('rotation check against the emulator', () => {
  let fx: EmulatorFixture;
  const t0 = Date.now();
  beforeAll(async () => {
    fx = await emulatorFixture();
  });
  afterAll(() => fx.emulator.close());

  async function setup(
    options: { ageDays?: number; pem?: string; extra?: ConfigInput['connections']; now?: number } = {},
  ) {
    const sm = new FakeSecretsManager(() => t0);
    sm.create('tv/demo', options.pem ?? fx.key.pkcs8Pem, (options.ageDays ?? 10) * DAY);
    const config = parseConfig({
      connections: {
        demo: {
          account: 'myorg-acct',
          user: 'svc',
          role: 'TOKEN_VENDOR',
          apiBaseUrl: fx.emulator.url,
          key: { secretsManager: { secretId: 'tv/demo' } },
        },
        ...options.extra,
      },
    });
    const now = () => options.now ?? t0;
    const runtime = await createRuntime({
      config,
      secretsManager: () => sm.client,
      now,
      retry: { baseDelayMs: 5, maxDelayMs: 20, maxAttempts: 2 },
    });
    return { config, runtime, now };
  }

  it('reports a key registered in slot 1 as OK, with its fingerprint and age', async () => {
    const { config, runtime, now } = await setup();
    const report = await checkKeys(config, runtime.connection, { now });
    expect(report.connections).toEqual([
      expect.objectContaining({
        connection: 'demo',
        status: 'OK',
        slot: 1,
        fingerprint: fp(fx.key.privateKey),
        ageDays: 10,
        account: 'myorg-acct',
        user: 'svc',
      }),
    ]);
    expect(report.checkedAt).toBe(new Date(t0).toISOString());
  });

  it('reports a key registered in slot 2 as OK', async () => {
    const other = rsaKeyPair();
    fx.emulator.setUserKey('SVC', 2, other.publicKey);
    try {
      const { config, runtime, now } = await setup({ pem: other.pkcs8Pem });
      const [demo] = (await checkKeys(config, runtime.connection, { now })).connections;
      expect(demo).toMatchObject({ status: 'OK', slot: 2 });
    } finally {
      fx.emulator.setUserKey('SVC', 2, undefined);
    }
  });

  it('reports an unregistered key as NOT_REGISTERED, naming its fingerprint and what to do', async () => {
    const stranger = rsaKeyPair();
    const { config, runtime, now } = await setup({ pem: stranger.pkcs8Pem });
    const [demo] = (await checkKeys(config, runtime.connection, { now })).connections;
    expect(demo).toMatchObject({
      connection: 'demo',
      status: 'NOT_REGISTERED',
      fingerprint: fp(stranger.privateKey),
    });
    expect(demo!.detail).toContain(fp(stranger.privateKey));
    expect(demo!.detail).toMatch(/ALTER USER SVC SET RSA_PUBLIC_KEY_2/);
  });

  it('reports ERROR, not NOT_REGISTERED, when Snowflake only says the generic 390144', async () => {
    const generic = await emulatorFixture({ key: fx.key, genericJwtErrors: true });
    try {
      const sm = new FakeSecretsManager(() => t0);
      sm.create('tv/demo', rsaKeyPair().pkcs8Pem);
      const config = parseConfig({
        connections: {
          demo: {
            account: 'myorg-acct',
            user: 'svc',
            apiBaseUrl: generic.emulator.url,
            key: { secretsManager: { secretId: 'tv/demo' } },
          },
        },
      });
      const runtime = await createRuntime({ config, secretsManager: () => sm.client });
      const [demo] = (await checkKeys(config, runtime.connection)).connections;
      expect(demo).toMatchObject({ status: 'ERROR', errorCode: 'SNOWFLAKE_AUTH_FAILED' });
      expect(demo!.detail).toMatch(/SHA256:/);
    } finally {
      await generic.emulator.close();
    }
  });

  it.each([
    [89, 'OK'],
    [90, 'ROTATION_DUE'],
    [119, 'ROTATION_DUE'],
    [120, 'OVERDUE'],
    [400, 'OVERDUE'],
  ])('a key %i days old is %s (defaults: due at 90, overdue at 120)', async (ageDays, status) => {
    const { config, runtime, now } = await setup({ ageDays });
    const [demo] = (await checkKeys(config, runtime.connection, { now })).connections;
    expect(demo).toMatchObject({ status, ageDays });
  });

  it('reports ERROR for an unreachable connection and keeps the other results', async () => {
    const { config, runtime, now } = await setup({
      extra: {
        down: {
          account: 'myorg-acct',
          user: 'svc',
          apiBaseUrl: 'http://127.0.0.1:1',
          key: { secretsManager: { secretId: 'tv/demo' } },
        },
      },
    });
    const report = await checkKeys(config, runtime.connection, { now, deadline: Date.now() + 3000 });
    expect(report.connections.map((c) => [c.connection, c.status])).toEqual([
      ['demo', 'OK'],
      ['down', 'ERROR'],
    ]);
    expect(report.connections[1]).toMatchObject({
      errorCode: 'SNOWFLAKE_UNAVAILABLE',
      detail: expect.stringContaining('Fix the cause'),
    });
  });

  it('takes a KMS key age from its creation date', async () => {
    const kmsKey = rsaKeyPair();
    fx.emulator.setUserKey('SVC', 2, kmsKey.publicKey);
    const kmsClient = new KMSClient({ region: 'us-east-1' });
    const kms = mockClient(kmsClient);
    kms.on(GetPublicKeyCommand).resolves({
      KeyId: 'arn:aws:kms:us-east-1:111122223333:key/k',
      PublicKey: new Uint8Array(kmsKey.publicKey.export({ type: 'spki', format: 'der' })),
      KeySpec: 'RSA_2048',
      KeyUsage: 'SIGN_VERIFY',
      SigningAlgorithms: ['RSASSA_PKCS1_V1_5_SHA_256'],
    });
    kms
      .on(DescribeKeyCommand)
      .resolves({ KeyMetadata: { KeyId: 'k', CreationDate: new Date(t0 - 100 * DAY) } });
    try {
      const config = parseConfig({
        connections: {
          demo: {
            account: 'myorg-acct',
            user: 'svc',
            apiBaseUrl: fx.emulator.url,
            key: { secretsManager: { secretId: 'tv/demo' } },
          },
          viakms: {
            account: 'myorg-acct',
            user: 'svc',
            apiBaseUrl: fx.emulator.url,
            key: { kms: { keyId: 'alias/k' } },
          },
        },
      });
      const sm = new FakeSecretsManager(() => t0);
      sm.create('tv/demo', fx.key.pkcs8Pem);
      // DESC USER for viakms runs over a JWT signed by KMS: sign with the real key behind the mock
      const { constants, privateEncrypt } = await import('node:crypto');
      const { SignCommand } = await import('@aws-sdk/client-kms');
      const prefix = Buffer.from('3031300d060960864801650304020105000420', 'hex');
      kms.on(SignCommand).callsFake((input: { Message: Uint8Array }) => ({
        Signature: privateEncrypt(
          { key: kmsKey.privateKey, padding: constants.RSA_PKCS1_PADDING },
          Buffer.concat([prefix, input.Message]),
        ),
      }));
      const runtime = await createRuntime({
        config,
        secretsManager: () => sm.client,
        kms: () => kmsClient,
        now: () => t0,
      });
      const report = await checkKeys(config, runtime.connection, { now: () => t0 });
      expect(report.connections.find((c) => c.connection === 'viakms')).toMatchObject({
        status: 'ROTATION_DUE',
        slot: 2,
        ageDays: 100,
      });
    } finally {
      kms.restore();
      fx.emulator.setUserKey('SVC', 2, undefined);
    }
  });

  it('the scheduled handler returns the report and writes one key.rotation-checked record', async () => {
    const { runtime, now } = await setup({ ageDays: 95 });
    const records: AuditRecord[] = [];
    const handler = createRotationCheckHandler({
      runtime: () => runtime,
      audit: new AuditLog({ info: (_m, a) => records.push(a as unknown as AuditRecord) }),
      metrics: new Metrics({ namespace: 'TokenVendorTest', serviceName: 'token-vendor' }),
      now,
    });
    const report = await handler({ source: 'aws.events', 'detail-type': 'Scheduled Event' }, lambdaContext());
    expect(report.connections[0]).toMatchObject({ connection: 'demo', status: 'ROTATION_DUE' });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      event: 'key.rotation-checked',
      trigger: 'schedule',
      errorCode: 'demo:ROTATION_DUE',
      detail: {
        connections: [
          expect.objectContaining({ connection: 'demo', status: 'ROTATION_DUE', slot: 1, ageDays: 95 }),
        ],
      },
    });
  });
});
