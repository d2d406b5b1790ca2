import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  jsonCodec,
  SHARED_CACHE_LIMITS,
  type SharedCacheLimits,
  SharedTokenCache,
  sharedCacheKey,
} from '../../../lambda/vending/shared-cache';
import { CACHE_KEY_ID, CACHE_TABLE, type Dynalite, fakeKms, startDynalite } from '../../support/shared-cache';

/**
 * The shared cache's rules, one at a time, on real DynamoDB semantics (dynalite: conditions,
 * `attribute_type`, consistent reads) with KMS mocked at the SDK boundary (real cryptography). Nothing
 * the table holds is trusted; every call is bounded; the fleet-wide claims are in test/e2e/.
 */
interface Token {
  readonly token: string;
  readonly expiresAt: Date;
}

describe('SharedTokenCache', () => {
  let db: Dynalite;
  let kms: ReturnType<typeof fakeKms>;
  beforeAll(async () => {
    db = await startDynalite();
  });
  afterEach(() => kms?.restore());
  afterAll(() => db.close());

  let nextKey = 0;
  /** A fresh cache key per test, so tests never meet each other's entries. */
  const freshKey = () => `postgres\u0000demo\u0000R\u0000user_${nextKey++}`;
  const codec = jsonCodec<Token>();
  const hour = () => new Date(Date.now() + 3_600_000);
  let mints = 0;
  const mint = async (): Promise<Token> => {
    mints += 1;
    return { token: `tok-${mints}-${Math.random()}`, expiresAt: hour() };
  };

  /** A DynamoDB client that counts its calls and can be made to answer slowly, or never. */
  const counting = (base: () => DynamoDBClient = () => db.client()) => {
    const client = base();
    const calls: string[] = [];
    const send = client.send.bind(client) as (...args: unknown[]) => Promise<unknown>;
    (client as unknown as { send: unknown }).send = (
      command: { constructor: { name: string } },
      ...rest: unknown[]
    ) => {
      calls.push(command.constructor.name);
      return send(command, ...rest);
    };
    return { client, calls };
  };
  const cache = (
    options: {
      dynamodb?: DynamoDBClient;
      namespace?: string;
      leaseMs?: number;
      limits?: Partial<SharedCacheLimits>;
      fallbacks?: string[];
    } = {},
  ) =>
    new SharedTokenCache({
      dynamodb: () => options.dynamodb ?? db.client(),
      kms: kms.client,
      tableName: CACHE_TABLE,
      kmsKeyId: CACHE_KEY_ID,
      leaseMs: options.leaseMs ?? 10_000,
      namespace: options.namespace ?? 'stack-a',
      ...(options.limits ? { limits: options.limits } : {}),
      onFallback: (reason) => options.fallbacks?.push(reason),
    });
  const get = (c: SharedTokenCache, key: string, deadline = Date.now() + 20_000) =>
    c.get(key, 60_000, mint, codec, deadline);
  const put = (key: string, item: Record<string, AttributeValue>, namespace = 'stack-a') =>
    db.client().send(
      new PutItemCommand({
        TableName: CACHE_TABLE,
        Item: { pk: { S: sharedCacheKey(namespace, key) }, ...item },
      }),
    );
  const read = async (key: string, namespace = 'stack-a') =>
    (
      await db
        .client()
        .send(
          new GetItemCommand({ TableName: CACHE_TABLE, Key: { pk: { S: sharedCacheKey(namespace, key) } } }),
        )
    ).Item;

  it('a lease that ends later than any lease could is void: taken at once, and the new one ends within leaseMs', async () => {
    kms = fakeKms();
    const key = freshKey();
    await put(key, { leaseOwner: { S: 'x' }, leaseUntil: { N: '9000000000000000' } });
    const started = Date.now();
    const { outcome } = await get(cache({ leaseMs: 5000 }), key);
    expect(outcome).toBe('miss');
    expect(Date.now() - started).toBeLessThan(1000);
    // …and a second container is served what the first stored
    expect((await get(cache(), key)).outcome).toBe('shared-hit');
  });

  it('a live lease (within leaseMs of now) is honoured: the caller waits for it, then takes it over', async () => {
    kms = fakeKms();
    const key = freshKey();
    await put(key, { leaseOwner: { S: 'dead' }, leaseUntil: { N: String(Date.now() + 600) } });
    const started = Date.now();
    const { outcome } = await get(cache({ leaseMs: 1000 }), key);
    expect(outcome).toBe('miss');
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
  });

  it.each<[string, (now: number) => Record<string, AttributeValue>]>([
    ['a fresh expiresAt and nothing sealed', (now) => ({ expiresAt: { N: String(now + 3_600_000) } })],
    ['expiresAt as a string', (now) => ({ expiresAt: { S: String(now + 3_600_000) }, sealed: { S: 'abc' } })],
    ['leaseUntil as a string', () => ({ leaseOwner: { S: 'x' }, leaseUntil: { S: '0' } })],
    ['a version of another type', (now) => ({ v: { M: {} }, expiresAt: { N: String(now + 3_600_000) } })],
    [
      'every attribute of a type nobody writes',
      () => ({ v: { L: [] }, leaseUntil: { BOOL: true }, expiresAt: { NULL: true }, sealed: { N: '1' } }),
    ],
    [
      'garbage sealed under a fresh expiry',
      (now) => ({
        sealed: { S: 'garbage' },
        dataKey: { S: 'AAAA' },
        iv: { S: 'AAAA' },
        expiresAt: { N: String(now + 3_600_000) },
        v: { S: 'v1' },
      }),
    ],
  ])(
    'a malformed entry (%s) is leased and replaced in three DynamoDB calls, not spun on',
    async (_name, item) => {
      kms = fakeKms();
      const key = freshKey();
      await put(key, item(Date.now()));
      const { client, calls } = counting();
      const { outcome } = await get(cache({ dynamodb: client }), key);
      expect(outcome).toBe('miss');
      expect(calls).toEqual(['GetItemCommand', 'UpdateItemCommand', 'PutItemCommand']);
      expect((await get(cache(), key)).outcome).toBe('shared-hit');
    },
  );

  it('a table that changes under every lease attempt costs at most maxDynamoDbCalls, then a local mint', async () => {
    kms = fakeKms();
    const key = freshKey();
    const { client, calls } = counting();
    // Someone rewrites the entry's version between every read and every lease attempt
    const send = client.send.bind(client) as (command: unknown, ...rest: unknown[]) => Promise<unknown>;
    (client as unknown as { send: unknown }).send = async (
      command: { constructor: { name: string } },
      ...rest: unknown[]
    ) => {
      if (command.constructor.name === 'UpdateItemCommand')
        await put(key, { v: { S: `changed-${Math.random()}` } });
      return send(command, ...rest);
    };
    const fallbacks: string[] = [];
    const { outcome } = await get(cache({ dynamodb: client, fallbacks }), key);
    expect(outcome).toBe('local-fallback');
    expect(fallbacks).toEqual(['dynamodb-calls']);
    expect(calls).toHaveLength(SHARED_CACHE_LIMITS.maxDynamoDbCalls);
  });

  it('a call that never answers is aborted after callTimeoutMs, and all calls together stop at awsBudgetMs', async () => {
    kms = fakeKms();
    const signals: AbortSignal[] = [];
    const hung = {
      send: (_command: unknown, options?: { abortSignal?: AbortSignal }) => {
        if (options?.abortSignal) signals.push(options.abortSignal);
        return new Promise(() => {});
      },
    } as unknown as DynamoDBClient;
    const fallbacks: string[] = [];
    let started = Date.now();
    const limits = { callTimeoutMs: 200, awsBudgetMs: 300 };
    expect((await get(cache({ dynamodb: hung, limits, fallbacks }), freshKey())).outcome).toBe(
      'local-fallback',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeLessThan(600);
    expect(fallbacks).toEqual(['dynamodb:GetItem']);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(true); // the SDK closes the request instead of leaving it open

    // Slow, not hung: each call answers within its timeout, but together they pass the budget
    const { client } = counting();
    const send = client.send.bind(client) as (command: unknown, ...rest: unknown[]) => Promise<unknown>;
    (client as unknown as { send: unknown }).send = async (command: unknown, ...rest: unknown[]) => {
      await new Promise((resolve) => setTimeout(resolve, 170));
      return send(command, ...rest);
    };
    fallbacks.length = 0;
    started = Date.now();
    const slow = await get(cache({ dynamodb: client, limits, fallbacks }), freshKey());
    expect(slow.outcome).toBe('local-fallback');
    expect(Date.now() - started).toBeLessThan(limits.awsBudgetMs + 300);
  });

  it('KMS hung while storing: the minter keeps its token, gives the lease back, and waiters then mint on their own', async () => {
    kms = fakeKms();
    const key = freshKey();
    const hungKms = { send: () => new Promise(() => {}) };
    const storing = new SharedTokenCache({
      dynamodb: () => db.client(),
      kms: () => hungKms as never,
      tableName: CACHE_TABLE,
      kmsKeyId: CACHE_KEY_ID,
      leaseMs: 10_000,
      namespace: 'stack-a',
      limits: { callTimeoutMs: 300 },
    });
    const fallbacks: string[] = [];
    const started = Date.now();
    const [holder, waiter] = await Promise.all([
      get(storing, key),
      // A second container arrives while the holder's lease is live
      new Promise((resolve) => setTimeout(resolve, 30)).then(() => get(cache({ fallbacks }), key)),
    ]);
    expect(holder.outcome).toBe('miss');
    expect(holder.value.token).toMatch(/^tok-/);
    expect(waiter.outcome).toBe('local-fallback');
    expect(fallbacks).toEqual(['lease-released']);
    expect(Date.now() - started).toBeLessThan(2000);
    const item = await read(key);
    expect(item?.leaseOwner).toBeUndefined();
    expect(item?.sealed).toBeUndefined();
  });

  it('entries are the namespace’s own: another stack on the same table and key mints its own token', async () => {
    kms = fakeKms();
    const key = freshKey();
    const a = await get(cache({ namespace: 'stack-a' }), key);
    const b = await get(cache({ namespace: 'stack-b' }), key);
    expect([a.outcome, b.outcome]).toEqual(['miss', 'miss']);
    expect(b.value.token).not.toBe(a.value.token);
    expect((await get(cache({ namespace: 'stack-a' }), key)).value.token).toBe(a.value.token);
    // An entry copied from one stack's key to the other's does not open there (the seal binds the key)
    const item = await read(key, 'stack-a');
    await put(key, { ...item!, pk: { S: sharedCacheKey('stack-b', key) } }, 'stack-b');
    const moved = await get(cache({ namespace: 'stack-b' }), key);
    expect(moved.outcome).toBe('miss');
    expect(moved.value.token).not.toBe(a.value.token);
  });

  it('decided: an older entry of the same key, still fresh, put back over a newer one is served (the taint check runs on the opened token)', async () => {
    // Nothing in the table can tell an old seal from a new one without state the writer cannot also
    // roll back. Revocation therefore does not rely on the table: its check runs on the token id of
    // whatever a cache opens (README, "Security"). Until then, this is what a replay gets: a token the
    // vendor minted for exactly this target and stack, still within its life.
    kms = fakeKms();
    const key = freshKey();
    const first = await get(cache(), key);
    const old = await read(key);
    await put(key, { expiresAt: { N: '0' } }); // make the entry stale, so the next caller mints anew
    const second = await get(cache(), key);
    expect(second.outcome).toBe('miss');
    await put(key, { ...old! });
    const replayed = await get(cache(), key);
    expect(replayed.outcome).toBe('shared-hit');
    expect(replayed.value.token).toBe(first.value.token);
  });

  it('keeps no token, target or user name in the table', async () => {
    kms = fakeKms();
    const key = freshKey();
    const { value } = await get(cache(), key);
    const { Items } = await db.client().send(new ScanCommand({ TableName: CACHE_TABLE }));
    const table = JSON.stringify(Items);
    expect(table).not.toContain(value.token);
    expect(table).not.toContain('user_');
  });
});
