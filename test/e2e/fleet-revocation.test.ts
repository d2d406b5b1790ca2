import type { ChildProcess } from 'node:child_process';
import { writeSync } from 'node:fs';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revoke, unrevoke } from '../../cli/revocation-table';
import type { RevocationScope } from '../../lambda/vending/revocations';
import { type EmulatorFixture, emulatorFixture } from '../support/emulator';
import { OTHER_ROLE_ARN, ROLE_ARN } from '../support/events';
import { type Fleet, startFleet } from '../support/fleet';
import { type Dynalite, startDynalite } from '../support/shared-cache';

/**
 * Incident response across a fleet (issue 25): 16 container processes, each with its own memory cache,
 * serve one principal from both cache levels; the principal is revoked; how long until every container
 * refuses it (p100), whether the tokens it held reach anyone else, and how long until unrevoking
 * restores it. Then the list's table stops answering.
 */
const CONTAINERS = 16;
const REFRESH_SECONDS = 2;
const TABLE = 'token-vendor-revocations';
/** TOKEN_VENDOR_REPORT=1 prints the measured bounds (a green run prints only vitest's report). */
const report = (line: string) => {
  if (process.env.TOKEN_VENDOR_REPORT) writeSync(2, `${line}\n`);
};
const REVOKED: RevocationScope = {
  kind: 'principal',
  principal: 'arn:aws:iam::111122223333:role/reporting-api',
};

describe(`revoking a principal across ${CONTAINERS} containers`, () => {
  let fx: EmulatorFixture;
  let cache: Dynalite;
  let list: Dynalite;
  let fleet: Fleet;
  const table = () => ({ client: list.client(), tableName: TABLE });

  beforeAll(async () => {
    fx = await emulatorFixture();
    [cache, list] = await Promise.all([startDynalite(), startDynalite()]);
    await list.client().send(
      new CreateTableCommand({
        TableName: TABLE,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    fleet = await startFleet(fx, {
      containers: CONTAINERS,
      usernames: ['reporting_user'],
      dynamoEndpoint: cache.endpoint,
      revocations: { endpoint: list.endpoint, tableName: TABLE, refreshSeconds: REFRESH_SECONDS },
    });
  }, 120_000);

  afterAll(async () => {
    fleet?.close();
    await Promise.all([fx?.emulator.close(), cache?.close().catch(() => {}), list?.close().catch(() => {})]);
  });

  const vend = (
    w: ChildProcess,
    principal = ROLE_ARN,
    mode: 'revocations' | 'revocations-cold' = 'revocations',
  ) => fleet.ask(w, mode, ['reporting_user'], 10_000, true, principal).then((r) => r[0]!);

  /** Ask every container every 100 ms until `done` holds for each; each container's time from `since`. */
  async function untilEvery(done: (r: Awaited<ReturnType<typeof vend>>) => boolean, since: number) {
    const times = await Promise.all(
      fleet.workers.map(async (w) => {
        for (;;) {
          const r = await vend(w);
          if (done(r)) return Date.now() - since;
          if (Date.now() - since > 15_000) return Number.POSITIVE_INFINITY;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }),
    );
    return Math.max(...times);
  }

  let held: Set<string>;

  it('every container refuses the revoked principal within the bound, and its tokens reach no one else', async () => {
    // Warm: each container serves the principal twice (the second from its own cache); all share one token.
    const warm = (await Promise.all(fleet.workers.map(async (w) => [await vend(w), await vend(w)]))).flat();
    expect(warm.filter((r) => !r.ok)).toEqual([]);
    expect(new Set(warm.map((r) => (r.ok ? r.cache : '')))).toContain('hit');
    held = new Set(warm.flatMap((r) => (r.ok ? [r.tokenId] : [])));

    const at = Date.now();
    await revoke(table(), { scope: REVOKED, reason: 'INC-42: credentials leaked', by: 'on-call', now: at });
    const p100 = await untilEvery((r) => !r.ok && r.code === 'REVOKED', at);
    report(`revocation applied by all ${CONTAINERS} containers in ${p100} ms (p100)`);
    expect(p100).toBeLessThanOrEqual(5000);

    // The other principal, on the same target: served, never a token the revoked one held.
    const other = await Promise.all(fleet.workers.map((w) => vend(w, OTHER_ROLE_ARN)));
    expect(other.filter((r) => !r.ok)).toEqual([]);
    expect(other.filter((r) => r.ok && held.has(r.tokenId))).toEqual([]);
  }, 60_000);

  it('unrevoking restores it within the same bound, with a token it never held', async () => {
    const at = Date.now();
    await unrevoke(table(), { scope: REVOKED, by: 'on-call', now: at });
    const p100 = await untilEvery((r) => r.ok, at);
    report(`unrevocation applied by all ${CONTAINERS} containers in ${p100} ms (p100)`);
    expect(p100).toBeLessThanOrEqual(5000);
    const again = await Promise.all(fleet.workers.map((w) => vend(w)));
    expect(again.filter((r) => !r.ok || held.has(r.tokenId))).toEqual([]);
  }, 60_000);

  it('with the table unreachable: warm containers keep their list, fresh ones refuse with 503', async () => {
    const at = Date.now();
    await revoke(table(), { scope: REVOKED, reason: 'again', by: 'on-call', now: at });
    expect(await untilEvery((r) => !r.ok && r.code === 'REVOKED', at)).toBeLessThanOrEqual(5000);
    await list.close();
    // Past the refresh: every read now fails, and the last list holds.
    await new Promise((resolve) => setTimeout(resolve, REFRESH_SECONDS * 1000 + 200));
    const revoked = await Promise.all(fleet.workers.map((w) => vend(w)));
    expect(revoked.map((r) => (r.ok ? 'served' : r.code))).toEqual(Array(CONTAINERS).fill('REVOKED'));
    const other = await Promise.all(fleet.workers.map((w) => vend(w, OTHER_ROLE_ARN)));
    expect(other.filter((r) => !r.ok)).toEqual([]);
    // A container that never read the list refuses everyone, rather than serve on an unknown list.
    const cold = await Promise.all(
      fleet.workers.slice(0, 4).map((w) => vend(w, OTHER_ROLE_ARN, 'revocations-cold')),
    );
    expect(cold.map((r) => (r.ok ? 'served' : r.code))).toEqual(Array(4).fill('REVOCATION_LIST_UNAVAILABLE'));
  }, 60_000);
});
