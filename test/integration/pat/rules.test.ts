import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lambda/config/load';
import { createRuntime } from '../../../lambda/runtime';
import { publicError } from '../../../lambda/vending/public-error';
import { ALICE, lambdaContext, ROLE_SESSION, restEvent } from '../../support/events';
import { PAT_ENV, PAT_ROLE, PAT_USER, type PatHarness, patHarness } from '../../support/pat';

/**
 * Snowflake's PAT rules, checked before they bite: a vend that would break one fails with a stable code
 * and a message that names the fix (the cap: 429 PAT_LIMIT, with Retry-After when one of the vendor's
 * leases ends soon); a blocked role is refused when the config is validated.
 */
describe('PAT rules', () => {
  let h: PatHarness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  const vend = async (body: Record<string, unknown>, identity = ROLE_SESSION) => {
    const res = await h!.http(restEvent('/v1/tokens/pat', body, identity), lambdaContext());
    return { status: res.statusCode, body: JSON.parse(res.body), headers: res.headers ?? {} };
  };

  it('a service user under no network policy: SNOWFLAKE_REJECTED, naming ALTER USER … SET NETWORK_POLICY', async () => {
    h = await patHarness();
    await h.adminRun([`ALTER USER ${PAT_USER} UNSET NETWORK_POLICY`]);
    const res = await vend({ target: 'tableau', role: PAT_ROLE });
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('SNOWFLAKE_REJECTED');
    expect(res.body.error.message).toMatch(/service user under no network policy/);
    expect(res.body.error.message).toContain(`ALTER USER ${PAT_USER} SET NETWORK_POLICY = <policy>`);
    expect(h.records.at(-1)).toMatchObject({ errorCause: 'PAT_PRECONDITION_FAILED' });
    expect(h.emulator.patsOf(PAT_USER)).toHaveLength(0);
  });

  it('a role restriction not granted to the user: SNOWFLAKE_REJECTED, naming GRANT ROLE … TO USER', async () => {
    h = await patHarness({
      config: (c) => {
        c.grants![0]!.pat = [{ target: 'tableau', roles: ['OTHER_READER'] }];
      },
    });
    await h.adminRun(['CREATE ROLE IF NOT EXISTS OTHER_READER']);
    const res = await vend({ target: 'tableau', role: 'OTHER_READER' });
    expect(res).toMatchObject({ status: 502, body: { error: { code: 'SNOWFLAKE_REJECTED' } } });
    expect(res.body.error.message).toContain(`GRANT ROLE OTHER_READER TO USER ${PAT_USER}`);
  });

  it('a role on the blocked list is refused when the config is validated, before Snowflake would refuse it', () => {
    const config = (roles: string[], blockedRoles?: string[]) => ({
      connections: { c: { account: 'myorg-acct', user: 'svc', key: { file: { path: 'k.p8' } } } },
      patTargets: { t: { connection: 'c', user: 'BI', roles, ...(blockedRoles ? { blockedRoles } : {}) } },
    });
    expect(() => parseConfig(config(['ACCOUNTADMIN']))).toThrow(
      /patTargets\.t\.roles\[0\].*blocked roles list/s,
    );
    expect(() => parseConfig(config(['READER', 'sysadmin']))).toThrow(/patTargets\.t\.roles\[1\]/);
    expect(() =>
      parseConfig(config(['SECURITYADMIN'], ['ACCOUNTADMIN', 'SYSADMIN', 'SECURITYADMIN'])),
    ).toThrow(/blocked roles list/);
    expect(() => parseConfig(config(['READER']))).not.toThrow();
    // Nor a user the vendor signs in as, nor an empty role list, nor a grant of a role the target lacks
    expect(() =>
      parseConfig({
        ...config(['READER']),
        patTargets: { t: { connection: 'c', user: 'SVC', roles: ['READER'] } },
      }),
    ).toThrow(/user the vendor signs in as/);
    expect(() => parseConfig(config([]))).toThrow(/patTargets\.t\.roles/);
    expect(() =>
      parseConfig({
        ...config(['READER']),
        grants: [{ principal: 'arn:aws:iam::111122223333:role/x', pat: [{ target: 't', roles: [] }] }],
      }),
    ).toThrow(/grant at least one role/);
    expect(() =>
      parseConfig({
        ...config(['READER']),
        grants: [
          { principal: 'arn:aws:iam::111122223333:role/x', pat: [{ target: 't', roles: ['WRITER'] }] },
        ],
      }),
    ).toThrow(/not one of PAT target "t"'s roles/);
  });

  it('at 15 tokens: 429 PAT_LIMIT; with Retry-After when one of the vendor’s leases ends within the hour', async () => {
    h = await patHarness();
    await h.allowLoopback();
    // One of the vendor's, with a ten-minute lease, and fourteen made by hand
    const leased = await vend({ target: 'tableau', role: PAT_ROLE, lifetimeSeconds: 600 });
    expect(leased.status).toBe(200);
    await h.adminRun(
      Array.from(
        { length: 14 },
        (_, i) =>
          `ALTER USER ${PAT_USER} ADD PAT HAND${i} ROLE_RESTRICTION = '${PAT_ROLE}' DAYS_TO_EXPIRY = 30`,
      ),
    );
    // Act: another principal asks
    const full = await vend({ target: 'tableau', role: PAT_ROLE }, ALICE);
    // Assess: the lease ends in 600 s, and the sweeper runs every 300 s
    expect(full.status).toBe(429);
    expect(full.body.error.code).toBe('PAT_LIMIT');
    expect(full.body.error.message).toMatch(/holds 15 PATs/);
    const retryAfter = Number(full.headers['Retry-After'] ?? full.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(850);
    expect(retryAfter).toBeLessThanOrEqual(901); // the name keeps the lease's end in whole seconds
    // The holder of the vendor's lease still gets its own, without a new token
    expect((await vend({ target: 'tableau', role: PAT_ROLE })).body.token).toBe(leased.body.token);
    // Without a lease of the vendor's near its end, no Retry-After: waiting would not help
    await h.adminRun([
      `ALTER USER ${PAT_USER} REMOVE PAT ${leased.body.tokenName}`,
      `ALTER USER ${PAT_USER} ADD PAT HAND14 ROLE_RESTRICTION = '${PAT_ROLE}'`,
    ]);
    const still = await vend({ target: 'tableau', role: PAT_ROLE }, ALICE);
    expect(still.status).toBe(429);
    expect(still.headers['Retry-After'] ?? still.headers['retry-after']).toBeUndefined();
    expect(h.emulator.patsOf(PAT_USER)).toHaveLength(15);
  });

  it('one holder asking from two containers at once, at the cap: both get PAT_LIMIT, neither waits out the other (PAT_BUSY)', async () => {
    h = await patHarness();
    await h.allowLoopback();
    await h.adminRun(
      Array.from(
        { length: 15 },
        (_, i) => `ALTER USER ${PAT_USER} ADD PAT HAND${i} ROLE_RESTRICTION = '${PAT_ROLE}'`,
      ),
    );
    // A second container: its own runtime, the same lease table, KMS and emulator
    const other = await createRuntime({
      config: h.runtime.config,
      secretsManager: h.runtime.secretsManager,
      kms: h.runtime.kms,
      dynamodb: () => h!.dynalite.client(),
      env: PAT_ENV(),
    });
    // The container that claims first is slow to hear Snowflake's refusal: the other is waiting on it by then
    h.emulator.faults.push({ kind: 'delay', ms: 1500 });
    const started = Date.now();
    const ask = (vendor: typeof other.vendor) =>
      vendor
        .vend(
          { kind: 'http', principalArn: ROLE_SESSION },
          { tokenType: 'pat', target: 'tableau', role: PAT_ROLE },
          { deadline: Date.now() + 25_000 },
        )
        .then(
          () => 'served',
          (error: unknown) => publicError(error).code,
        );
    const answers = await Promise.all([ask(h.runtime.vendor), ask(other.vendor)]);
    // Each container's own answer from Snowflake, not a wait of ten seconds for a token nobody made
    expect(answers).toEqual(['PAT_LIMIT', 'PAT_LIMIT']);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(h.emulator.patsOf(PAT_USER)).toHaveLength(15);
  }, 30_000);
});
