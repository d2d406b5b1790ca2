import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../lambda/audit/audit-log';
import type { AuditRecord } from '../../../lambda/audit/record';
import { parseConfig } from '../../../lambda/config/load';
import type { ConfigInput } from '../../../lambda/config/schema';
import { createRotationCheckHandler } from '../../../lambda/handlers/rotation-check';
import { checkIntegrations } from '../../../lambda/integrations/drift';
import { createRuntime } from '../../../lambda/runtime';
import { SnowflakeError } from '../../../lambda/snowflake/errors';
import { runCli } from '../../support/cli';
import { type EmulatorFixture, emulatorFixture, fixtureConfig, VENDOR_ROLE } from '../../support/emulator';
import { lambdaContext } from '../../support/events';
import { writeTempFile } from '../../support/keys';

const SECRET = 'sEcReT-value-never-shown';

/**
 * Snowflake security integrations (issue 11): the emulator's grammar (seed 002), the drift check, the
 * operator commands, and the scheduled check's audit record and metrics.
 */
describe('security integrations', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await emulatorFixture();
  });
  afterAll(() => fx.emulator.close());

  const sql = () => fx.client();
  const run = (statement: string) => sql().execute(statement);
  const refused = (statement: string) =>
    run(statement).then(
      () => undefined,
      (e: unknown) => e as SnowflakeError,
    );

  beforeEach(async () => {
    fx.emulator.integrations.clear();
    await run(
      `CREATE SECURITY INTEGRATION servicenow_oauth TYPE = API_AUTHENTICATION AUTH_TYPE = OAUTH2
         OAUTH_TOKEN_ENDPOINT = 'https://acme.service-now.com/oauth_token.do'
         OAUTH_CLIENT_AUTH_METHOD = CLIENT_SECRET_POST
         OAUTH_CLIENT_ID = 'vendor-client' OAUTH_CLIENT_SECRET = '${SECRET}'
         OAUTH_GRANT = 'CLIENT_CREDENTIALS' OAUTH_ACCESS_TOKEN_VALIDITY = 3600
         OAUTH_ALLOWED_SCOPES = ('useraccount', 'read') ENABLED = TRUE`,
    );
  });

  describe('the emulator follows the seed grammar strictly', () => {
    it('DESCRIBE INTEGRATION answers (property, property_type, property_value, property_default), never the secret', async () => {
      const result = await run('DESCRIBE INTEGRATION servicenow_oauth');
      expect(result.columns.map((c) => c.name)).toEqual([
        'property',
        'property_type',
        'property_value',
        'property_default',
      ]);
      const props = Object.fromEntries(result.rows.map((r) => [r[0], r[2]]));
      expect(props).toMatchObject({
        ENABLED: 'true',
        OAUTH_GRANT: 'CLIENT_CREDENTIALS',
        OAUTH_CLIENT_ID: 'vendor-client',
        OAUTH_ACCESS_TOKEN_VALIDITY: '3600',
        OAUTH_ALLOWED_SCOPES: 'useraccount,read',
      });
      expect(JSON.stringify(result.rows)).not.toContain(SECRET);
      expect(props).not.toHaveProperty('OAUTH_CLIENT_SECRET');
    });

    it('stores a hostile secret literal exactly: quotes, backslashes and newlines', async () => {
      await run("ALTER SECURITY INTEGRATION servicenow_oauth SET OAUTH_CLIENT_SECRET = 'a''b\\\\c\\nd\\'e'");
      expect(fx.emulator.integrations.get('SERVICENOW_OAUTH')?.clientSecret).toBe("a'b\\c\nd'e");
    });

    it.each([
      [
        'a property another grant form owns',
        'ALTER SECURITY INTEGRATION servicenow_oauth SET OAUTH_REFRESH_TOKEN_VALIDITY = 10',
        '002211',
      ],
      [
        'scopes with a JWT bearer grant',
        "ALTER SECURITY INTEGRATION servicenow_oauth SET OAUTH_GRANT = 'JWT_BEARER' OAUTH_ALLOWED_SCOPES = ('a')",
        '002211',
      ],
      [
        'an unknown grant',
        "ALTER SECURITY INTEGRATION servicenow_oauth SET OAUTH_GRANT = 'PASSWORD'",
        '002211',
      ],
      [
        'ENABLED that is not a boolean',
        'ALTER SECURITY INTEGRATION servicenow_oauth SET ENABLED = YES',
        '002211',
      ],
      ['an unknown property', "ALTER SECURITY INTEGRATION servicenow_oauth SET OAUTH_MAGIC = 'x'", '001003'],
      [
        'a property given twice',
        'ALTER SECURITY INTEGRATION servicenow_oauth SET ENABLED = TRUE ENABLED = FALSE',
        '001003',
      ],
      ['SET with nothing to set', 'ALTER SECURITY INTEGRATION servicenow_oauth SET', '001003'],
      [
        'UNSET of a property the seed does not allow',
        'ALTER INTEGRATION servicenow_oauth UNSET OAUTH_CLIENT_ID',
        '001003',
      ],
      ['an integration that does not exist', 'ALTER SECURITY INTEGRATION nope SET ENABLED = TRUE', '002003'],
      ['an unterminated literal', "ALTER SECURITY INTEGRATION servicenow_oauth SET COMMENT = 'x", '001003'],
    ])('refuses %s with %s, changing nothing', async (_name, statement, code) => {
      const error = await refused(statement);
      expect(error).toBeInstanceOf(SnowflakeError);
      expect(error!.snowflakeCode).toBe(code);
      const integration = fx.emulator.integrations.get('SERVICENOW_OAUTH')!;
      expect(integration).toMatchObject({
        grant: 'CLIENT_CREDENTIALS',
        enabled: true,
        clientId: 'vendor-client',
      });
    });

    it.each([
      [
        'an integration that exists',
        "CREATE SECURITY INTEGRATION servicenow_oauth TYPE = API_AUTHENTICATION AUTH_TYPE = OAUTH2 OAUTH_CLIENT_ID = 'x'",
        '002002',
      ],
      [
        'another TYPE',
        "CREATE SECURITY INTEGRATION other TYPE = EXTERNAL_OAUTH AUTH_TYPE = OAUTH2 OAUTH_CLIENT_ID = 'x'",
        '002211',
      ],
      [
        'no AUTH_TYPE',
        "CREATE SECURITY INTEGRATION other TYPE = API_AUTHENTICATION OAUTH_CLIENT_ID = 'x'",
        '002211',
      ],
      [
        'scopes with a JWT bearer grant',
        "CREATE SECURITY INTEGRATION other TYPE = API_AUTHENTICATION AUTH_TYPE = OAUTH2 OAUTH_GRANT = 'JWT_BEARER' OAUTH_ALLOWED_SCOPES = ('a')",
        '002211',
      ],
      [
        'a refresh validity with client credentials',
        "CREATE SECURITY INTEGRATION other TYPE = API_AUTHENTICATION AUTH_TYPE = OAUTH2 OAUTH_GRANT = 'CLIENT_CREDENTIALS' OAUTH_REFRESH_TOKEN_VALIDITY = 5",
        '002211',
      ],
    ])('CREATE refuses %s (%s)', async (_name, statement, code) => {
      expect((await refused(statement))?.snowflakeCode).toBe(code);
      expect([...fx.emulator.integrations.keys()]).toEqual(['SERVICENOW_OAUTH']);
    });

    it('CREATE IF NOT EXISTS leaves an existing integration alone; OR REPLACE by its owner replaces it', async () => {
      await run(
        "CREATE SECURITY INTEGRATION IF NOT EXISTS servicenow_oauth TYPE = API_AUTHENTICATION AUTH_TYPE = OAUTH2 OAUTH_CLIENT_ID = 'other'",
      );
      expect(fx.emulator.integrations.get('SERVICENOW_OAUTH')?.clientId).toBe('vendor-client');
      await run(
        "CREATE OR REPLACE SECURITY INTEGRATION servicenow_oauth TYPE = API_AUTHENTICATION AUTH_TYPE = OAUTH2 OAUTH_GRANT = 'JWT_BEARER' OAUTH_CLIENT_ID = 'other'",
      );
      expect(fx.emulator.integrations.get('SERVICENOW_OAUTH')).toMatchObject({
        grant: 'JWT_BEARER',
        clientId: 'other',
      });
    });

    it('needs OWNERSHIP to alter; IF EXISTS and tags and UNSET behave as the seed says', async () => {
      fx.emulator.integrations.get('SERVICENOW_OAUTH')!.ownerRole = 'ACCOUNTADMIN';
      expect(
        (await refused('ALTER SECURITY INTEGRATION servicenow_oauth SET ENABLED = FALSE'))?.snowflakeCode,
      ).toBe('003001');
      fx.emulator.integrations.get('SERVICENOW_OAUTH')!.ownerRole = VENDOR_ROLE;
      await run('ALTER INTEGRATION IF EXISTS nope UNSET ENABLED');
      await run("ALTER INTEGRATION servicenow_oauth SET TAG cost_center = 'it', owner = 'secops'");
      await run('ALTER INTEGRATION servicenow_oauth UNSET TAG cost_center');
      await run('ALTER INTEGRATION servicenow_oauth UNSET ENABLED');
      const integration = fx.emulator.integrations.get('SERVICENOW_OAUTH')!;
      expect([...integration.tags]).toEqual([['OWNER', 'secops']]);
      expect(integration.enabled).toBe(false);
      const shown = await run("SHOW INTEGRATIONS LIKE 'service%'");
      expect(shown.rows).toEqual([
        ['SERVICENOW_OAUTH', 'API_AUTHENTICATION', 'SECURITY', 'false', null, expect.any(String)],
      ]);
    });
  });

  const config = (overrides: Partial<ConfigInput['oauthIntegrations'] extends infer R ? R : never> = {}) => {
    const base = fixtureConfig(fx);
    return {
      ...base,
      oauthIntegrations: {
        servicenow: {
          grant: 'CLIENT_CREDENTIALS' as const,
          tokenEndpoint: 'https://acme.service-now.com/oauth_token.do',
          clientId: 'vendor-client',
          clientSecret: { env: 'SERVICENOW_SECRET' },
          accessTokenValiditySeconds: 3600,
          allowedScopes: ['read', 'useraccount'],
          snowflakeIntegration: { connection: 'demo', name: 'servicenow_oauth' },
        },
        ...overrides,
      },
    } satisfies ConfigInput;
  };
  const check = async () => {
    const parsed = parseConfig(config());
    return checkIntegrations(parsed, (await createRuntime({ config: parsed })).connection);
  };

  describe('drift check', () => {
    it('reports OK when Snowflake matches the config (scope order does not matter)', async () => {
      expect(await check()).toEqual([
        expect.objectContaining({
          integration: 'servicenow',
          snowflakeIntegration: 'SERVICENOW_OAUTH',
          status: 'OK',
          differences: [],
        }),
      ]);
    });

    it.each([
      [
        'OAUTH_TOKEN_ENDPOINT',
        "OAUTH_TOKEN_ENDPOINT = 'https://evil.example/token'",
        'https://evil.example/token',
      ],
      ['OAUTH_CLIENT_ID', "OAUTH_CLIENT_ID = 'someone-else'", 'someone-else'],
      ['OAUTH_ACCESS_TOKEN_VALIDITY', 'OAUTH_ACCESS_TOKEN_VALIDITY = 60', '60'],
      ['OAUTH_ALLOWED_SCOPES', "OAUTH_ALLOWED_SCOPES = ('read', 'admin')", 'admin,read'],
    ])(
      'reports DRIFTED naming %s, expected vs actual, and never the secret',
      async (property, set, actual) => {
        await run(`ALTER SECURITY INTEGRATION servicenow_oauth SET ${set}`);
        const [report] = await check();
        expect(report).toMatchObject({
          status: 'DRIFTED',
          differences: [expect.objectContaining({ property, actual })],
        });
        expect(report!.differences).toHaveLength(1);
        expect(JSON.stringify(report)).not.toContain(SECRET);
      },
    );

    it('reports DISABLED, NOT_FOUND and ERROR', async () => {
      await run('ALTER SECURITY INTEGRATION servicenow_oauth SET ENABLED = FALSE');
      expect((await check())[0]).toMatchObject({
        status: 'DISABLED',
        differences: [{ property: 'ENABLED', actual: 'false' }],
      });
      fx.emulator.integrations.clear();
      expect((await check())[0]).toMatchObject({ status: 'NOT_FOUND' });
      fx.emulator.faults.push({ kind: 'server-error', status: 503 }, 20);
      const parsed = parseConfig(config());
      const [failed] = await checkIntegrations(
        parsed,
        (await createRuntime({ config: parsed, retry: { baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 2 } }))
          .connection,
      );
      fx.emulator.faults.clear();
      expect(failed).toMatchObject({ status: 'ERROR', errorCode: 'SNOWFLAKE_UNAVAILABLE' });
    });
  });

  describe('operator commands and the scheduled check', () => {
    it('disable, check (DISABLED, exit 1), enable, check (OK, exit 0), describe without the secret', async () => {
      const file = writeTempFile('config.json', JSON.stringify(config()));
      const disabled = await runCli(['integrations', 'disable', 'servicenow', '--config', file]);
      expect(disabled).toMatchObject({ code: 0, stdout: 'SERVICENOW_OAUTH\tDISABLED\n' });
      const found = await runCli(['integrations', 'check', '--config', file]);
      expect(found.code).toBe(1);
      expect(found.stdout).toMatch(/^servicenow\tDISABLED\t/);
      expect((await runCli(['integrations', 'enable', 'servicenow', '--config', file])).code).toBe(0);
      expect((await runCli(['integrations', 'check', 'servicenow', '--config', file, '--json'])).code).toBe(
        0,
      );
      const described = await runCli(['integrations', 'describe', 'servicenow', '--config', file]);
      expect(described.stdout).toContain('OAUTH_CLIENT_ID\tvendor-client');
      expect(described.stdout + described.stderr).not.toContain(SECRET);
      expect((await runCli(['integrations', 'enable', 'nosuch', '--config', file])).code).toBe(2);
      expect((await runCli(['integrations', 'explode', '--config', file])).code).toBe(2);
    });

    it('the scheduled check audits each integration and publishes drift metrics', async () => {
      await run("ALTER SECURITY INTEGRATION servicenow_oauth SET OAUTH_CLIENT_ID = 'drifted'");
      const records: AuditRecord[] = [];
      const parsed = parseConfig(config());
      const runtime = await createRuntime({ config: parsed });
      const metrics = new Metrics({ namespace: 'TokenVendorTest', serviceName: 'token-vendor' });
      const handler = createRotationCheckHandler({
        runtime: () => runtime,
        audit: new AuditLog({ info: (_m, a) => records.push(a as unknown as AuditRecord) }),
        metrics,
      });
      const report = await handler({}, lambdaContext());
      expect(report.integrations).toEqual([expect.objectContaining({ status: 'DRIFTED' })]);
      expect(records[0]).toMatchObject({
        errorCode: 'integration:servicenow:DRIFTED',
        detail: {
          integrations: [
            {
              integration: 'servicenow',
              status: 'DRIFTED',
              differences: [{ property: 'OAUTH_CLIENT_ID', expected: 'vendor-client', actual: 'drifted' }],
            },
          ],
        },
      });
      expect(JSON.stringify(records)).not.toContain(SECRET);
    });
  });
});
