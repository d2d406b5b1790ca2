import { randomUUID } from 'node:crypto';
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../lambda/audit/audit-log';
import type { AuditRecord } from '../../../lambda/audit/record';
import { parseConfig } from '../../../lambda/config/load';
import { createRotateKeyHandler } from '../../../lambda/handlers/rotate-key';
import { createRuntime } from '../../../lambda/runtime';
import { quoteSecretLiteral } from '../../../lambda/snowflake/sql-literal';
import { type EmulatorFixture, emulatorFixture, fixtureConfig, VENDOR_ROLE } from '../../support/emulator';
import { lambdaContext, ROLE_ARN } from '../../support/events';
import { FakeSecretsManager } from '../../support/fake-secrets-manager';

const SECRET_ID = 'tv/oauth/servicenow';
const OLD = 'old-secret-1234567890';

/**
 * Client-secret sync (issue 11): a Secrets Manager rotation of an OAuth client secret moves Snowflake's
 * copy (ALTER SECURITY INTEGRATION … SET OAUTH_CLIENT_SECRET) to the staged value, tests it against the
 * token endpoint, then makes it current, while the vendor keeps vending OAuth tokens.
 */
describe('OAuth client secret sync with the Snowflake security integration', () => {
  let fx: EmulatorFixture;
  let sm: FakeSecretsManager;
  beforeAll(async () => {
    fx = await emulatorFixture({
      oauthClients: [
        { clientId: 'vendor-client', clientSecret: OLD, allowedScopes: ['read'], expiresIn: 3600 },
      ],
      integrations: [
        {
          name: 'servicenow_oauth',
          ownerRole: VENDOR_ROLE,
          grant: 'CLIENT_CREDENTIALS',
          tokenEndpoint: 'https://unused.example/token',
          clientId: 'vendor-client',
          clientSecret: OLD,
          allowedScopes: ['read'],
        },
      ],
    });
  });
  afterEach(() => sm?.stub.restore());
  afterAll(() => fx.emulator.close());

  const setup = async () => {
    sm = new FakeSecretsManager();
    sm.create(SECRET_ID, JSON.stringify({ clientSecret: OLD }));
    const config = parseConfig({
      ...fixtureConfig(fx),
      oauthIntegrations: {
        servicenow: {
          grant: 'CLIENT_CREDENTIALS',
          tokenEndpoint: fx.emulator.tokenEndpoint,
          clientId: 'vendor-client',
          clientSecret: { secretsManager: { secretId: SECRET_ID, field: 'clientSecret' } },
          allowedScopes: ['read'],
          snowflakeIntegration: { connection: 'demo', name: 'servicenow_oauth' },
        },
      },
      grants: [{ principal: ROLE_ARN, oauth: [{ integration: 'servicenow', scopes: ['read'] }] }],
      // Every vend goes to the token endpoint: the test shows the secret in use works throughout.
      cache: { enabled: false },
    });
    const runtime = await createRuntime({ config, secretsManager: () => sm.client });
    const records: AuditRecord[] = [];
    const logged: string[] = [];
    const handler = createRotateKeyHandler({
      runtime: () => runtime,
      audit: new AuditLog({
        info: (m, a) => {
          logged.push(JSON.stringify([m, a]));
          records.push(a as unknown as AuditRecord);
        },
      }),
    });
    const rotate = async (token: string) => {
      for (const Step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) {
        await handler({ SecretId: SECRET_ID, ClientRequestToken: token, Step }, lambdaContext());
      }
    };
    const stage = (token: string, value: string) =>
      sm.client.send(
        new PutSecretValueCommand({
          SecretId: SECRET_ID,
          ClientRequestToken: token,
          SecretString: JSON.stringify({ clientSecret: value }),
          VersionStages: ['AWSPENDING'],
        }),
      );
    const vend = () =>
      runtime.vendor.vend(
        { kind: 'http', principalArn: ROLE_ARN },
        { tokenType: 'oauth', integration: 'servicenow' },
        { deadline: Date.now() + 10_000 },
      );
    return { runtime, handler, rotate, stage, vend, records, logged };
  };

  it.each([
    ['quotes', "new'secret''with\"quotes"],
    ['backslashes', 'new\\secret\\\\with\\nbackslashes\\'],
    ['newlines and tabs', 'new\nsecret\r\nwith\ttabs'],
    ['everything at once', "a'\\\n\t\"b\\'c"],
  ])(
    'a staged secret with %s reaches Snowflake exactly and never a log; vending never stops',
    async (_name, next) => {
      const { rotate, stage, vend, records, logged } = await setup();
      // The provider has issued the new secret and accepts both while the rotation runs
      fx.emulator.oauthClients.set('vendor-client', {
        clientId: 'vendor-client',
        clientSecret: OLD,
        nextClientSecret: next,
        allowedScopes: ['read'],
        expiresIn: 3600,
      });
      const token = randomUUID();
      await stage(token, next);
      const statementsBefore = fx.emulator.executions.length;
      const vending = (async () => {
        let ok = 0;
        for (let i = 0; i < 20; i += 1) {
          await vend();
          ok += 1;
        }
        return ok;
      })();
      await rotate(token);
      expect(await vending).toBe(20);
      expect(fx.emulator.integrations.get('SERVICENOW_OAUTH')?.clientSecret).toBe(next);
      expect(sm.valueOf(SECRET_ID, 'AWSCURRENT')).toBe(JSON.stringify({ clientSecret: next }));
      // The ALTER carried the secret as Snowflake's own literal syntax, and ran once
      const alters = fx.emulator.executions
        .slice(statementsBefore)
        .filter((e) => e.statement.includes('OAUTH_CLIENT_SECRET'));
      expect(alters.map((e) => e.statement)).toEqual([
        `ALTER SECURITY INTEGRATION "SERVICENOW_OAUTH" SET OAUTH_CLIENT_SECRET = ${quoteSecretLiteral(next)}`,
      ]);
      expect(records.map((r) => [r.event, (r.detail as { step: string }).step, r.errorCode])).toEqual([
        ['client-secret.rotated', 'createSecret', undefined],
        ['client-secret.rotated', 'setSecret', undefined],
        ['client-secret.rotated', 'testSecret', undefined],
        ['client-secret.rotated', 'finishSecret', undefined],
      ]);
      for (const line of logged) {
        expect(line).not.toContain(next);
        expect(line).not.toContain(JSON.stringify(next).slice(1, -1));
      }
      // After the rotation the provider retires the old secret: the vendor, once its cache expires, uses the new one
      fx.emulator.oauthClients.set('vendor-client', {
        clientId: 'vendor-client',
        clientSecret: next,
        allowedScopes: ['read'],
        expiresIn: 3600,
      });
      fx.emulator.integrations.get('SERVICENOW_OAUTH')!.clientSecret = OLD; // reset for the next case
    },
  );

  it('refuses to rotate without a staged secret, or with the current one, and changes nothing', async () => {
    const { handler, stage } = await setup();
    const missing = randomUUID();
    const error = await handler(
      { SecretId: SECRET_ID, ClientRequestToken: missing, Step: 'createSecret' },
      lambdaContext(),
    ).catch((e: unknown) => e as Error);
    expect((error as Error).message).toMatch(/stage the provider's new client secret first/);
    const same = randomUUID();
    await stage(same, OLD);
    const unchanged = await handler(
      { SecretId: SECRET_ID, ClientRequestToken: same, Step: 'createSecret' },
      lambdaContext(),
    ).catch((e: unknown) => e as Error);
    expect((unchanged as Error).message).toMatch(/is the current one/);
    expect((unchanged as Error).message).not.toContain(OLD);
    expect(fx.emulator.integrations.get('SERVICENOW_OAUTH')?.clientSecret).toBe(OLD);
  });

  it('setSecret refused by Snowflake (the role lost OWNERSHIP) says so with the code only, never the secret', async () => {
    const { handler, stage } = await setup();
    const token = randomUUID();
    const next = 'next-secret-that-must-not-leak';
    await stage(token, next);
    await handler({ SecretId: SECRET_ID, ClientRequestToken: token, Step: 'createSecret' }, lambdaContext());
    const integration = fx.emulator.integrations.get('SERVICENOW_OAUTH')!;
    integration.ownerRole = 'ACCOUNTADMIN';
    try {
      const error = await handler(
        { SecretId: SECRET_ID, ClientRequestToken: token, Step: 'setSecret' },
        lambdaContext(),
      ).catch((e: unknown) => e as Error);
      expect((error as Error).message).toMatch(/Snowflake refused ALTER SECURITY INTEGRATION .* \(003001\)/);
      expect(JSON.stringify(error) + (error as Error).message).not.toContain(next);
      expect(integration.clientSecret).toBe(OLD);
    } finally {
      integration.ownerRole = VENDOR_ROLE;
    }
  });

  it('testSecret fails, and AWSCURRENT stays, when the token endpoint refuses the pending secret', async () => {
    const { handler, stage } = await setup();
    fx.emulator.oauthClients.set('vendor-client', {
      clientId: 'vendor-client',
      clientSecret: OLD,
      allowedScopes: ['read'],
      expiresIn: 3600,
    });
    const token = randomUUID();
    const wrong = 'not-what-the-provider-issued';
    await stage(token, wrong);
    await handler({ SecretId: SECRET_ID, ClientRequestToken: token, Step: 'createSecret' }, lambdaContext());
    await handler({ SecretId: SECRET_ID, ClientRequestToken: token, Step: 'setSecret' }, lambdaContext());
    const error = await handler(
      { SecretId: SECRET_ID, ClientRequestToken: token, Step: 'testSecret' },
      lambdaContext(),
    ).catch((e: unknown) => e as Error);
    expect((error as Error).message).toMatch(/refused the pending client secret.*AWSCURRENT stays/);
    expect((error as Error).message).not.toContain(wrong);
    expect(sm.valueOf(SECRET_ID, 'AWSCURRENT')).toBe(JSON.stringify({ clientSecret: OLD }));
    fx.emulator.integrations.get('SERVICENOW_OAUTH')!.clientSecret = OLD;
  });
});
