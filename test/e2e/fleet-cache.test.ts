import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../lambda/config/schema';
import { type EmulatorFixture, emulatorFixture, fixtureConfig } from '../support/emulator';
import { ROLE_ARN } from '../support/events';
import type { VendMessage, VendResult } from '../support/fleet-worker';
import { CACHE_KEY_ID, CACHE_TABLE, type Dynalite, startDynalite } from '../support/shared-cache';

/**
 * Fleet-wide behaviour needs a fleet: Lambda gives each container one request at a time, so one process
 * with many promises proves nothing about it. Here each container is its own process (its own memory
 * cache, its own SDK clients) against one Snowflake emulator and one DynamoDB (dynalite).
 */
const CONTAINERS = 16;
const CALLERS = 200;
const WORKER = fileURLToPath(new URL('../support/fleet-worker.ts', import.meta.url));
const USERS = Array.from({ length: 12 }, (_, i) => `user_${i}`);

describe(`a fleet of ${CONTAINERS} containers × ${CALLERS} callers`, () => {
  let fx: EmulatorFixture;
  let db: Dynalite;
  let workers: ChildProcess[] = [];
  let nextId = 0;

  beforeAll(async () => {
    fx = await emulatorFixture();
    db = await startDynalite();
    const base = fixtureConfig(fx);
    const local: ConfigInput = {
      ...base,
      postgresInstances: [{ ...base.postgresInstances![0]!, allowedUsers: USERS }],
      grants: [{ principal: ROLE_ARN, postgres: [{ instance: 'reporting_server', usernames: USERS }] }],
    };
    const shared: ConfigInput = {
      ...local,
      cache: { shared: { dynamodb: { tableName: CACHE_TABLE }, kmsKeyId: CACHE_KEY_ID, leaseSeconds: 2 } },
    };
    const setup = JSON.stringify({
      shared,
      local,
      dynamoEndpoint: db.endpoint,
      masterKey: randomBytes(32).toString('base64'),
    });
    workers = Array.from({ length: CONTAINERS }, () =>
      fork(WORKER, [], {
        execArgv: ['--import', 'tsx'],
        env: { ...process.env, FLEET_SETUP: setup },
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      }),
    );
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            w.once('message', () => resolve());
            w.once('exit', (code) => reject(new Error(`a worker exited with ${code} before it was ready`)));
          }),
      ),
    );
  }, 120_000);

  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await Promise.all([fx.emulator.close(), db.close().catch(() => {})]);
  });

  /** Ask one worker for `usernames`, concurrently; its results in order. */
  const ask = (worker: ChildProcess, mode: VendMessage['mode'], usernames: string[], deadlineMs = 20_000) =>
    new Promise<VendResult[]>((resolve, reject) => {
      const id = nextId++;
      const onMessage = (m: { type: string; id: number; results: VendResult[] }) => {
        if (m.type !== 'result' || m.id !== id) return;
        worker.off('message', onMessage);
        resolve(m.results);
      };
      worker.on('message', onMessage);
      worker.once('exit', () => reject(new Error('the worker died')));
      worker.send({ type: 'vend', id, mode, usernames, deadlineMs } satisfies VendMessage);
    });

  /** Spread `callers` over `fleet`, each asking for one of `targets`; all at once. */
  const burst = async (
    fleet: ChildProcess[],
    mode: VendMessage['mode'],
    targets: string[],
    callers = CALLERS,
  ) => {
    const perWorker = fleet.map(() => [] as string[]);
    // Caller i goes to container i mod n and asks for target ⌊i / n⌋ mod t: every container sees every target.
    for (let i = 0; i < callers; i += 1)
      perWorker[i % fleet.length]!.push(targets[Math.floor(i / fleet.length) % targets.length]!);
    return (await Promise.all(fleet.map((w, i) => ask(w, mode, perWorker[i]!)))).flat();
  };
  const mints = () => fx.emulator.executionsOf('generate-postgres-token').length;

  it('with the shared cache: SQL API executions = targets (5), however many containers ask', async () => {
    const before = mints();
    const results = await burst(workers, 'shared', USERS.slice(0, 5));
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(mints() - before).toBe(5);
    const outcomes = results.map((r) => (r.ok ? r.cache : 'failed'));
    expect(outcomes.filter((o) => o === 'miss')).toHaveLength(5);
    expect(new Set(outcomes)).toEqual(new Set(['miss', 'shared-hit', 'coalesced']));
    // every caller of one target got the same token
    expect(new Set(results.map((r) => (r.ok ? r.tokenId : '')))).toHaveProperty('size', 5);
  }, 60_000);

  it('without it: SQL API executions = containers × targets (16 × 2)', async () => {
    const before = mints();
    const results = await burst(workers, 'local', USERS.slice(5, 7));
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(mints() - before).toBe(CONTAINERS * 2);
  }, 60_000);

  it('a lease holder killed mid-mint: the others take the lapsed lease and every caller gets a token in time', async () => {
    const [holder, ...rest] = workers;
    const target = USERS[7]!;
    fx.emulator.faults.push({ kind: 'delay', ms: 4000 }); // the holder's statement hangs in Snowflake
    const requests = fx.emulator.requests.length;
    const held = ask(holder!, 'shared', [target]).catch(() => []);
    // Kill it once its statement has reached Snowflake: it holds the lease and will never write the token
    for (let i = 0; i < 200 && fx.emulator.requests.length === requests; i += 1) await sleep(10);
    holder!.kill('SIGKILL');
    await held;
    workers = rest;
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
    const results = await burst(workers, 'shared', USERS.slice(8, 10));
    expect(results.filter((r) => !r.ok)).toEqual([]);
    const outcomes = new Set(results.map((r) => (r.ok ? r.cache : 'failed')));
    expect(outcomes.has('local-fallback')).toBe(true);
    expect([...outcomes].every((o) => o === 'local-fallback' || o === 'coalesced')).toBe(true);
  }, 60_000);
});

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
