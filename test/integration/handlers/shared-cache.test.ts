import { randomBytes } from 'node:crypto';
import { GetItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lambda/config/load';
import { cacheEntriesFor } from '../../../lambda/config/policy';
import { createRuntime, type Runtime } from '../../../lambda/runtime';
import { type EmulatorFixture, emulatorFixture, fixtureConfig } from '../../support/emulator';
import { ROLE_ARN } from '../../support/events';
import {
  CACHE_KEY_ID,
  CACHE_TABLE,
  type Dynalite,
  dynamoClient,
  fakeKms,
  startDynalite,
} from '../../support/shared-cache';

/**
 * The shared cache's behaviour in one process (two runtimes stand for two containers; the fleet-wide
 * claims are in test/e2e/fleet-cache.test.ts, with real processes): real DynamoDB semantics (dynalite),
 * KMS mocked at the SDK boundary with real cryptography.
 */
/** One KMS key for the file, as one deployment has: the hour's period key in the table stays openable. */
const MASTER = randomBytes(32);

describe('shared token cache (DynamoDB + KMS)', () => {
  let fx: EmulatorFixture;
  let db: Dynalite;
  let kms: ReturnType<typeof fakeKms>;
  beforeAll(async () => {
    fx = await emulatorFixture();
    db = await startDynalite();
  });
  afterEach(() => kms?.restore());
  afterAll(async () => {
    await Promise.all([fx.emulator.close(), db.close()]);
  });

  const container = (
    options: { leaseSeconds?: number; dynamodb?: () => ReturnType<Dynalite['client']> } = {},
  ) => {
    const config = parseConfig({
      ...fixtureConfig(fx),
      cache: {
        shared: {
          dynamodb: { tableName: CACHE_TABLE },
          kmsKeyId: CACHE_KEY_ID,
          leaseSeconds: options.leaseSeconds ?? 10,
        },
      },
    });
    return createRuntime({
      config,
      kms: kms.client,
      dynamodb: options.dynamodb ?? (() => db.client()),
      retry: { baseDelayMs: 5, maxDelayMs: 20, maxAttempts: 2 },
    });
  };
  const vend = (rt: Runtime) =>
    rt.vendor.vend(
      { kind: 'http', principalArn: ROLE_ARN },
      { tokenType: 'postgres', instance: 'reporting_server', username: 'reporting_user' },
      { deadline: Date.now() + 10_000 },
    );
  const mints = () => fx.emulator.executionsOf('generate-postgres-token').length;

  it('a second container is served the first one’s token from the table: one mint, then shared-hit, then hit', async () => {
    kms = fakeKms(MASTER);
    const before = mints();
    const a = await container();
    const b = await container();
    const first = await vend(a);
    const second = await vend(b);
    const third = await vend(b);
    expect([first.audit.cache, second.audit.cache, third.audit.cache]).toEqual(['miss', 'shared-hit', 'hit']);
    expect(second.response.token).toBe(first.response.token);
    expect(second.audit.tokenId).toBe(first.audit.tokenId);
    expect(mints() - before).toBe(1);
  });

  it('stores only a sealed token: no token, target name or user in the table, and a TTL attribute', async () => {
    kms = fakeKms(MASTER);
    const { response } = await vend(await container());
    const { Items } = await db.client().send(new ScanCommand({ TableName: CACHE_TABLE }));
    const table = JSON.stringify(Items);
    expect(table).not.toContain(response.token);
    expect(table).not.toContain(response.token.slice(5, 25));
    expect(table).not.toContain('reporting');
    for (const item of Items!) {
      expect(item.pk!.S).toMatch(/^[0-9a-f]{64}$/);
      expect(Number(item.ttl!.N)).toBeGreaterThan(Date.now() / 1000);
    }
  });

  it('treats an entry that does not open as absent and replaces it: another key, a data key of another entry, or an altered token', async () => {
    kms = fakeKms(MASTER);
    await vend(await container());
    const { Items } = await db.client().send(new ScanCommand({ TableName: CACHE_TABLE }));
    const victim = Items!.find((item) => item.sealed)!;
    expect(victim.keyRef?.S).toMatch(/^\d+\.[0-9a-f-]{36}$/); // sealed under the hour's period key
    const { keyRef: _, ...legacy } = victim;
    // A data key sealed for another entry (another encryption context): KMS refuses to open it here
    const foreign = await kms.client().send(
      new GenerateDataKeyCommand({
        KeyId: CACHE_KEY_ID,
        KeySpec: 'AES_256',
        EncryptionContext: { 'token-vendor:cache': '0'.repeat(64) },
      }),
    );
    const hostile = [
      // A reference to a key that is not the hour's
      {
        ...victim,
        keyRef: {
          S: victim.keyRef!.S!.replace(
            /\.[0-9a-f-]{36}$/,
            `.${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}`,
          ),
        },
      },
      // The format before period keys, with a data key of another entry
      { ...legacy, dataKey: { S: Buffer.from(foreign.CiphertextBlob!).toString('base64') } },
      { ...victim, sealed: { S: Buffer.from('tampered-tampered-tampered').toString('base64') } },
    ];
    for (const item of hostile) {
      await db.client().send(new PutItemCommand({ TableName: CACHE_TABLE, Item: item }));
      const before = mints();
      const outcome = await vend(await container());
      expect(outcome.audit.cache).toBe('miss');
      expect(fx.emulator.validatePostgresToken(outcome.response.token)).toBeDefined();
      expect(mints() - before).toBe(1);
      // …and the fresh entry replaced the bad one: the next container is served from it
      expect((await vend(await container())).audit.cache).toBe('shared-hit');
    }
  });

  it('does not trust the unsealed expiry attribute: a stale token with a bumped expiresAt is replaced', async () => {
    kms = fakeKms(MASTER);
    // Tokens are served only while 899 of their 900 s remain: a second after minting, one is stale
    const strict = () =>
      createRuntime({
        config: parseConfig({
          ...fixtureConfig(fx),
          tokens: { postgres: { minRemainingSeconds: 899 } },
          cache: { shared: { dynamodb: { tableName: CACHE_TABLE }, kmsKeyId: CACHE_KEY_ID } },
        }),
        kms: kms.client,
        dynamodb: () => db.client(),
      });
    const first = await vend(await strict());
    await new Promise((resolve) => setTimeout(resolve, 1200));
    // Someone with write access to the table (but not to the key) makes the entry look fresh for an hour
    const { Items } = await db.client().send(new ScanCommand({ TableName: CACHE_TABLE }));
    for (const item of Items!) {
      await db.client().send(
        new PutItemCommand({
          TableName: CACHE_TABLE,
          Item: { ...item, expiresAt: { N: String(Date.now() + 3_600_000) } },
        }),
      );
    }
    const before = mints();
    const second = await vend(await strict());
    // The token inside the seal decides: it had not enough life left, so a fresh one was minted
    expect(second.audit.cache).toBe('miss');
    expect(second.response.token).not.toBe(first.response.token);
    expect(mints() - before).toBe(1);
  });

  it('never fails a vend when KMS or DynamoDB is down: it mints locally and says local-fallback', async () => {
    kms = fakeKms(MASTER);
    kms.down();
    const rt = await container();
    const before = mints();
    const outcome = await vend(rt);
    expect(outcome.audit.cache).toBe('local-fallback');
    expect(fx.emulator.validatePostgresToken(outcome.response.token)).toBeDefined();
    kms.down(false);
    const unreachable = await container({ dynamodb: () => dynamoClient('http://127.0.0.1:9') });
    const again = await vend(unreachable);
    expect(again.audit.cache).toBe('local-fallback');
    expect(mints() - before).toBe(2);
  });

  it('a lease of a container that died lapses: the next caller takes it over and mints', async () => {
    kms = fakeKms(MASTER);
    // A lease left behind by a dead container, still valid for 600 ms
    const rt = await container({ leaseSeconds: 1 });
    // The entries (not the hour's period key item, which is no lease's)
    const Items = (await db.client().send(new ScanCommand({ TableName: CACHE_TABLE }))).Items?.filter(
      (item) => item.sealed,
    );
    expect(Items?.length).toBeGreaterThan(0);
    for (const item of Items ?? []) {
      await db.client().send(
        new PutItemCommand({
          TableName: CACHE_TABLE,
          Item: {
            pk: item.pk!,
            leaseOwner: { S: 'dead-container' },
            leaseUntil: { N: String(Date.now() + 600) },
          },
        }),
      );
    }
    const started = Date.now();
    const outcome = await vend(rt);
    expect(outcome.audit.cache).toBe('miss');
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    const item = await db
      .client()
      .send(new GetItemCommand({ TableName: CACHE_TABLE, Key: { pk: Items![0]!.pk! } }));
    expect(item.Item?.sealed?.S).toBeDefined();
    expect(item.Item?.leaseOwner).toBeUndefined(); // the write replaced the lease
  });

  it('refuses a config whose cache.maxEntries is below its grantable targets, and sizes it when omitted', () => {
    const base = fixtureConfig(fx);
    const many = {
      ...base,
      postgresInstances: [{ ...base.postgresInstances![0]!, allowedUsers: ['u1', 'u2', 'u3'] }],
      grants: [
        { principal: ROLE_ARN, postgres: [{ instance: 'reporting_server', usernames: ['u1', 'u2', 'u3'] }] },
      ],
    };
    expect(() => parseConfig({ ...many, cache: { maxEntries: 2 } })).toThrow(
      /cache\.maxEntries: is 2, below the 3 targets/,
    );
    expect(cacheEntriesFor(parseConfig(many))).toBe(1000);
    expect(cacheEntriesFor(parseConfig({ ...many, cache: { maxEntries: 3 } }))).toBe(3);
  });
});
