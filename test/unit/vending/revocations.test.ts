import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { scopeOf } from '../../../cli/revocation-table';
import { parseConfig } from '../../../lambda/config/load';
import type { Config } from '../../../lambda/config/schema';
import { authorize } from '../../../lambda/vending/policy';
import type { Caller, VendRequest } from '../../../lambda/vending/request';
import {
  entryFromItem,
  type Revocation,
  RevocationList,
  RevocationListUnavailableError,
  Revocations,
  RevokedError,
} from '../../../lambda/vending/revocations';

const ROLE = 'arn:aws:iam::111122223333:role/services/reporting-api';
const SESSION = 'arn:aws:sts::111122223333:assumed-role/reporting-api/i-0abc';
const OTHER = 'arn:aws:sts::111122223333:assumed-role/etl/run-1';
const config: Config = parseConfig({
  connections: { demo: { account: 'myorg-acct', user: 'svc', key: { file: { path: '/dev/null' } } } },
  postgresInstances: [
    {
      instance: 'reporting_server',
      connection: 'demo',
      host: 'h',
      port: 5432,
      allowedUsers: ['reporting_user', 'etl_user'],
    },
  ],
  grants: [
    { principal: ROLE, postgres: [{ instance: 'reporting_server', usernames: ['reporting_user'] }] },
    {
      principal: 'arn:aws:iam::111122223333:role/etl',
      postgres: [{ instance: 'reporting_server', usernames: ['reporting_user', 'etl_user'] }],
      snowflakeJwt: ['demo'],
    },
  ],
  directInvoke: { postgres: [{ instance: 'reporting_server', usernames: ['etl_user'] }] },
});
const pg = (username: string): VendRequest => ({
  tokenType: 'postgres',
  instance: 'reporting_server',
  username,
});
const http = (principalArn: string): Caller => ({ kind: 'http', principalArn });
const NOW = 1_800_000_000_000;
const WINDOW = 4000;

function check(entries: Revocation[], caller: Caller, request: VendRequest, now = NOW) {
  const list = new RevocationList(entries, config, now, WINDOW);
  return list.check(caller, authorize(config, caller, request), now);
}
const item = (fields: Record<string, string | number>): Record<string, AttributeValue> =>
  Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [k, typeof v === 'number' ? { N: String(v) } : { S: v }]),
  );
const entry = (fields: Record<string, string | number>) => entryFromItem(item(fields))!;
const revokedRole = (principal = ROLE, extra: Record<string, string | number> = {}) =>
  entry({ kind: 'principal', principal, reason: 'leaked', by: 'ops', at: NOW - 60_000, ...extra });

describe('the revocation list', () => {
  it('refuses every session of a revoked role, whatever the path or case the entry names it with', () => {
    for (const named of [
      ROLE,
      'arn:aws:iam::111122223333:role/reporting-api',
      'arn:aws:iam::111122223333:role/other/path/Reporting-API',
    ])
      expect(() => check([revokedRole(named)], http(SESSION), pg('reporting_user'))).toThrow(RevokedError);
    // Another role, or the same name in another account, is served.
    expect(check([revokedRole()], http(OTHER), pg('reporting_user'))).toBeDefined();
    expect(() =>
      check(
        [revokedRole('arn:aws:iam::444455556666:role/reporting-api')],
        http(SESSION),
        pg('reporting_user'),
      ),
    ).not.toThrow();
  });

  it('says the entry’s reason, and only the entry that matched', () => {
    const mine = revokedRole(ROLE, { reason: 'INC-42: key leaked\u0007\u202e on a laptop' });
    const theirs = revokedRole('arn:aws:iam::111122223333:role/etl', { reason: 'secret of etl' });
    const error = (() => {
      try {
        check([theirs, mine], http(SESSION), pg('reporting_user'));
      } catch (e) {
        return e as RevokedError;
      }
    })()!;
    expect(error.code).toBe('REVOKED');
    expect(error.message).toBe("This principal's access is revoked: INC-42: key leaked   on a laptop");
    expect(error.message).not.toMatch(/etl/);
  });

  it('a look-alike entry matches nothing: trailing, control and format characters are not IAM names', () => {
    for (const bad of [
      `${ROLE} `,
      `${ROLE}\u200b`,
      `${ROLE}\u0000`,
      'arn:aws:iam::111122223333:role/reporting‐api',
    ])
      expect(
        entryFromItem(item({ kind: 'principal', principal: bad, reason: 'r', by: 'o', at: NOW })),
      ).toBeUndefined();
    // …and the CLI refuses to write one, or a session (which would leave the role's other sessions served).
    expect(() => scopeOf({ principal: `${ROLE}\u200b` }, 'revoke')).toThrow(/IAM role or user ARN/);
    expect(() => scopeOf({ principal: SESSION }, 'revoke')).toThrow(/one session of a role; name the role/);
    expect(() => scopeOf({}, 'revoke')).toThrow(/name what/);
    expect(() => scopeOf({ target: 'postgres:reporting server' }, 'revoke')).toThrow(/--target/);
  });

  it('an entry that names a session (written by hand) revokes its whole role: a broader match only refuses more', () => {
    const bySession = revokedRole(OTHER);
    expect(() =>
      check([bySession], http('arn:aws:sts::111122223333:assumed-role/etl/run-2'), pg('reporting_user')),
    ).toThrow(RevokedError);
  });

  it('an account entry refuses every principal of the account; a target entry every caller, the direct path too', () => {
    const account = entry({ kind: 'account', account: '111122223333', reason: 'r', by: 'o', at: NOW });
    expect(() => check([account], http(OTHER), pg('etl_user'))).toThrow(RevokedError);
    const target = entry({
      kind: 'target',
      target: 'postgres:REPORTING_SERVER/etl_user',
      reason: 'r',
      by: 'o',
      at: NOW,
    });
    expect(() => check([target], http(OTHER), pg('etl_user'))).toThrow(/This target is revoked/);
    expect(() => check([target], { kind: 'direct' }, pg('etl_user'))).toThrow(RevokedError);
    expect(() => check([target], http(OTHER), pg('reporting_user'))).not.toThrow();
    const instance = entry({
      kind: 'target',
      target: 'postgres:reporting_server',
      reason: 'r',
      by: 'o',
      at: NOW,
    });
    expect(() => check([instance], http(OTHER), pg('reporting_user'))).toThrow(RevokedError);
  });

  it('a principal on one target refuses that pair only', () => {
    const pair = entry({
      kind: 'principal-target',
      principal: 'arn:aws:iam::111122223333:role/etl',
      target: 'postgres:reporting_server/etl_user',
      reason: 'r',
      by: 'o',
      at: NOW,
    });
    expect(() => check([pair], http(OTHER), pg('etl_user'))).toThrow(RevokedError);
    expect(() => check([pair], http(OTHER), pg('reporting_user'))).not.toThrow();
    expect(() => check([pair], { kind: 'direct' }, pg('etl_user'))).not.toThrow();
  });

  it('an expired or lifted entry no longer refuses, and still taints what was minted before it', () => {
    const ended = revokedRole(ROLE, { until: NOW - 1 });
    const lifted = revokedRole(ROLE, { liftedAt: NOW - 1 });
    for (const e of [ended, lifted]) {
      const { taintedBefore } = check([e], http(SESSION), pg('reporting_user'));
      expect(taintedBefore).toBe(NOW - 60_000 + WINDOW);
    }
    expect(() =>
      check([revokedRole(ROLE, { until: NOW + 1 })], http(SESSION), pg('reporting_user')),
    ).toThrow();
  });

  it('taints every target the revoked principal was granted, for every caller, and nothing else', () => {
    const etl = revokedRole('arn:aws:iam::111122223333:role/etl');
    // reporting_user is granted to etl: tainted for reporting-api too; the JWT of demo as well.
    expect(check([etl], http(SESSION), pg('reporting_user')).taintedBefore).toBe(NOW - 60_000 + WINDOW);
    expect(check([etl], { kind: 'direct' }, pg('etl_user')).taintedBefore).toBe(NOW - 60_000 + WINDOW);
    // reporting-api's revocation does not taint etl_user (never granted to it).
    expect(check([revokedRole()], { kind: 'direct' }, pg('etl_user')).taintedBefore).toBe(
      Number.NEGATIVE_INFINITY,
    );
  });

  it('hostile times: an entry dated in the future taints no later than its reading; one with no date refuses and taints nothing', () => {
    const future = revokedRole(ROLE, { at: NOW + 86_400_000 * 365 });
    expect(() => check([future], http(SESSION), pg('reporting_user'))).toThrow(RevokedError);
    expect(check([future], http(OTHER), pg('reporting_user')).taintedBefore).toBe(NOW + WINDOW);
    const undated = entry({ kind: 'principal', principal: ROLE, reason: 'r', by: 'o' });
    expect(() => check([undated], http(SESSION), pg('reporting_user'))).toThrow(RevokedError);
    expect(check([undated], http(OTHER), pg('reporting_user')).taintedBefore).toBe(Number.NEGATIVE_INFINITY);
  });

  it('items of the wrong shape are no entries: unknown kind, wrong attribute types, a bad account', () => {
    expect(entryFromItem(item({ kind: 'allow', principal: ROLE }))).toBeUndefined();
    expect(entryFromItem({ kind: { S: 'principal' }, principal: { N: '1' } })).toBeUndefined();
    expect(entryFromItem(item({ kind: 'account', account: '1111' }))).toBeUndefined();
    expect(
      entryFromItem({ kind: { S: 'principal' }, principal: { S: ROLE }, at: { S: 'yesterday' } }),
    ).toMatchObject({
      scope: { kind: 'principal' },
      reason: 'no reason given',
    });
  });
});

describe('rekey entries (token-vendor rotate-now)', () => {
  const jwt = (_principalArn: string): VendRequest => ({ tokenType: 'snowflake-jwt', connection: 'demo' });
  const rekey = (fields: Record<string, string | number> = {}) =>
    entry({
      kind: 'rekey',
      connection: 'demo',
      version: 'rotate-now-1',
      by: 'rotate-key',
      at: NOW - 1000,
      ...fields,
    });

  it('refuses nothing, and taints the connection’s key-pair JWTs issued before it (plus the window), nothing else', () => {
    const list = [rekey()];
    expect(check(list, http(OTHER), jwt(OTHER)).taintedBefore).toBe(NOW - 1000 + WINDOW);
    expect(check(list, http(OTHER), pg('reporting_user')).taintedBefore).toBe(Number.NEGATIVE_INFINITY);
    expect(check(list, http(SESSION), pg('reporting_user')).taintedBefore).toBe(Number.NEGATIVE_INFINITY);
  });

  it('says which connections must read their key again, and from when; hostile ones are no entries', () => {
    const future = rekey({ at: NOW + 86_400_000 });
    expect(new RevocationList([future], config, NOW, WINDOW).rekeys).toEqual(
      new Map([['demo', NOW + WINDOW]]),
    );
    expect(new RevocationList([rekey({ at: 'x' } as never)], config, NOW, WINDOW).rekeys.size).toBe(0);
    for (const connection of ['demo ', 'de\u200bmo', '', 'a'.repeat(65), '../demo'])
      expect(entryFromItem(item({ kind: 'rekey', connection, at: NOW }))).toBeUndefined();
    expect(entryFromItem(item({ kind: 'rekey', at: NOW }))).toBeUndefined();
  });

  it('each read tells the runtime of every rekey entry, so a key read before it is read again', async () => {
    const told: [string, number][] = [];
    let entries: Revocation[] = [];
    let now = NOW;
    const list = new Revocations({
      config,
      refreshMs: 2000,
      now: () => now,
      read: async () => entries,
      onRekey: (c, before) => told.push([c, before]),
    });
    await list.current();
    expect(told).toEqual([]);
    entries = [rekey({ at: NOW + 500 })];
    now += 2000;
    await list.current();
    expect(told).toEqual([['demo', NOW + 500 + 4000]]);
  });
});

describe('one container’s view of the list', () => {
  const target = authorize(config, http(SESSION), pg('reporting_user'));

  it('refuses with REVOCATION_LIST_UNAVAILABLE until a first read succeeds, then serves on its last list', async () => {
    let now = NOW;
    let fail = true;
    let reads = 0;
    const list = new Revocations({
      config,
      refreshMs: 2000,
      now: () => now,
      read: async () => {
        reads += 1;
        if (fail) throw new Error('unreachable');
        return [revokedRole('arn:aws:iam::111122223333:role/etl')];
      },
    });
    // Fresh, it answers synchronously (a refusal is a throw); a read to wait for, a promise.
    const ask = async (caller: Caller) => list.check(caller, target);
    await expect(ask(http(SESSION))).rejects.toBeInstanceOf(RevocationListUnavailableError);
    fail = false;
    await expect(ask(http(SESSION))).resolves.toBeDefined();
    await expect(ask(http(OTHER))).rejects.toBeInstanceOf(RevokedError);
    fail = true;
    now += 2500;
    // The read fails: the last list still refuses the revoked principal and serves the other.
    await expect(ask(http(OTHER))).rejects.toBeInstanceOf(RevokedError);
    await expect(ask(http(SESSION))).resolves.toBeDefined();
    // …and it does not read again on every vend after a failure.
    const after = reads;
    await ask(http(SESSION));
    expect(reads).toBe(after);
  });

  it('reads again when the list is older than refreshMs, once for concurrent vends', async () => {
    let now = NOW;
    let reads = 0;
    let entries: Revocation[] = [];
    const list = new Revocations({
      config,
      refreshMs: 2000,
      now: () => now,
      read: async () => {
        reads += 1;
        await new Promise((r) => setTimeout(r, 5));
        return entries;
      },
    });
    const ask = async (caller: Caller) => list.check(caller, target);
    await Promise.all(Array.from({ length: 20 }, () => ask(http(SESSION))));
    expect(reads).toBe(1);
    entries = [revokedRole()];
    now += 1999;
    await expect(ask(http(SESSION))).resolves.toBeDefined(); // not yet re-read
    now += 1;
    await expect(ask(http(SESSION))).rejects.toBeInstanceOf(RevokedError);
    expect(reads).toBe(2);
  });
});
