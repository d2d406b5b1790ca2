import type { APIGatewayProxyResult } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext, ROLE_SESSION, restEvent } from '../../support/events';
import { type VendingHarness, vendingHarness } from '../../support/vending';

describe('single-flight and the minimum-remaining threshold', () => {
  let offset = 0;
  const now = () => Date.now() + offset;
  let h: VendingHarness;
  beforeAll(async () => {
    h = await vendingHarness({ now });
  });
  afterAll(() => h.close());

  const vend = () =>
    h.http(
      restEvent(
        '/v1/tokens/postgres',
        { instance: 'reporting_server', username: 'reporting_user' },
        ROLE_SESSION,
      ),
      lambdaContext(),
    ) as Promise<APIGatewayProxyResult>;

  it('1,000 concurrent requests for one target make exactly one SQL API call and get one token', async () => {
    // Prepare: a slow Snowflake, so all 1,000 arrive while the first mint is in flight
    h.emulator.faults.push({ kind: 'delay', ms: 300 });
    // Act
    const responses = await Promise.all(Array.from({ length: 1000 }, vend));
    // Assess
    expect(responses.every((r) => r.statusCode === 200)).toBe(true);
    expect(new Set(responses.map((r) => JSON.parse(r.body).token)).size).toBe(1);
    expect(h.emulator.executionsOf('generate-postgres-token')).toHaveLength(1);
    expect(h.emulator.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    const outcomes = h.records.map((r) => r.cache);
    expect(outcomes.filter((c) => c === 'miss')).toHaveLength(1);
    expect(outcomes.filter((c) => c === 'coalesced')).toHaveLength(999);
  });

  it('serves the cached token while at least 5 minutes remain, and mints again once that passes', async () => {
    const first = JSON.parse((await vend()).body);
    offset += 10 * 60_000 - 2_000; // 5 min + 2 s left (less the time since issue)
    const stillCached = JSON.parse((await vend()).body);
    expect(stillCached.token).toBe(first.token);
    expect(stillCached.expiresIn).toBeGreaterThanOrEqual(300);
    offset += 3_000; // now under 5 minutes left
    const renewed = JSON.parse((await vend()).body);
    expect(renewed.token).not.toBe(first.token);
    expect(renewed.expiresIn).toBeGreaterThan(890);
    expect(h.emulator.executionsOf('generate-postgres-token')).toHaveLength(2);
  });
});
