import { CreateTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../lambda/audit/audit-log';
import type { AuditRecord } from '../../../lambda/audit/record';
import { parseConfig } from '../../../lambda/config/load';
import type { ConfigInput } from '../../../lambda/config/schema';
import { createRotateKeyHandler, type RotationEvent } from '../../../lambda/handlers/rotate-key';
import { loadPrivateKey } from '../../../lambda/keys/private-key';
import { parsePrivateKeySecret } from '../../../lambda/keys/secrets-manager-signer';
import { readRekey } from '../../../lambda/rotation/rotate-now';
import { createRuntime, type Runtime } from '../../../lambda/runtime';
import { publicKeyFingerprint } from '../../../lambda/snowflake/fingerprint';
import { type EmulatorFixture, emulatorFixture } from '../../support/emulator';
import { lambdaContext, ROLE_ARN } from '../../support/events';
import { FakeSecretsManager } from '../../support/fake-secrets-manager';
import { fp } from '../../support/raw-jwt';
import { type Dynalite, startDynalite } from '../../support/shared-cache';

/**
 * `token-vendor rotate-now` as the rotate-key function runs it: the four steps with a `rotate-now-`
 * version, against the strict emulator, Secrets Manager's versioning (aws-sdk-client-mock) and the
 * revocation list on dynalite. A second "container" that cached a JWT signed with the old key shows the
 * fleet side: it reads the `rekey` entry, drops that JWT and its cached key, and signs with the new one.
 */
const TABLE = 'token-vendor-revocations';
const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

describe('rotate-now: rotate, tell the fleet, then remove the old key from Snowflake', () => {
  let fx: EmulatorFixture;
  let sm: FakeSecretsManager;
  let db: Dynalite;
  let records: AuditRecord[];
  let config: ConfigInput;

  beforeEach(async () => {
    [fx, db] = await Promise.all([emulatorFixture(), startDynalite()]);
    await db.client().send(
      new CreateTableCommand({
        TableName: TABLE,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    sm = new FakeSecretsManager();
    sm.create('tv/demo', fx.key.pkcs8Pem);
    records = [];
    config = {
      connections: {
        demo: {
          account: 'myorg-acct',
          user: 'svc',
          role: 'TOKEN_VENDOR',
          apiBaseUrl: fx.emulator.url,
          key: { secretsManager: { secretId: 'tv/demo', cacheTtlSeconds: 300 } },
        },
      },
      grants: [{ principal: ROLE_ARN, snowflakeJwt: ['demo'] }],
      revocations: { dynamodb: { tableName: TABLE }, refreshSeconds: 1 },
    };
  });
  afterEach(async () => {
    await Promise.all([fx.emulator.close(), db.close()]);
  });

  const container = (input: ConfigInput = config) =>
    createRuntime({
      config: parseConfig(input),
      secretsManager: () => sm.client,
      dynamodb: () => db.client(),
      retry: { baseDelayMs: 5, maxDelayMs: 20 },
    });
  const rotator = (runtime = container(), sleeps: number[] = []) =>
    createRotateKeyHandler({
      runtime: () => runtime,
      audit: new AuditLog({ info: (_m, a) => records.push(a as unknown as AuditRecord) }),
      sleep: async (ms) => {
        sleeps.push(ms);
        await new Promise((r) => setTimeout(r, ms));
      },
    });
  const event = (Step: RotationEvent['Step'], token: string): RotationEvent => ({
    SecretId: sm.arn('tv/demo'),
    ClientRequestToken: token,
    Step,
  });
  const currentFingerprint = () => {
    const secret = parsePrivateKeySecret(sm.valueOf('tv/demo', 'AWSCURRENT')!, 'test');
    return publicKeyFingerprint(loadPrivateKey(secret.privateKey, secret.passphrase, 'test'));
  };
  const jwtOf = async (runtime: Runtime) =>
    (
      await runtime.vendor.vend(
        { kind: 'http', principalArn: ROLE_ARN },
        { tokenType: 'snowflake-jwt', connection: 'demo' },
        { deadline: Date.now() + 10_000 },
      )
    ).response.token;
  /** What Snowflake's SQL API says to a statement signed with `jwt`. */
  const sqlWith = async (jwt: string) => {
    const res = await fetch(`${fx.emulator.url}/api/v2/statements`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${jwt}`,
        'x-snowflake-authorization-token-type': 'KEYPAIR_JWT',
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: JSON.stringify({ statement: 'SELECT CURRENT_USER()' }),
    });
    return { status: res.status, code: ((await res.json()) as { code?: string }).code };
  };
  const issuerFingerprint = (jwt: string) =>
    (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { iss: string }).iss.replace(
      /^.*\.(SHA256:)/,
      '$1',
    );

  it('the old key is removed only after the fleet was told; JWTs signed with it stop working, the fleet’s do not', async () => {
    const oldFingerprint = fp(fx.key.privateKey);
    const fleet = await container();
    const oldJwt = await jwtOf(fleet);
    expect(issuerFingerprint(oldJwt)).toBe(oldFingerprint);
    expect(await jwtOf(fleet)).toBe(oldJwt); // served from its cache
    expect((await sqlWith(oldJwt)).status).toBe(200);

    const sleeps: number[] = [];
    const rotate = rotator(container(), sleeps);
    const token = `rotate-now-${crypto.randomUUID()}`;
    sm.startRotation('tv/demo', token);
    const started = Date.now();
    for (const step of STEPS) await rotate(event(step, token), lambdaContext());
    const newFingerprint = currentFingerprint();
    expect(newFingerprint).not.toBe(oldFingerprint);

    // It waited the list's refresh + 2 s after the entry before removing anything.
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThan(2900);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
    const user = fx.emulator.users.get('SVC')!;
    const { fingerprintOfBody } = await import('../../../dev/emulator/state');
    const registered = [user.rsaPublicKey, user.rsaPublicKey2].flatMap((b) =>
      b ? [fingerprintOfBody(b)] : [],
    );
    expect(registered).toEqual([newFingerprint]);

    // The JWT signed with the old key is refused at Snowflake now: the point of rotate-now.
    expect(await sqlWith(oldJwt)).toEqual({ status: 401, code: '394304' });
    // The warm container read the rekey entry: it serves a fresh JWT signed with the new key, not its
    // cached one, and it re-read the key although its cache TTL (300 s) had not run out.
    const fresh = await jwtOf(fleet);
    expect(fresh).not.toBe(oldJwt);
    expect(issuerFingerprint(fresh)).toBe(newFingerprint);
    expect((await sqlWith(fresh)).status).toBe(200);

    const rekey = await readRekey({ client: db.client(), tableName: TABLE }, 'demo');
    expect(rekey).toMatchObject({ version: token, removedSlot: 1, removedFingerprint: oldFingerprint });
    expect(rekey!.removedAt! - rekey!.at).toBeGreaterThanOrEqual(3000);
    const finish = records.find((r) => (r.detail as { step?: string }).step === 'finishSecret')!;
    expect(finish.detail).toMatchObject({
      rotateNow: true,
      previousKey: 'removed',
      removedSlot: 1,
      removedFingerprint: oldFingerprint,
    });
    expect(JSON.stringify(records)).not.toContain('PRIVATE KEY');

    // Secrets Manager retries a step it thinks failed: the retry changes nothing and waits for nothing.
    const alters = fx.emulator.executionsOf('alter-user').length;
    await rotate(event('finishSecret', token), lambdaContext());
    expect(fx.emulator.executionsOf('alter-user')).toHaveLength(alters);
    expect(sleeps).toHaveLength(1);
  });

  it('a scheduled rotation (any other version id) keeps the old key registered and writes no rekey entry', async () => {
    const rotate = rotator();
    const token = crypto.randomUUID();
    sm.startRotation('tv/demo', token);
    for (const step of STEPS) await rotate(event(step, token), lambdaContext());
    const user = fx.emulator.users.get('SVC')!;
    expect(user.rsaPublicKey && user.rsaPublicKey2).toBeTruthy();
    expect(await readRekey({ client: db.client(), tableName: TABLE }, 'demo')).toBeUndefined();
  });

  it('without a revocation list it rotates but keeps the old key, and says why', async () => {
    const rotate = rotator(container({ ...config, revocations: { enabled: false } }));
    const token = `rotate-now-${crypto.randomUUID()}`;
    sm.startRotation('tv/demo', token);
    for (const step of STEPS) await rotate(event(step, token), lambdaContext());
    const user = fx.emulator.users.get('SVC')!;
    expect(user.rsaPublicKey && user.rsaPublicKey2).toBeTruthy();
    expect(records.at(-1)!.detail).toMatchObject({
      previousKey: 'kept',
      why: expect.stringMatching(/revocation list/),
    });
  });

  it('a hostile rekey item for another version does not make it skip the wait, and a look-alike is ignored', async () => {
    const token = `rotate-now-${crypto.randomUUID()}`;
    // Someone with table access wrote an entry claiming an old removal for a different version.
    await db.client().send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          pk: { S: 'rekey|demo' },
          kind: { S: 'rekey' },
          connection: { S: 'demo' },
          version: { S: 'rotate-now-someone-else' },
          at: { N: String(Date.now() - 3_600_000) },
          removedAt: { N: String(Date.now() - 3_600_000) },
        },
      }),
    );
    const sleeps: number[] = [];
    const rotate = rotator(container(), sleeps);
    sm.startRotation('tv/demo', token);
    for (const step of STEPS) await rotate(event(step, token), lambdaContext());
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThan(2900);
    expect(await readRekey({ client: db.client(), tableName: TABLE }, 'demo')).toMatchObject({
      version: token,
    });
  });
});
