import { randomUUID } from 'node:crypto';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../lambda/audit/audit-log';
import type { AuditRecord } from '../../../lambda/audit/record';
import { parseConfig } from '../../../lambda/config/load';
import { createHttpHandler } from '../../../lambda/handlers/http';
import { createRotateKeyHandler, type RotationEvent } from '../../../lambda/handlers/rotate-key';
import { loadPrivateKey } from '../../../lambda/keys/private-key';
import { parsePrivateKeySecret } from '../../../lambda/keys/secrets-manager-signer';
import { createRuntime, type Runtime } from '../../../lambda/runtime';
import { publicKeyFingerprint } from '../../../lambda/snowflake/fingerprint';
import { type EmulatorFixture, emulatorFixture } from '../../support/emulator';
import { lambdaContext, ROLE_ARN, ROLE_SESSION, restEvent } from '../../support/events';
import { FakeSecretsManager } from '../../support/fake-secrets-manager';
import { encryptedPkcs8 } from '../../support/keys';
import { fp } from '../../support/raw-jwt';

const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

describe('zero-downtime key rotation (Secrets Manager 4-step protocol)', () => {
  let fx: EmulatorFixture;
  let sm: FakeSecretsManager;
  let records: AuditRecord[];
  const configFor = (cacheTtlSeconds: number, cache = true) =>
    parseConfig({
      connections: {
        demo: {
          account: 'myorg-acct',
          user: 'svc',
          role: 'TOKEN_VENDOR',
          apiBaseUrl: fx.emulator.url,
          key: { secretsManager: { secretId: 'tv/demo', cacheTtlSeconds } },
        },
      },
      postgresInstances: [
        {
          connection: 'demo',
          instance: 'reporting_server',
          host: 'h.example',
          allowedUsers: ['reporting_user'],
        },
      ],
      grants: [
        { principal: ROLE_ARN, postgres: [{ instance: 'reporting_server', usernames: ['reporting_user'] }] },
      ],
      cache: { enabled: cache },
    });
  const runtimeFor = (cacheTtlSeconds: number, cache = true): Promise<Runtime> =>
    createRuntime({
      config: configFor(cacheTtlSeconds, cache),
      secretsManager: () => sm.client,
      retry: { baseDelayMs: 5, maxDelayMs: 20 },
    });
  const rotator = (runtime: Runtime) =>
    createRotateKeyHandler({
      runtime: () => runtime,
      audit: new AuditLog({ info: (_m, a) => records.push(a as unknown as AuditRecord) }),
    });
  const event = (
    Step: RotationEvent['Step'],
    token: string,
    SecretId = sm.arn('tv/demo'),
  ): RotationEvent => ({ SecretId, ClientRequestToken: token, Step });
  const fingerprintOf = (stage: string) => {
    const secret = parsePrivateKeySecret(sm.valueOf('tv/demo', stage)!, 'test');
    return publicKeyFingerprint(loadPrivateKey(secret.privateKey, secret.passphrase, 'test'));
  };
  const registered = () => ({
    1: fx.emulator.users.get('SVC')!.rsaPublicKey,
    2: fx.emulator.users.get('SVC')!.rsaPublicKey2,
  });

  beforeEach(async () => {
    fx = await emulatorFixture();
    sm = new FakeSecretsManager();
    sm.create(
      'tv/demo',
      JSON.stringify({
        privateKey: encryptedPkcs8(fx.key.privateKey, 'old-passphrase'),
        passphrase: 'old-passphrase',
      }),
    );
    records = [];
  });
  afterEach(() => fx.emulator.close());

  it('rotates while a loop keeps vending: zero failures, new key current and registered, old key still registered', async () => {
    // Prepare: the vending function re-reads its key every second and mints on every request (no token cache)
    const vendingRuntime = await runtimeFor(1, false);
    const http = createHttpHandler({
      vendor: () => vendingRuntime.vendor,
      audit: new AuditLog({ info: () => {} }),
      metrics: new Metrics({ namespace: 'TokenVendorTest', serviceName: 'token-vendor' }),
    });
    const rotate = rotator(await runtimeFor(300));
    const oldFingerprint = fp(fx.key.privateKey);
    let stop = false;
    const statuses: number[] = [];
    const loop = (async () => {
      while (!stop) {
        const res = (await http(
          restEvent(
            '/v1/tokens/postgres',
            { instance: 'reporting_server', username: 'reporting_user' },
            ROLE_SESSION,
          ),
          lambdaContext(),
        )) as APIGatewayProxyResult;
        statuses.push(res.statusCode);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const pause = () => new Promise((r) => setTimeout(r, 150));

    // Act: Secrets Manager starts a rotation and calls the four steps
    const token = randomUUID();
    sm.startRotation('tv/demo', token);
    for (const step of STEPS) {
      await pause();
      await rotate(event(step, token), lambdaContext());
    }
    await new Promise((r) => setTimeout(r, 1300)); // past the vending function's key cache TTL
    stop = true;
    await loop;

    // Assess
    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const newFingerprint = fingerprintOf('AWSCURRENT');
    expect(newFingerprint).not.toBe(oldFingerprint);
    expect(sm.stagesOf('tv/demo')[token]).toEqual(['AWSCURRENT']);
    expect(fingerprintOf('AWSPREVIOUS')).toBe(oldFingerprint);
    const slots = registered();
    const { fingerprintOfBody } = await import('../../../dev/emulator/state');
    expect(fingerprintOfBody(slots[1]!)).toBe(oldFingerprint); // the old key stays in slot 1
    expect(fingerprintOfBody(slots[2]!)).toBe(newFingerprint); // the new key went to the free slot
    // The vending function's key cache now holds the new key (its SQL API JWT, signed earlier with the
    // old key, stays valid until renewal because the old key is still registered)
    expect((await vendingRuntime.connection('demo').signer!.currentKey()).fingerprint).toBe(newFingerprint);
    // A cold container signs with the new key from its first request
    const cold = await runtimeFor(300, false);
    const coldHttp = createHttpHandler({
      vendor: () => cold.vendor,
      audit: new AuditLog({ info: () => {} }),
      metrics: new Metrics({ namespace: 'TokenVendorTest' }),
    });
    const coldAnswer = (await coldHttp(
      restEvent(
        '/v1/tokens/postgres',
        { instance: 'reporting_server', username: 'reporting_user' },
        ROLE_SESSION,
      ),
      lambdaContext(),
    )) as APIGatewayProxyResult;
    expect(coldAnswer.statusCode).toBe(200);
    const lastJwt = fx.emulator.requests.filter((r) => r.method === 'POST').at(-1)!.headers.authorization!;
    expect(
      (JSON.parse(Buffer.from(lastJwt.split('.')[1]!, 'base64url').toString()).iss as string).endsWith(
        newFingerprint,
      ),
    ).toBe(true);
    // The new secret stays encrypted, with a fresh passphrase
    const newSecret = JSON.parse(sm.valueOf('tv/demo', 'AWSCURRENT')!);
    expect(newSecret.privateKey).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    expect(newSecret.passphrase).not.toBe('old-passphrase');
    expect(
      records.map((r) => [
        r.event,
        (r.detail as { step: string }).step,
        (r.detail as { outcome: string }).outcome,
      ]),
    ).toEqual(STEPS.map((s) => ['key.rotated', s, 'done']));
    expect(JSON.stringify(records)).not.toContain(newSecret.passphrase);
  });

  it('re-running every step with the same token does no harm', async () => {
    const rotate = rotator(await runtimeFor(300));
    const token = randomUUID();
    sm.startRotation('tv/demo', token);
    const snapshots: string[] = [];
    for (const step of STEPS) {
      await rotate(event(step, token), lambdaContext());
      const before = JSON.stringify({
        stages: sm.stagesOf('tv/demo'),
        pending: sm.valueOf('tv/demo', 'AWSPENDING'),
        keys: registered(),
      });
      const alters = fx.emulator.executionsOf('alter-user').length;
      const again = await rotate(event(step, token), lambdaContext());
      const after = JSON.stringify({
        stages: sm.stagesOf('tv/demo'),
        pending: sm.valueOf('tv/demo', 'AWSPENDING'),
        keys: registered(),
      });
      expect(after).toBe(before);
      expect(fx.emulator.executionsOf('alter-user')).toHaveLength(alters);
      if (step !== 'testSecret') expect(again.outcome).toBe('already-done');
      snapshots.push(after);
    }
    expect(sm.stagesOf('tv/demo')[token]).toEqual(['AWSCURRENT']);
  });

  it('a second rotation overwrites the slot of the oldest key, never the current one', async () => {
    const rotate = rotator(await runtimeFor(0));
    const first = randomUUID();
    sm.startRotation('tv/demo', first);
    for (const step of STEPS) await rotate(event(step, first), lambdaContext());
    const afterFirst = fingerprintOf('AWSCURRENT');
    const second = randomUUID();
    sm.startRotation('tv/demo', second);
    for (const step of STEPS) await rotate(event(step, second), lambdaContext());
    const { fingerprintOfBody } = await import('../../../dev/emulator/state');
    const slots = registered();
    expect(fingerprintOfBody(slots[2]!)).toBe(afterFirst); // the previous key keeps its slot
    expect(fingerprintOfBody(slots[1]!)).toBe(fingerprintOf('AWSCURRENT')); // the original key's slot was reused
  });

  it('testSecret fails with SNOWFLAKE_AUTH_FAILED when the new key is not registered', async () => {
    const rotate = rotator(await runtimeFor(300));
    const token = randomUUID();
    sm.startRotation('tv/demo', token);
    await rotate(event('createSecret', token), lambdaContext());
    await expect(rotate(event('testSecret', token), lambdaContext())).rejects.toMatchObject({
      code: 'SNOWFLAKE_AUTH_FAILED',
    });
    expect(records.at(-1)).toMatchObject({ event: 'key.rotated', errorCode: 'SNOWFLAKE_AUTH_FAILED' });
  });

  it('refuses a secret no connection uses, and a malformed event', async () => {
    const rotate = rotator(await runtimeFor(300));
    sm.create('tv/other', 'x');
    await expect(
      rotate(event('createSecret', randomUUID(), 'tv/other'), lambdaContext()),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(rotate({ Step: 'dance' } as never, lambdaContext())).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
    });
  });
});
