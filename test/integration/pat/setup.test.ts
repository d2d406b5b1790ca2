import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext, ROLE_SESSION, restEvent } from '../../support/events';
import {
  documentedAdminSql,
  PAT_ROLE,
  PAT_USER,
  type PatHarness,
  patHarness,
  withPat,
} from '../../support/pat';

/**
 * The Snowflake side of a PAT target as docs/pat.md tells an administrator to set it up, run as written
 * against the emulator; then a vended PAT signs in as its restricted role only, from where the network
 * policy allows.
 */
describe('a PAT target set up as documented', () => {
  let h: PatHarness;
  beforeAll(async () => {
    h = await patHarness({ setup: false });
  });
  afterAll(() => h.close());

  it('the documented administrator SQL runs as written, statement by statement', async () => {
    const statements = documentedAdminSql();
    expect(statements.length).toBeGreaterThanOrEqual(8);
    await h.adminRun(statements);
    // Run twice: every statement is idempotent as written (IF NOT EXISTS), so a re-run is safe
    await h.adminRun(statements);
    const user = h.emulator.users.get(PAT_USER)!;
    expect(user.type).toBe('SERVICE');
    expect(user.roles.has(PAT_ROLE)).toBe(true);
    expect(user.networkPolicy).toBe('TABLEAU_CLIENTS');
    expect(user.keyAdminRoles.has('TOKEN_VENDOR')).toBe(true);
  });

  it('a vended PAT is refused from outside the network policy, then signs in as its role only', async () => {
    // Act: the caller gets a PAT
    const res = await h.http(
      restEvent('/v1/tokens/pat', { target: 'tableau', role: PAT_ROLE }, ROLE_SESSION),
      lambdaContext(),
    );
    expect(res.statusCode, JSON.stringify(h.records.at(-1))).toBe(200);
    const pat = JSON.parse(res.body);
    expect(pat).toMatchObject({
      tokenType: 'programmatic-access-token',
      user: PAT_USER,
      role: PAT_ROLE,
      target: 'tableau',
    });
    // Assess: 127.0.0.1 is not in the documented rule (203.0.113.0/24): the policy refuses the sign-in
    const outside = await withPat(h.emulator.url, pat.token, { statement: 'SELECT CURRENT_ROLE()' });
    expect(outside).toMatchObject({ status: 401, json: { code: '390422' } });
    await h.allowLoopback();
    const inside = await withPat(h.emulator.url, pat.token, { statement: 'SELECT CURRENT_ROLE()' });
    expect(inside.status, JSON.stringify(inside.json)).toBe(200);
    expect(inside.json.data).toEqual([[PAT_ROLE]]);
    const user = await withPat(h.emulator.url, pat.token, { statement: 'SELECT CURRENT_USER()' });
    expect(user.json.data).toEqual([[PAT_USER]]);
    // A role outside the restriction is refused, even one granted to the user
    await h.adminRun([
      'CREATE ROLE IF NOT EXISTS OTHER_READER',
      `GRANT ROLE OTHER_READER TO USER ${PAT_USER}`,
    ]);
    const other = await withPat(h.emulator.url, pat.token, { statement: 'SELECT 1', role: 'OTHER_READER' });
    expect(other.status).toBe(422);
    expect(other.json).toMatchObject({ code: '390189' });
    expect(other.json.message).toMatch(/restricted to role 'REPORTING_READER'/);
  });
});
