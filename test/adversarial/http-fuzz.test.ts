import type { APIGatewayProxyResult } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext, ROLE_SESSION, restEvent } from '../support/events';
import { type VendingHarness, vendingHarness } from '../support/vending';

/**
 * The real HTTP handler (middlewares, parser, policy, vendor, emulator) under fuzzed bodies: every
 * answer is a documented JSON answer below 500, and no input hangs.
 */
describe('adversarial: no request body yields a 5xx (property)', () => {
  let h: VendingHarness;
  beforeAll(async () => {
    h = await vendingHarness();
  });
  afterAll(() => h.close());

  const name = fc.oneof(
    fc.constantFrom(
      'reporting_server',
      'REPORTING_SERVER',
      '"reporting_server"',
      'reporting_ſerver',
      'reportıng_server',
      'reporting_user',
      'demo',
      'servicenow',
      'useraccount',
      'admin',
      '',
    ),
    fc.string({ maxLength: 80 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.constantFrom('a\u0000b', 'tab\there', 'zero\u200bwidth', 'x'.repeat(300), '\\', "'", '"'),
  );
  const body = fc.oneof(
    fc.jsonValue(),
    fc.string(),
    fc.record({ instance: name, username: name }, { requiredKeys: [] }),
    fc.record({ instance: name, username: name, connection: name }),
    fc.record({ connection: name }),
    fc.record(
      { integration: name, scopes: fc.array(name, { maxLength: 5 }) },
      { requiredKeys: ['integration'] },
    ),
  );
  const path = fc.constantFrom(
    '/v1/tokens/postgres',
    '/v1/tokens/snowflake-jwt',
    '/v1/tokens/oauth',
    '/v1/tokens',
    '/x',
  );

  it('answers every fuzzed request with a documented status below 500', async () => {
    await fc.assert(
      fc.asyncProperty(path, body, async (p, b) => {
        const response = (await h.http(
          restEvent(p, typeof b === 'string' ? b : JSON.stringify(b), ROLE_SESSION),
          lambdaContext(5000),
        )) as APIGatewayProxyResult;
        expect(response.statusCode).toBeLessThan(500);
        const json = JSON.parse(response.body);
        if (response.statusCode !== 200) expect(json.error.code).toMatch(/^[A-Z_]+$/);
      }),
      { numRuns: 400, seed: 15 },
    );
  });
});
