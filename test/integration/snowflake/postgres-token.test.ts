import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mintPostgresAccessToken, PostgresNameError } from '../../../lambda/snowflake/postgres-token';
import { type EmulatorFixture, emulatorFixture, VENDOR_ROLE } from '../../support/emulator';

describe('mintPostgresAccessToken', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await emulatorFixture();
  });
  afterAll(() => fx.emulator.close());
  beforeEach(() => fx.emulator.clearRecords());

  it('returns a token the emulator issued, with a 15-minute lifetime from when the request was sent', async () => {
    // Prepare
    const before = Date.now();
    // Act
    const pg = await mintPostgresAccessToken(fx.client(), {
      instance: 'reporting_server',
      username: 'reporting_user',
    });
    // Assess
    const issued = fx.emulator.validatePostgresToken(pg.token);
    expect(issued).toMatchObject({ instance: 'REPORTING_SERVER', username: 'reporting_user' });
    expect(pg.issuedAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(pg.issuedAt.getTime()).toBeLessThanOrEqual(issued!.issuedAt.getTime()); // never later than Snowflake's clock start
    expect(pg.expiresAt.getTime() - pg.issuedAt.getTime()).toBe(15 * 60_000);
    expect(pg.refreshAt.getTime() - pg.issuedAt.getTime()).toBe(12 * 60_000);
    expect(pg.expiresIn).toBeGreaterThanOrEqual(898);
    expect(pg.expiresIn).toBeLessThanOrEqual(900);
    expect(pg).toMatchObject({
      tokenType: 'snowflake-postgres',
      instance: 'reporting_server',
      username: 'reporting_user',
    });
    expect(pg.statementHandle).toBe(fx.emulator.executionsOf('generate-postgres-token')[0]!.statementHandle);
  });

  it.each([
    ["o'brien\\x", 'quote and backslash'],
    ["'; DROP USER svc; --", 'an injection attempt'],
    ['\\\\', 'two backslashes'],
    ["Mixed_Case.user-1 ünïcödé ''", 'case, dots, unicode and doubled quotes'],
    ['\\', 'a lone backslash'],
  ])('passes the Postgres user %j (%s) to Snowflake exactly as given', async (username) => {
    const pg = await mintPostgresAccessToken(fx.client(), { instance: 'reporting_server', username });
    expect(fx.emulator.validatePostgresToken(pg.token)?.username).toBe(username);
    expect(fx.emulator.executions).toHaveLength(1);
    expect(fx.emulator.executions[0]!.outcome).toBe('rows');
  });

  it('keeps a double-quoted instance name case-sensitive', async () => {
    const pg = await mintPostgresAccessToken(fx.client(), { instance: '"Reporting_server"', username: 'u' });
    expect(fx.emulator.validatePostgresToken(pg.token)?.instance).toBe('Reporting_server');
    await expect(
      mintPostgresAccessToken(fx.client(), { instance: '"REPORTING_server"', username: 'u' }),
    ).rejects.toMatchObject({
      code: 'SNOWFLAKE_REJECTED',
      snowflakeCode: '002003',
    });
  });

  it.each([
    ['a newline', { instance: 'reporting_server', username: 'reporting_user\nx' }],
    ['a NUL', { instance: 'reporting_server', username: 'a\u0000' }],
    ['a tab in the instance', { instance: 'reporting\tserver', username: 'u' }],
    ['an empty user', { instance: 'reporting_server', username: '' }],
    ['a 64-byte user', { instance: 'reporting_server', username: 'u'.repeat(64) }],
  ])('refuses %s before sending anything', async (_name, names) => {
    await expect(mintPostgresAccessToken(fx.client(), names)).rejects.toBeInstanceOf(PostgresNameError);
    await expect(mintPostgresAccessToken(fx.client(), names)).rejects.toMatchObject({
      code: 'POSTGRES_NAME_INVALID',
    });
    expect(fx.emulator.requests).toHaveLength(0);
  });

  it('fails with SNOWFLAKE_REJECTED when the role has no USAGE on the instance', async () => {
    const error = await mintPostgresAccessToken(fx.client({ role: 'NO_USAGE' }), {
      instance: 'reporting_server',
      username: 'u',
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'SNOWFLAKE_REJECTED',
      httpStatus: 422,
      snowflakeCode: '002003',
      statementHandle: expect.any(String),
    });
    expect(fx.emulator.executionsOf('generate-postgres-token').at(-1)?.role).toBe('NO_USAGE');
  });

  it('mints through the role given to the client', async () => {
    await mintPostgresAccessToken(fx.client(), { instance: 'reporting_server', username: 'u' });
    expect(fx.emulator.executions[0]!.role).toBe(VENDOR_ROLE);
  });
});
