import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmulatorFixture, emulatorFixture } from '../support/emulator';
import { type Fleet, startFleet } from '../support/fleet';
import { type Dynalite, startDynalite } from '../support/shared-cache';

/**
 * Fleet-wide behaviour needs a fleet: Lambda gives each container one request at a time, so one process
 * with many promises proves nothing about it. Here each container is its own process (its own memory
 * cache, its own SDK clients) against one Snowflake emulator and one DynamoDB (dynalite).
 */
const CONTAINERS = 16;
const CALLERS = 200;
const USERS = Array.from({ length: 40 }, (_, i) => `user_${i}`);

describe(`a fleet of ${CONTAINERS} containers × ${CALLERS} callers`, () => {
  let fx: EmulatorFixture;
  let db: Dynalite;
  let fleet: Fleet;

  beforeAll(async () => {
    fx = await emulatorFixture();
    db = await startDynalite();
    fleet = await startFleet(fx, {
      containers: CONTAINERS,
      usernames: USERS,
      dynamoEndpoint: db.endpoint,
      leaseSeconds: 2,
    });
  }, 120_000);

  afterAll(async () => {
    fleet.close();
    await Promise.all([fx.emulator.close(), db.close().catch(() => {})]);
  });

  const ask: Fleet['ask'] = (...args) => fleet.ask(...args);
  const burst = (
    members: ChildProcess[],
    mode: Parameters<Fleet['burst']>[1],
    targets: string[],
    callers = CALLERS,
  ) => fleet.burst(members, mode, targets, callers);
  const mints = () => fx.emulator.executionsOf('generate-postgres-token').length;

  it('with the shared cache: SQL API executions = targets (5), however many containers ask', async () => {
    const before = mints();
    const results = await burst(fleet.workers, 'shared-long-lease', USERS.slice(0, 5));
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(mints() - before).toBe(5);
    const outcomes = results.map((r) => (r.ok ? r.cache : 'failed'));
    expect(outcomes.filter((o) => o === 'miss')).toHaveLength(5);
    expect(new Set(outcomes)).toEqual(new Set(['miss', 'shared-hit', 'coalesced']));
    // every caller of one target got the same token
    expect(new Set(results.map((r) => (r.ok ? r.tokenId : '')))).toHaveProperty('size', 5);
  }, 60_000);

  it('every container asking for every one of 25 targets at once (400 lease races): still one execution per target', async () => {
    // Found by the fleet benchmark: a container that read an empty entry must not take the lease after
    // another container's token landed (the lease's condition also requires no fresh token).
    const before = mints();
    // Long leases: on a busy machine a live holder's mint can outlast a 2-second lease, and a lapsed
    // lease is taken over by design (one more mint, never a failure). This test is about the race.
    const results = await burst(fleet.workers, 'shared-long-lease', USERS.slice(12, 37), CONTAINERS * 25);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(mints() - before).toBe(25);
  }, 60_000);

  it('without it: SQL API executions = containers × targets (16 × 2)', async () => {
    const before = mints();
    const results = await burst(fleet.workers, 'local', USERS.slice(5, 7));
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(mints() - before).toBe(CONTAINERS * 2);
  }, 60_000);

  it('a lease holder killed mid-mint: the others take the lapsed lease and every caller gets a token in time', async () => {
    const [holder, ...rest] = fleet.workers;
    const target = USERS[7]!;
    fx.emulator.faults.push({ kind: 'delay', ms: 4000 }); // the holder's statement hangs in Snowflake
    const requests = fx.emulator.requests.length;
    const held = ask(holder!, 'shared', [target]).catch(() => []);
    // Kill it once its statement has reached Snowflake: it holds the lease and will never write the token
    for (let i = 0; i < 200 && fx.emulator.requests.length === requests; i += 1) await sleep(10);
    holder!.kill('SIGKILL');
    await held;
    fleet.workers = rest;
    const started = Date.now();
    const results = await burst(rest, 'shared', [target], 60);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    // They waited for the dead holder's lease (2 s from its acquisition) to lapse, not a moment longer than needed
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(results.filter((r) => r.ok && r.cache === 'miss')).toHaveLength(1);
  }, 60_000);

  it('DynamoDB stopped: every caller still gets a token (local-fallback), none fails', async () => {
    await db.close();
    const results = await burst(fleet.workers, 'shared', USERS.slice(8, 10));
    expect(results.filter((r) => !r.ok)).toEqual([]);
    const outcomes = new Set(results.map((r) => (r.ok ? r.cache : 'failed')));
    expect(outcomes.has('local-fallback')).toBe(true);
    expect([...outcomes].every((o) => o === 'local-fallback' || o === 'coalesced')).toBe(true);
  }, 60_000);
});

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
