import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PATS_PER_USER } from '../../../../dev/emulator/state';
import { SnowflakeError } from '../../../../lambda/snowflake/errors';
import type { SqlApiClient } from '../../../../lambda/snowflake/sql-api';
import { type EmulatorFixture, emulatorFixture, withPat } from '../../../support/emulator';
import { fixtureKeyPair } from '../../../support/keys';
import { memorySigner } from '../../../support/signers';

/**
 * The emulator's programmatic access tokens, rule by rule as Snowflake documents them: the grammar and
 * result columns of ADD, REMOVE, ROTATE, MODIFY and SHOW; the cap of 15; DAYS_TO_EXPIRY's range; the role
 * restriction; a service user's network policy; the privilege on the target user; a PAT session that may
 * not manage its own user's tokens; and signing in with one.
 */
describe('emulator: programmatic access tokens', () => {
  let fx: EmulatorFixture;
  let admin: SqlApiClient;
  let vendor: SqlApiClient;
  let clock = Date.now();
  const rejected = async (p: Promise<unknown>) => {
    const error = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, 'the statement was accepted').toBeInstanceOf(SnowflakeError);
    return error as SnowflakeError;
  };

  /** The token_secret column of an ADD's one row. */
  const secretOf = (result: { rows: readonly (readonly (string | null)[])[] }) => result.rows[0]![1]!;

  beforeAll(async () => {
    const adminKey = fixtureKeyPair('sf-admin');
    fx = await emulatorFixture({ now: () => clock });
    fx.emulator.addUser({ name: 'SF_ADMIN', roles: ['ACCOUNTADMIN'], publicKey: adminKey.publicKey });
    admin = fx.client({
      user: 'sf_admin',
      role: 'ACCOUNTADMIN',
      signer: memorySigner(adminKey.privateKey),
      now: () => clock,
    });
    vendor = fx.client({ now: () => clock });
    for (const statement of [
      'CREATE USER BI TYPE = SERVICE',
      'CREATE ROLE READER',
      'CREATE ROLE WRITER',
      'GRANT ROLE READER TO USER BI',
      'CREATE DATABASE SEC',
      'CREATE SCHEMA SEC.NET',
      "CREATE NETWORK RULE SEC.NET.HERE TYPE = IPV4 MODE = INGRESS VALUE_LIST = ('127.0.0.1/32')",
      "CREATE NETWORK POLICY HERE ALLOWED_NETWORK_RULE_LIST = ('SEC.NET.HERE')",
      'GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER BI TO ROLE TOKEN_VENDOR',
    ])
      await admin.execute(statement);
  });
  afterAll(() => fx.emulator.close());

  it('ADD answers token_name and token_secret once; the secret signs in; SHOW lists it without the secret', async () => {
    await admin.execute('ALTER USER BI SET NETWORK_POLICY = HERE');
    const added = await vendor.execute(
      "ALTER USER BI ADD PROGRAMMATIC ACCESS TOKEN T1 ROLE_RESTRICTION = 'READER' DAYS_TO_EXPIRY = 1 COMMENT = 'it''s mine'",
    );
    expect(added.columns.map((c) => c.name)).toEqual(['token_name', 'token_secret']);
    const [name, secret] = added.rows[0]! as [string, string];
    expect(name).toBe('T1');
    const shown = await vendor.execute('SHOW USER PROGRAMMATIC ACCESS TOKENS FOR USER BI');
    expect(shown.columns.map((c) => c.name)).toEqual([
      'name',
      'user_name',
      'role_restriction',
      'expires_at',
      'status',
      'comment',
      'created_on',
      'created_by',
      'mins_to_bypass_required_network_policy',
      'rotated_to',
    ]);
    expect(shown.rows).toContainEqual([
      'T1',
      'BI',
      'READER',
      expect.any(String),
      'ACTIVE',
      "it's mine",
      expect.any(String),
      'SVC',
      null,
      null,
    ]);
    expect(JSON.stringify(shown)).not.toContain(secret!);
    // The short form of the grammar, the same list
    expect((await vendor.execute('SHOW USER PATS FOR USER BI')).rows).toHaveLength(shown.rows.length);
    const used = await withPat(fx.emulator.url, secret, { statement: 'SELECT CURRENT_ROLE()' });
    expect(used).toMatchObject({ status: 200, json: { data: [['READER']] } });
    // IF NOT EXISTS: success, and no secret
    const again = await vendor.execute('ALTER USER BI ADD PAT IF NOT EXISTS T1');
    expect(again.rows).toEqual([['T1 already exists, statement succeeded.']]);
    expect(
      await rejected(vendor.execute("ALTER USER BI ADD PAT T1 ROLE_RESTRICTION = 'READER'")),
    ).toMatchObject({
      snowflakeCode: '002002',
    });
  });

  it('DAYS_TO_EXPIRY is 1 to 365; a service user needs a role restriction, granted to it and not blocked', async () => {
    for (const days of [0, 366, -1])
      expect(
        await rejected(
          vendor.execute(
            `ALTER USER BI ADD PAT D${days + 1} ROLE_RESTRICTION = 'READER' DAYS_TO_EXPIRY = ${days}`,
          ),
        ),
      ).toMatchObject({
        snowflakeCode: '002211',
      });
    expect((await rejected(vendor.execute('ALTER USER BI ADD PAT NOROLE'))).message).toMatch(
      /ROLE_RESTRICTION is required/,
    );
    expect(
      (await rejected(vendor.execute("ALTER USER BI ADD PAT WRONGROLE ROLE_RESTRICTION = 'WRITER'"))).message,
    ).toMatch(/not granted to user 'BI'/);
    await admin.execute('GRANT ROLE SYSADMIN TO USER BI');
    expect(
      (await rejected(vendor.execute("ALTER USER BI ADD PAT BLOCKED ROLE_RESTRICTION = 'SYSADMIN'"))).message,
    ).toMatch(/blocked roles list/);
    await admin.execute('REVOKE ROLE SYSADMIN FROM USER BI');
  });

  it('a service user makes and uses PATs only under a network policy, which is enforced on the address', async () => {
    await admin.execute('ALTER USER BI UNSET NETWORK_POLICY');
    expect(
      (await rejected(vendor.execute("ALTER USER BI ADD PAT NP ROLE_RESTRICTION = 'READER'"))).message,
    ).toMatch(/must be subject to a network policy/);
    const t1 = fx.emulator.patsOf('BI').find((p) => p.name === 'T1')!;
    expect(await withPat(fx.emulator.url, t1.secret, { statement: 'SELECT 1' })).toMatchObject({
      status: 401,
      json: { code: '390422' },
    });
    await admin.execute(
      "CREATE NETWORK RULE SEC.NET.ELSEWHERE TYPE = IPV4 MODE = INGRESS VALUE_LIST = ('203.0.113.0/24')",
    );
    await admin.execute("CREATE NETWORK POLICY ELSEWHERE ALLOWED_NETWORK_RULE_LIST = ('SEC.NET.ELSEWHERE')");
    await admin.execute('ALTER USER BI SET NETWORK_POLICY = ELSEWHERE');
    expect(await withPat(fx.emulator.url, t1.secret, { statement: 'SELECT 1' })).toMatchObject({
      status: 401,
      json: { code: '390422', message: expect.stringMatching(/127\.0\.0\.1 is not allowed/) },
    });
    await admin.execute('ALTER USER BI SET NETWORK_POLICY = HERE');
    expect((await withPat(fx.emulator.url, t1.secret, { statement: 'SELECT 1' })).status).toBe(200);
    // A person may make one without a policy, but not use it
    await admin.execute('CREATE USER HUMAN TYPE = PERSON');
    await admin.execute('GRANT ROLE READER TO USER HUMAN');
    await admin.execute(
      'GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER HUMAN TO ROLE TOKEN_VENDOR',
    );
    const human = secretOf(await vendor.execute("ALTER USER HUMAN ADD PAT H1 ROLE_RESTRICTION = 'READER'"));
    expect((await withPat(fx.emulator.url, human, { statement: 'SELECT 1' })).json.code).toBe('390422');
  });

  it('at most 15 tokens a user: disabled ones count, expired ones do not', async () => {
    await admin.execute('CREATE USER CAPPED TYPE = SERVICE');
    await admin.execute('GRANT ROLE READER TO USER CAPPED');
    await admin.execute('ALTER USER CAPPED SET NETWORK_POLICY = HERE');
    await admin.execute(
      'GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER CAPPED TO ROLE TOKEN_VENDOR',
    );
    const add = (name: string, days = 1) =>
      vendor.execute(
        `ALTER USER CAPPED ADD PAT ${name} ROLE_RESTRICTION = 'READER' DAYS_TO_EXPIRY = ${days}`,
      );
    for (let i = 0; i < MAX_PATS_PER_USER - 1; i++) await add(`C${i}`, i === 0 ? 1 : 30);
    await add('LAST', 30);
    await vendor.execute('ALTER USER CAPPED MODIFY PAT LAST SET DISABLED = TRUE');
    expect((await rejected(add('OVER'))).message).toMatch(/maximum is 15/);
    // The one-day token expires: it no longer counts, and its place is free
    clock += 86_400_000 + 1000;
    await add('AFTER');
    const shown = await vendor.execute('SHOW USER PATS FOR USER CAPPED');
    const status = Object.fromEntries(shown.rows.map((r) => [r[0], r[4]]));
    expect(status).toMatchObject({ C0: 'EXPIRED', LAST: 'DISABLED', AFTER: 'ACTIVE' });
    expect(await rejected(add('OVER2'))).toMatchObject({ snowflakeCode: '002211' });
    // A disabled token does not sign in; REMOVE frees its place for good
    const last = fx.emulator.patsOf('CAPPED').find((p) => p.name === 'LAST')!;
    expect((await withPat(fx.emulator.url, last.secret, { statement: 'SELECT 1' })).json.code).toBe('394400');
    await vendor.execute('ALTER USER CAPPED REMOVE PROGRAMMATIC ACCESS TOKEN LAST');
    expect((await withPat(fx.emulator.url, last.secret, { statement: 'SELECT 1' })).json.code).toBe('394400');
    await add('FREED', 30);
    expect(await rejected(vendor.execute('ALTER USER CAPPED REMOVE PAT LAST'))).toMatchObject({
      snowflakeCode: '002003',
    });
  });

  it('managing another user needs OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS on it', async () => {
    await admin.execute('CREATE USER STRANGER TYPE = SERVICE');
    await admin.execute('GRANT ROLE READER TO USER STRANGER');
    await admin.execute('ALTER USER STRANGER SET NETWORK_POLICY = HERE');
    for (const statement of [
      "ALTER USER STRANGER ADD PAT X ROLE_RESTRICTION = 'READER'",
      'SHOW USER PATS FOR USER STRANGER',
      'ALTER USER STRANGER REMOVE PAT X',
    ])
      expect(await rejected(vendor.execute(statement))).toMatchObject({ snowflakeCode: '003001' });
  });

  it("a PAT session may not add, rotate or remove its own user's tokens", async () => {
    await admin.execute('CREATE USER SELFISH TYPE = SERVICE');
    await admin.execute('GRANT ROLE READER TO USER SELFISH');
    await admin.execute('ALTER USER SELFISH SET NETWORK_POLICY = HERE');
    await admin.execute('GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER SELFISH TO ROLE READER');
    const secret = secretOf(await admin.execute("ALTER USER SELFISH ADD PAT S1 ROLE_RESTRICTION = 'READER'"));
    for (const statement of [
      "ALTER USER ADD PAT S2 ROLE_RESTRICTION = 'READER'",
      'ALTER USER SELFISH ROTATE PAT S1',
      'ALTER USER REMOVE PAT S1',
    ]) {
      const res = await withPat(fx.emulator.url, secret, { statement });
      expect(res.status, statement).toBe(422);
      expect(res.json.code).toBe('003001');
      expect(res.json.message).toMatch(/authenticated with a programmatic access token/);
    }
    // Listing is allowed
    expect((await withPat(fx.emulator.url, secret, { statement: 'SHOW USER PATS' })).status).toBe(200);
  });

  it('ROTATE answers a new secret under the name and the old one renamed, which expires as asked', async () => {
    const before = secretOf(await vendor.execute("ALTER USER BI ADD PAT R1 ROLE_RESTRICTION = 'READER'"));
    const rotated = await vendor.execute('ALTER USER BI ROTATE PAT R1 EXPIRE_ROTATED_TOKEN_AFTER_HOURS = 0');
    expect(rotated.columns.map((c) => c.name)).toEqual(['token_name', 'token_secret', 'rotated_token_name']);
    const [name, after, old] = rotated.rows[0]!;
    expect(name).toBe('R1');
    expect(after).not.toBe(before);
    expect(old).toMatch(/^R1_ROTATED_/);
    expect((await withPat(fx.emulator.url, before, { statement: 'SELECT 1' })).json.code).toBe('394400');
    expect((await withPat(fx.emulator.url, after!, { statement: 'SELECT 1' })).status).toBe(200);
  });

  it('revoking the role restriction from the user makes the token fail', async () => {
    const secret = secretOf(await vendor.execute("ALTER USER BI ADD PAT RR ROLE_RESTRICTION = 'READER'"));
    await admin.execute('REVOKE ROLE READER FROM USER BI');
    expect((await withPat(fx.emulator.url, secret, { statement: 'SELECT 1' })).json).toMatchObject({
      code: '394400',
      message: expect.stringMatching(/no longer granted/),
    });
    await admin.execute('GRANT ROLE READER TO USER BI');
    expect((await withPat(fx.emulator.url, secret, { statement: 'SELECT 1' })).status).toBe(200);
  });

  it('refuses what the grammar does not allow, and the administrator statements to anyone else', async () => {
    for (const statement of [
      'ALTER USER BI ADD PAT Q ROLE_RESTRICTION = READER',
      "ALTER USER BI ADD PAT Q ROLE_RESTRICTION = 'READER' BOGUS = 1",
      'ALTER USER BI MODIFY PAT T1 SET DISABLED = MAYBE',
      'SHOW USER PATS FOR',
    ])
      expect(await rejected(vendor.execute(statement)), statement).toBeInstanceOf(SnowflakeError);
    for (const statement of [
      'CREATE ROLE NOPE',
      'GRANT ROLE READER TO USER BI',
      'ALTER USER BI SET NETWORK_POLICY = HERE',
    ])
      expect(await rejected(vendor.execute(statement)), statement).toMatchObject({ snowflakeCode: '003001' });
  });
});
