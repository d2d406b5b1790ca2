import { randomBytes } from 'node:crypto';
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jsonCodec } from '../../../lambda/vending/codec';
import { envelopeToken } from '../../../lambda/vending/envelope';
import {
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
/** One KMS key for the whole file, as one deployment has: the period keys in the table stay openable. */
const MASTER = randomBytes(32);

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
      kms?: () => never;
      keyPeriodMs?: number;
      now?: () => number;
    } = {},
  ) =>
    new SharedTokenCache({
      dynamodb: () => options.dynamodb ?? db.client(),
      kms: options.kms ?? kms.client,
      tableName: CACHE_TABLE,
      kmsKeyId: CACHE_KEY_ID,
      leaseMs: options.leaseMs ?? 10_000,
      namespace: options.namespace ?? 'stack-a',
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.keyPeriodMs ? { keyPeriodMs: options.keyPeriodMs } : {}),
      ...(options.now ? { now: options.now } : {}),
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
    kms = fakeKms(MASTER);
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
    kms = fakeKms(MASTER);
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
      kms = fakeKms(MASTER);
      const key = freshKey();
      await put(key, item(Date.now()));
      const { client, calls } = counting();
      const container = cache({ dynamodb: client });
      await get(container, freshKey()); // this container now holds the period's key
      calls.length = 0;
      const { outcome } = await get(container, key);
      expect(outcome).toBe('miss');
      expect(calls).toEqual(['GetItemCommand', 'UpdateItemCommand', 'PutItemCommand']);
      expect((await get(cache(), key)).outcome).toBe('shared-hit');
    },
  );

  it('a table that changes under every lease attempt costs at most maxDynamoDbCalls, then a local mint', async () => {
    kms = fakeKms(MASTER);
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
    kms = fakeKms(MASTER);
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
    kms = fakeKms(MASTER);
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
    kms = fakeKms(MASTER);
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
    kms = fakeKms(MASTER);
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
    kms = fakeKms(MASTER);
    const key = freshKey();
    const { value } = await get(cache(), key);
    const { Items } = await db.client().send(new ScanCommand({ TableName: CACHE_TABLE }));
    const table = JSON.stringify(Items);
    expect(table).not.toContain(value.token);
    expect(table).not.toContain('user_');
  });

  describe('period keys: KMS calls that do not grow with targets', () => {
    /** A namespace of its own per test, so each starts without a period key in the table. */
    let stack = 0;
    const fresh = (options: Parameters<typeof cache>[0] = {}) =>
      cache({ namespace: `period-${stack}`, ...options });
    const newStack = () => {
      stack += 1;
    };
    /** The period key item's address: the cache's own addressing of a name no cache key can have. */
    const keyItemOf = (namespace: string, p: number) =>
      sharedCacheKey(namespace, `\u0000period-key\u0000${p}`);
    const period = (at = Date.now(), ms = 3_600_000) => Math.floor(at / ms);
    const readPk = async (pk: string) =>
      (await db.client().send(new GetItemCommand({ TableName: CACHE_TABLE, Key: { pk: { S: pk } } }))).Item;

    it('a container pays one GenerateDataKey for all its targets in a period; another pays one Decrypt for all it opens', async () => {
      kms = fakeKms(MASTER);
      newStack();
      const keys = Array.from({ length: 20 }, freshKey);
      const first = fresh();
      for (const key of keys) expect((await get(first, key)).outcome).toBe('miss');
      expect(kms.calls).toEqual({ generateDataKey: 1, decrypt: 0 });
      const second = fresh();
      for (const key of keys) expect((await get(second, key)).outcome).toBe('shared-hit');
      expect(kms.calls).toEqual({ generateDataKey: 1, decrypt: 1 });
      // Entries name their key and hold no data key of their own
      const entry = await read(keys[0]!, `period-${stack}`);
      expect(entry?.dataKey).toBeUndefined();
      expect(entry?.keyRef?.S).toMatch(new RegExp(`^${period()}\\.[0-9a-f-]{36}$`));
      // The key item: KMS's ciphertext of the key, its id and period, nothing in the clear
      const item = await readPk(keyItemOf(`period-${stack}`, period()));
      expect(Object.keys(item!).sort()).toEqual(['dataKey', 'keyId', 'period', 'pk', 'ttl']);
      expect(entry?.keyRef?.S).toBe(`${period()}.${item!.keyId!.S}`);
    });

    it('containers that race to make the period key all seal under the one that landed', async () => {
      kms = fakeKms(MASTER);
      newStack();
      const keys = Array.from({ length: 6 }, freshKey);
      const containers = Array.from({ length: 6 }, () => fresh());
      await Promise.all(containers.map((c, i) => get(c, keys[i]!)));
      // Each made one at most; the losers unwrapped the winner's
      expect(kms.calls.generateDataKey).toBeLessThanOrEqual(containers.length);
      expect(kms.calls.generateDataKey + kms.calls.decrypt).toBeLessThanOrEqual(2 * containers.length);
      const refs = new Set(
        await Promise.all(keys.map(async (k) => (await read(k, `period-${stack}`))?.keyRef?.S)),
      );
      expect(refs.size).toBe(1);
      const reader = fresh();
      for (const key of keys) expect((await get(reader, key)).outcome).toBe('shared-hit');
    });

    it('an entry moved to another address, or pointing at another key, does not open (the address and the reference are associated data)', async () => {
      kms = fakeKms(MASTER);
      newStack();
      const ns = `period-${stack}`;
      const [a, b, c] = [freshKey(), freshKey(), freshKey()];
      const tokenA = (await get(fresh(), a)).value.token;
      await get(fresh(), b);
      await get(fresh(), c);
      const entryA = await read(a, ns);
      // A's sealed token copied over B's entry, under the same period key
      await put(b, { ...entryA!, pk: { S: sharedCacheKey(ns, b) } }, ns);
      const moved = await get(fresh(), b);
      expect(moved.outcome).toBe('miss');
      expect(moved.value.token).not.toBe(tokenA);
      // C's entry pointing at another key id, another period, or a reference of another shape
      for (const keyRef of [
        `${period()}.00000000-0000-0000-0000-000000000000`,
        `${period() - 1}.${entryA!.keyRef!.S!.split('.')[1]}`,
        `${period() + 5}.${entryA!.keyRef!.S!.split('.')[1]}`,
        'garbage',
        `${period()}.${entryA!.keyRef!.S!.split('.')[1]}\u0000`,
      ]) {
        const entryC = await read(c, ns);
        await put(c, { ...entryC!, keyRef: { S: keyRef } }, ns);
        const before = { ...kms.calls };
        const answer = await get(fresh(), c);
        expect(answer.outcome, keyRef).toBe('miss');
        // A reference out of bounds costs no KMS call; none costs more than one
        expect(kms.calls.decrypt - before.decrypt).toBeLessThanOrEqual(1);
      }
    });

    it('a key item that is not this stack\u2019s (copied, altered, garbage) is never sealed under: entries get a data key of their own, as before', async () => {
      kms = fakeKms(MASTER);
      newStack();
      const other = `period-${stack}-other`;
      const ns = `period-${stack}`;
      await get(cache({ namespace: other }), freshKey());
      const theirs = await readPk(keyItemOf(other, period()));
      const cases: Record<string, AttributeValue>[] = [
        { ...theirs! }, // another stack's key item, valid there
        { ...theirs!, period: { N: String(period() - 1) } },
        { keyId: { N: '1' }, dataKey: { BOOL: true }, period: { S: 'x' } },
        {
          keyId: theirs!.keyId!,
          dataKey: { S: randomBytes(60).toString('base64') },
          period: theirs!.period!,
        },
      ];
      for (const item of cases) {
        await db.client().send(
          new PutItemCommand({
            TableName: CACHE_TABLE,
            Item: { ...item, pk: { S: keyItemOf(ns, period()) } },
          }),
        );
        const key = freshKey();
        const container = fresh();
        const before = { ...kms.calls };
        expect((await get(container, key)).outcome).toBe('miss');
        const entry = await read(key, ns);
        expect(entry?.keyRef).toBeUndefined();
        expect(entry?.dataKey?.S).toBeDefined();
        // …and is served to the next container
        expect((await get(fresh(), key)).outcome).toBe('shared-hit');
        // The bad key item is tried once per container and period, not once per entry
        const again = freshKey();
        const mid = { ...kms.calls };
        await get(container, again);
        expect(kms.calls.decrypt - mid.decrypt).toBe(0);
        expect(kms.calls.generateDataKey - mid.generateDataKey).toBe(1); // its own data key
        expect(kms.calls.decrypt - before.decrypt).toBeLessThanOrEqual(2);
      }
    });

    it('reads entries sealed the old way (a data key per entry): a deployment does not lose its cache', async () => {
      kms = fakeKms(MASTER);
      newStack();
      const ns = `period-${stack}`;
      const key = freshKey();
      const pk = sharedCacheKey(ns, key);
      const value = { token: 'tok-old-format', expiresAt: hour() };
      const old = await envelopeToken(kms.client(), CACHE_KEY_ID, codec.encode(value), {
        'token-vendor:cache': pk,
      });
      await put(
        key,
        {
          sealed: { S: old.encryptedToken },
          dataKey: { S: old.encryptedDataKey },
          iv: { S: old.iv },
          expiresAt: { N: String(value.expiresAt.getTime()) },
          v: { S: 'v1' },
        },
        ns,
      );
      const answer = await get(fresh(), key);
      expect(answer).toMatchObject({ outcome: 'shared-hit', value: { token: 'tok-old-format' } });
    });

    it('a new period gets a new key; the last period\u2019s entries still open; a key too old to read is dropped', async () => {
      kms = fakeKms(MASTER);
      newStack();
      const ns = `period-${stack}`;
      let now = Date.now();
      const periodMs = 60_000;
      const clock = () => now;
      const container = fresh({ keyPeriodMs: periodMs, now: clock });
      // Tokens outlive the short periods here: the cache judges freshness on this clock
      const longMint = async () => ({
        token: `tok-${Math.random()}`,
        expiresAt: new Date(now + 10 * periodMs),
      });
      const at = (c: SharedTokenCache, key: string) => c.get(key, 1000, longMint, codec, Date.now() + 20_000);
      const early = freshKey();
      await at(container, early);
      const refEarly = (await read(early, ns))?.keyRef?.S;
      now += periodMs;
      const late = freshKey();
      await at(container, late);
      const refLate = (await read(late, ns))?.keyRef?.S;
      expect(refLate).not.toBe(refEarly);
      expect(kms.calls.generateDataKey).toBe(2);
      // A new container in the later period opens both (one Decrypt per period key)
      const reader = fresh({ keyPeriodMs: periodMs, now: clock });
      expect((await at(reader, early)).outcome).toBe('shared-hit');
      expect((await at(reader, late)).outcome).toBe('shared-hit');
      expect(kms.calls.decrypt).toBe(2);
      // Three periods on, the early key is out of bounds: its entry is not opened (and is replaced)
      now += 3 * periodMs;
      expect((await at(reader, early)).outcome).toBe('miss');
    });
  });
});
