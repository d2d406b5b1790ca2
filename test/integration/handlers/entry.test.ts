import type { APIGatewayProxyResult } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type EmulatorFixture, emulatorFixture, fixtureConfig } from '../../support/emulator';
import { lambdaContext, ROLE_SESSION, restEvent } from '../../support/events';

/** The deployed entry points: prepared at init when the config is there, else on the first request. */
describe('Lambda entry points', () => {
  let fx: EmulatorFixture;
  const saved = { ...process.env };
  beforeAll(async () => {
    fx = await emulatorFixture();
  });
  afterAll(async () => {
    process.env = saved;
    await fx.emulator.close();
  });

  it('init survives a missing config: answer CONFIG_ERROR while none is set, then work once it is', async () => {
    // Prepare
    delete process.env.TOKEN_VENDOR_CONFIG;
    delete process.env.TOKEN_VENDOR_CONFIG_FILE;
    vi.resetModules();
    const { handler } = await import('../../../lambda/handlers/http');
    const event = () =>
      restEvent(
        '/v1/tokens/postgres',
        { instance: 'reporting_server', username: 'reporting_user' },
        ROLE_SESSION,
      );
    // Act
    const missing = (await handler(event(), lambdaContext())) as APIGatewayProxyResult;
    process.env.TOKEN_VENDOR_CONFIG = JSON.stringify(fixtureConfig(fx));
    const working = (await handler(event(), lambdaContext())) as APIGatewayProxyResult;
    // Assess
    expect(missing.statusCode).toBe(500);
    // The caller learns the code, not the detail (it can name secret ids, key ids, paths).
    expect(JSON.parse(missing.body).error).toMatchObject({ code: 'CONFIG_ERROR' });
    expect(missing.body).not.toContain('TOKEN_VENDOR_CONFIG');
    expect(working.statusCode).toBe(200);
    expect(fx.emulator.validatePostgresToken(JSON.parse(working.body).token)).toBeDefined();
  });

  it('the direct entry answers an invalid config with a generic ConfigError', async () => {
    process.env.TOKEN_VENDOR_CONFIG = JSON.stringify({
      connections: { demo: { account: 'xy12345.aws', user: 'svc', key: { file: { path: 'k' } } } },
    });
    vi.resetModules();
    const { handler } = await import('../../../lambda/handlers/direct');
    const error = await handler({ tokenType: 'snowflake-jwt', connection: 'demo' }, lambdaContext()).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: 'ConfigError', code: 'CONFIG_ERROR' });
    expect((error as Error).message).not.toContain('connections.demo.account');
    expect((error as Error).message).toMatch(/misconfigured.*requestId/);
  });
});
