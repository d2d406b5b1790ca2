import { type AttributeValue, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KmsServer, startHangingServer, startKmsServer } from '../../dev/local/kms';
import { parseConfig } from '../../lambda/config/load';
import type { ConfigInput } from '../../lambda/config/schema';
import { authorize } from '../../lambda/vending/policy';
import { SHARED_CACHE_LIMITS, sharedCacheKey } from '../../lambda/vending/shared-cache';
import { type EmulatorFixture, emulatorFixture } from '../support/emulator';
import { ROLE_ARN } from '../support/events';
import { type Fleet, startFleet } from '../support/fleet';
import type { VendResult } from '../support/fleet-worker';
import { CACHE_TABLE, type Dynalite, startDynalite } from '../support/shared-cache';

/**
 * The shared cache against a hostile table and hung AWS endpoints, in a fleet of container processes
 * with the functions' own clients and limits: KMS is a stand-in that speaks KMS's wire protocol over
 * HTTP (so the real KMSClient and its timeouts are in play) and can hang; DynamoDB is dynalite, or an
 * endpoint that accepts connections and never answers. Someone can write anything to the table.
 *
 * The bounds these tests hold the vendor to are the README's: a poisoned entry costs no waiting; a hung
 * DynamoDB or KMS adds at most SHARED_CACHE_LIMITS.awsBudgetMs (2 s) to a vend; no vend makes more than
 * SHARED_CACHE_LIMITS.maxDynamoDbCalls (20) DynamoDB calls.
 */
const CONTAINERS = 4;
/** Time a local mint against the emulator may take on a loaded 2-core machine, on top of the bound. */
const MINT_SLACK_MS = 1500;

describe(`a fleet of ${CONTAINERS} containers against a hostile table and hung endpoints`, () => {
  let fx: EmulatorFixture;
  let db: Dynalite;
  let kms: KmsServer;
  let hanging: Awaited<ReturnType<typeof startHangingServer>>;
  let fleet: Fleet;
  const users = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}_${i}`);
  const POISONED = users('poisoned', 6);
  const USERS = [...POISONED, 'moved', ...users('kms', 3), 'stored', ...users('ddb', 3)];

  beforeAll(async () => {
    [fx, db, kms, hanging] = await Promise.all([
      emulatorFixture(),
      startDynalite(),
      startKmsServer(),
      startHangingServer(),
    ]);
    fleet = await startFleet(fx, {
      containers: CONTAINERS,
      usernames: USERS,
      dynamoEndpoint: db.endpoint,
      hostile: { kmsUrl: kms.url, hangingUrl: hanging.url },
    });
  }, 120_000);

  afterAll(async () => {
    fleet?.close();
    await Promise.all([fx?.emulator.close(), db?.close(), kms?.close(), hanging?.close()]);
  });

  const mints = () => fx.emulator.executionsOf('generate-postgres-token').length;
  /** The table key the stack's containers use for `username` (namespace `stack-a`, see fleet-worker.ts). */
  const pkOf = (username: string, config: ConfigInput = fleet.configs.shared) =>
    sharedCacheKey(
      'stack-a',
      authorize(
        parseConfig(config),
        { kind: 'http', principalArn: ROLE_ARN },
        { tokenType: 'postgres', instance: 'reporting_server', username },
      ).cacheKey,
    );
  const poison = (username: string, item: Record<string, AttributeValue>) =>
    db
      .client()
      .send(new PutItemCommand({ TableName: CACHE_TABLE, Item: { pk: { S: pkOf(username) }, ...item } }));
  /** Every container asks for every target, `rounds` times each, all at once. */
  const everyone = async (
    mode: Parameters<Fleet['ask']>[1],
    targets: readonly string[],
    members = fleet.workers,
  ) => (await Promise.all(members.map((w) => fleet.ask(w, mode, targets)))).flat();
  const ok = (results: VendResult[]) => expect(results.filter((r) => !r.ok)).toEqual([]);
  const worst = (results: VendResult[], what: 'elapsedMs' | 'dynamoCalls') =>
    Math.max(...results.map((r) => r[what]));

  it('a poisoned entry (a lease that never ends, attributes of the wrong type) costs no wait, one mint, and a few DynamoDB calls', async () => {
    const now = Date.now();
    const hour = String(now + 3_600_000);
    const entries: Record<string, AttributeValue>[] = [
      // A lease that never ends: before, every first request waited until its deadline minus 3 s
      { leaseOwner: { S: 'x' }, leaseUntil: { N: '9000000000000000' } },
      // A fresh expiry and nothing sealed: before, the lease's condition could never hold, and waiters spun
      { expiresAt: { N: hour } },
      // The expiry as a string
      { expiresAt: { S: hour }, sealed: { S: 'abc' }, leaseUntil: { N: String(now - 1) } },
      // The lease's end as a string
      { leaseOwner: { S: 'x' }, leaseUntil: { S: '0' } },
      // A version of the wrong type, a lease that never ends, a fresh expiry and garbage for a token
      {
        v: { M: {} },
        leaseUntil: { N: '9000000000000000' },
        expiresAt: { N: hour },
        sealed: { S: 'garbage' },
        dataKey: { S: 'AAAA' },
        iv: { S: 'AAAA' },
      },
      // Every attribute of a type nobody writes
      { v: { L: [] }, leaseUntil: { BOOL: true }, expiresAt: { NULL: true }, leaseOwner: { N: '7' } },
    ];
    await Promise.all(POISONED.map((u, i) => poison(u, entries[i]!)));
    const before = mints();
    const results = await everyone('hostile', POISONED);
    ok(results);
    // One mint per target for the whole fleet: the poisoned entries were taken over, not routed around
    expect(mints() - before).toBe(POISONED.length);
    expect(results.filter((r) => r.ok && r.cache === 'miss')).toHaveLength(POISONED.length);
    expect(worst(results, 'dynamoCalls')).toBeLessThanOrEqual(SHARED_CACHE_LIMITS.maxDynamoDbCalls);
    // No one waited on a void lease (before: ≈ 20 s at the HTTP deadline)
    expect(worst(results, 'elapsedMs')).toBeLessThan(MINT_SLACK_MS + 1000);
    // …and the fleet is served from the replaced entries
    const again = await everyone('hostile', POISONED, fleet.workers.slice(0, 1));
    expect(again.every((r) => r.ok && (r.cache === 'hit' || r.cache === 'shared-hit'))).toBe(true);
  }, 60_000);

  it('an entry written under another config or by another stack is never served: a changed role asks Snowflake again, another stack mints its own', async () => {
    const [a, b, c] = fleet.workers;
    const first = (await fleet.ask(a!, 'hostile', ['moved']))[0]!;
    expect(first).toMatchObject({ ok: true, cache: 'miss' });
    // The stack's connection switched to a role without USAGE on the instance: Snowflake refuses it, and
    // the token minted under the old role is not handed out in its place
    const before = mints();
    const changed = (await fleet.ask(b!, 'hostile-no-usage', ['moved']))[0]!;
    expect(changed).toMatchObject({ ok: false, code: 'SNOWFLAKE_REJECTED' });
    expect(mints() - before).toBe(1); // Snowflake was asked, under the new role
    // Another stack on the same table and key: its own entry, its own token
    const other = (await fleet.ask(c!, 'hostile-other-stack', ['moved']))[0]!;
    expect(other).toMatchObject({ ok: true, cache: 'miss' });
    expect(other.ok && first.ok && other.tokenId !== first.tokenId).toBe(true);
    // …and it did not overwrite this stack's entry
    const ours = (await fleet.ask(c!, 'hostile', ['moved']))[0]!;
    expect(ours).toMatchObject({ ok: true, cache: 'shared-hit', tokenId: first.ok ? first.tokenId : '' });
  }, 60_000);

  it('KMS hung: containers that hold this period’s key never call it; a container without the key gets its token within the bound, and a lease holder keeps the one it minted', async () => {
    const [a] = fleet.workers;
    // A token already in the table. Every container here has vended this hour, so each holds the
    // period key in memory; two new containers hold nothing.
    expect((await fleet.ask(a!, 'hostile', ['stored']))[0]).toMatchObject({ ok: true, cache: 'miss' });
    const fresh = await startFleet(fx, {
      containers: 2,
      usernames: USERS,
      dynamoEndpoint: db.endpoint,
      hostile: { kmsUrl: kms.url, hangingUrl: hanging.url },
    });
    kms.hang();
    try {
      const before = mints();
      const hungBefore = kms.calls.hung;
      // The warm fleet seals and opens with the key it holds: KMS being down changes nothing
      const warm = await everyone('hostile', ['kms_0', 'kms_1']);
      ok(warm);
      expect(kms.calls.hung).toBe(hungBefore);
      expect(mints() - before).toBe(2);
      expect(warm.every((r) => r.ok && ['miss', 'shared-hit', 'coalesced'].includes(r.cache))).toBe(true);

      // The new containers must unwrap the key to open the stored token or seal a new one: each call
      // hangs until its timeout, and they mint on their own within the bound
      const cold = (
        await Promise.all(fresh.workers.map((w) => fresh.ask(w, 'hostile', ['stored', 'kms_2'])))
      ).flat();
      ok(cold);
      expect(kms.calls.hung).toBeGreaterThan(hungBefore);
      expect(worst(cold, 'elapsedMs')).toBeLessThan(SHARED_CACHE_LIMITS.awsBudgetMs + MINT_SLACK_MS);
      // One lease holder for kms_2 minted and kept its token though it could not store it; the other
      // minted on its own once that holder gave its lease back (no queue of holders, each hung)
      const outcomes = cold.map((r) => (r.ok ? r.cache : 'failed'));
      expect(outcomes.filter((o) => o === 'miss')).toHaveLength(1);
      expect(outcomes.every((o) => o === 'miss' || o === 'local-fallback')).toBe(true);
      expect(mints() - before).toBeLessThanOrEqual(2 + fresh.workers.length * 2);
    } finally {
      kms.hang(false);
      fresh.close();
    }
  }, 60_000);

  it('DynamoDB hung: every caller gets its token within the bound', async () => {
    const results = await everyone('dynamodb-hung', users('ddb', 3));
    ok(results);
    expect(hanging.requests()).toBeGreaterThan(0);
    expect(results.every((r) => r.ok && (r.cache === 'local-fallback' || r.cache === 'coalesced'))).toBe(
      true,
    );
    // One GetItem timed out (1 s), then the local mint
    expect(worst(results, 'elapsedMs')).toBeLessThan(SHARED_CACHE_LIMITS.callTimeoutMs + MINT_SLACK_MS);
  }, 60_000);
});
