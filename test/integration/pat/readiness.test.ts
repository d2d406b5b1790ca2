import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPatTargets } from '../../../lambda/pat/readiness';
import { PAT_ROLE, PAT_USER, type PatHarness, patHarness } from '../../support/pat';

/**
 * The rotation check reports, for every PAT target, what Snowflake's rules would say to a PAT now: the
 * user's type and network policy, each configured role granted or not, and the count of its 15 PATs.
 */
describe('the rotation check on PAT targets', () => {
  let h: PatHarness;
  const check = async () => (await checkPatTargets(h.runtime.config, h.runtime.connection))[0]!;
  beforeAll(async () => {
    h = await patHarness();
  });
  afterAll(() => h.close());

  it('a role the target names but the user lacks: ROLE_NOT_GRANTED, naming the GRANT', async () => {
    const report = await check();
    expect(report).toMatchObject({
      target: 'tableau',
      user: PAT_USER,
      status: 'ROLE_NOT_GRANTED',
      type: 'SERVICE',
      networkPolicy: 'TABLEAU_CLIENTS',
      roles: { [PAT_ROLE]: true, OTHER_READER: false },
      pats: 0,
      limit: 15,
    });
    expect(report.detail).toContain(`GRANT ROLE OTHER_READER TO USER ${PAT_USER}`);
  });

  it('set up as documented, with every role granted: OK, with the count', async () => {
    await h.adminRun([
      'CREATE ROLE IF NOT EXISTS OTHER_READER',
      `GRANT ROLE OTHER_READER TO USER ${PAT_USER}`,
    ]);
    expect(await check()).toMatchObject({
      status: 'OK',
      roles: { [PAT_ROLE]: true, OTHER_READER: true },
      pats: 0,
    });
  });

  it('no network policy: NO_NETWORK_POLICY, naming ALTER USER … SET NETWORK_POLICY', async () => {
    await h.adminRun([`ALTER USER ${PAT_USER} UNSET NETWORK_POLICY`]);
    const report = await check();
    expect(report.status).toBe('NO_NETWORK_POLICY');
    expect(report.detail).toContain(`ALTER USER ${PAT_USER} SET NETWORK_POLICY`);
    await h.adminRun([`ALTER USER ${PAT_USER} SET NETWORK_POLICY = TABLEAU_CLIENTS`]);
  });

  it('counts the PATs that count toward 15: NEAR_LIMIT from 13, AT_LIMIT at 15', async () => {
    const add = (from: number, to: number) =>
      h.adminRun(
        Array.from(
          { length: to - from },
          (_, i) => `ALTER USER ${PAT_USER} ADD PAT N${from + i} ROLE_RESTRICTION = '${PAT_ROLE}'`,
        ),
      );
    await add(0, 12);
    expect(await check()).toMatchObject({ status: 'OK', pats: 12 });
    await add(12, 13);
    expect(await check()).toMatchObject({ status: 'NEAR_LIMIT', pats: 13 });
    await add(13, 15);
    const full = await check();
    expect(full).toMatchObject({ status: 'AT_LIMIT', pats: 15 });
    expect(full.detail).toMatch(/holds 15 PATs/);
  });

  it('a user the vendor cannot read: ERROR for that target, with the reason', async () => {
    await h.adminRun([`CREATE USER GHOST TYPE = SERVICE`]);
    const config = {
      ...h.runtime.config,
      patTargets: { ghost: { ...h.runtime.config.patTargets.tableau!, user: 'GHOST' } },
    };
    const [report] = await checkPatTargets(config, h.runtime.connection);
    expect(report).toMatchObject({ target: 'ghost', status: 'ERROR', errorCode: 'SNOWFLAKE_REJECTED' });
  });
});
