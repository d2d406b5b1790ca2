import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { InvalidRequestException, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../lambda/audit/audit-log';
import { parseConfig } from '../../../lambda/config/load';
import { createRotateKeyHandler } from '../../../lambda/handlers/rotate-key';
import { createRuntime } from '../../../lambda/runtime';
import { runCli } from '../../support/cli';
import { type EmulatorFixture, emulatorFixture } from '../../support/emulator';
import { lambdaContext, ROLE_ARN } from '../../support/events';
import { FakeSecretsManager } from '../../support/fake-secrets-manager';
import { fp } from '../../support/raw-jwt';
import { type Dynalite, startDynalite } from '../../support/shared-cache';

/**
 * `token-vendor rotate-now` against a "deployed" stack: the CLI's own AWS clients reach Secrets Manager
 * (aws-sdk-client-mock, with its versioning, whose RotateSecret runs the real rotate-key handler's four
 * steps as Secrets Manager would) and the revocation list on dynalite (through AWS_ENDPOINT_URL_DYNAMODB).
 * The operator's credentials never read the key; the old key is gone from the strict emulator afterwards.
 */
const TABLE = 'tv-revocations';
const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

describe('token-vendor rotate-now (deployed)', () => {
  let fx: EmulatorFixture;
  let db: Dynalite;
  let sm: FakeSecretsManager;
  let dir: string;
  let configFile: string;
  let env: Record<string, string>;
  const saved: Record<string, string | undefined> = {};

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
    sm = new FakeSecretsManager(Date.now, { everyClient: true });
    sm.create('tv/demo', fx.key.pkcs8Pem);
    dir = mkdtempSync(join(tmpdir(), 'tv-rotate-now-'));
    const config = {
      connections: {
        demo: {
          account: 'myorg-acct',
          user: 'svc',
          role: 'TOKEN_VENDOR',
          apiBaseUrl: fx.emulator.url,
          key: { secretsManager: { secretId: 'tv/demo' } },
        },
        keyless: {
          account: 'myorg-acct',
          user: 'svc2',
          apiBaseUrl: fx.emulator.url,
          workloadIdentity: { provider: 'AWS' },
        },
      },
      grants: [{ principal: ROLE_ARN, snowflakeJwt: ['demo'] }],
      revocations: { dynamodb: { tableName: TABLE }, refreshSeconds: 1 },
    };
    configFile = join(dir, 'deployed.json');
    writeFileSync(configFile, JSON.stringify(config));
    // The deployed rotate-key function, as Secrets Manager runs it after RotateSecret.
    const rotate = createRotateKeyHandler({
      runtime: () =>
        createRuntime({
          config: parseConfig(config),
          secretsManager: () => sm.client,
          dynamodb: () => db.client(),
        }),
      audit: new AuditLog({ info: () => {} }),
    });
    sm.stub.on(RotateSecretCommand).callsFake((input: { SecretId: string; ClientRequestToken: string }) => {
      const token = input.ClientRequestToken;
      sm.startRotation('tv/demo', token);
      setImmediate(async () => {
        for (const Step of STEPS)
          await rotate({ SecretId: sm.arn('tv/demo'), ClientRequestToken: token, Step }, lambdaContext());
      });
      return { ARN: sm.arn('tv/demo'), Name: 'tv/demo', VersionId: token };
    });
    // The SDK reads its endpoint override and credentials from the process environment.
    for (const [k, v] of Object.entries({
      AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
      AWS_ACCESS_KEY_ID: 'AKIAOPERATOR00000000',
      AWS_SECRET_ACCESS_KEY: 'operator-secret',
      AWS_REGION: 'us-east-1',
    })) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    env = { TOKEN_VENDOR_LOCAL_DIR: join(dir, 'no-local-stack') };
  });
  afterEach(async () => {
    sm.stub.restore();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await Promise.all([fx.emulator.close(), db.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('rotates through Secrets Manager, waits for the rotate-key function to remove the old key, and says so', async () => {
    const oldFingerprint = fp(fx.key.privateKey);
    const { code, stdout, stderr } = await runCli(
      ['rotate-now', '--connection', 'demo', '--config', configFile, '--table', TABLE],
      { env },
    );
    expect(stderr).toMatch(/Rotating tv\/demo \(version rotate-now-[0-9a-f-]{36}\)/);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^rotated\tconnection demo\tnew key version rotate-now-/);
    expect(stdout).toContain(`removed\told key ${oldFingerprint} from slot 1 of SVC`);
    const user = fx.emulator.users.get('SVC')!;
    expect(user.rsaPublicKey).toBeUndefined();
    expect(user.rsaPublicKey2).toBeTruthy();
    expect(stdout + stderr).not.toContain('PRIVATE KEY');
  });

  it('refuses what it cannot do, before touching anything: keyless, unknown, a rotation in progress, a bad timeout', async () => {
    const run = (...args: string[]) =>
      runCli(['rotate-now', '--config', configFile, '--table', TABLE, ...args], { env });
    const keyless = await run('--connection', 'keyless');
    expect([keyless.code, keyless.stderr]).toEqual([2, expect.stringMatching(/keyless .*no key to rotate/)]);
    const unknown = await run('--connection', 'dem0');
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringMatching(/no connection named "dem0"/)]);
    const timeout = await run('--connection', 'demo', '--timeout', '5s');
    expect([timeout.code, timeout.stderr]).toEqual([2, expect.stringMatching(/--timeout must be between/)]);
    sm.startRotation('tv/demo', 'stuck-version-0000000000000000000000');
    const stuck = await run('--connection', 'demo');
    expect([stuck.code, stuck.stderr]).toEqual([
      2,
      expect.stringMatching(/already in progress \(version stuck-version/),
    ]);
    expect(sm.stub.commandCalls(RotateSecretCommand)).toHaveLength(0);
    expect(fx.emulator.executionsOf('alter-user')).toHaveLength(0);
  });

  it('a RotateSecret that AWS refuses is one clear error line, not a stack', async () => {
    sm.stub
      .on(RotateSecretCommand)
      .rejects(
        new InvalidRequestException({ message: 'A previous rotation isn’t complete.', $metadata: {} }),
      );
    const { code, stderr } = await runCli(
      ['rotate-now', '--connection', 'demo', '--config', configFile, '--table', TABLE],
      { env },
    );
    expect(code).not.toBe(0);
    expect(stderr.trim().split('\n').at(-1)).toMatch(/previous rotation/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
