import { CreateTableCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revoke } from '../../../cli/revocation-table';
import { parseConfig } from '../../../lambda/config/load';
import type { ConfigInput } from '../../../lambda/config/schema';
import { createRuntime, type Runtime } from '../../../lambda/runtime';
import { authorize } from '../../../lambda/vending/policy';
import { revocationPrincipal } from '../../../lambda/vending/principal';
import type { VendRequest } from '../../../lambda/vending/request';
import { sharedCacheKey } from '../../../lambda/vending/shared-cache';
import { type EmulatorFixture, emulatorFixture, fixtureConfig } from '../../support/emulator';
import { OTHER_ROLE_ARN, ROLE_ARN } from '../../support/events';
import { CACHE_KEY_ID, CACHE_TABLE, type Dynalite, fakeKms, startDynalite } from '../../support/shared-cache';

/**
 * The shared cache's replay case against the revocation list (issue 22, finding 5; issue 25): someone
 * with write access to the cache table puts back an older sealed entry, holding a token the revoked
 * principal was served. The seal is intact and the entry is the right one for its key; the taint check
 * on the token's own issuedAt, inside the seal, is what refuses it.
 */
const TABLE = 'token-vendor-revocations';
const REQUEST: VendRequest = {
  tokenType: 'postgres',
  instance: 'reporting_server',
  username: 'reporting_user',
};

describe('a replayed shared-cache entry after a revocation', () => {
  let fx: EmulatorFixture;
  let db: Dynalite;
  let kms: ReturnType<typeof fakeKms>;
  let config: ConfigInput;

  beforeAll(async () => {
    fx = await emulatorFixture();
    db = await startDynalite();
    kms = fakeKms();
    await db.client().send(
      new CreateTableCommand({
        TableName: TABLE,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    config = {
      ...fixtureConfig(fx),
      grants: [ROLE_ARN, OTHER_ROLE_ARN].map((principal) => ({
        principal,
        postgres: [{ instance: 'reporting_server', usernames: ['reporting_user'] }],
      })),
      cache: { shared: { dynamodb: { tableName: CACHE_TABLE }, kmsKeyId: CACHE_KEY_ID } },
      revocations: { dynamodb: { tableName: TABLE }, refreshSeconds: 1 },
    };
  });
  afterAll(async () => {
    kms?.restore();
    await Promise.all([fx?.emulator.close(), db?.close()]);
  });

  /** A fresh container: its own memory cache, the shared table and the list. */
  const container = () =>
    createRuntime({ config: parseConfig(config), kms: kms.client, dynamodb: () => db.client() });
  const vend = (runtime: Runtime, principalArn: string) =>
    runtime.vendor.vend({ kind: 'http', principalArn }, REQUEST, { deadline: Date.now() + 10_000 });

  it('does not serve the tainted token to anyone, replayed or not: the next caller gets a fresh mint', async () => {
    const warm = await container();
    const first = await vend(warm, ROLE_ARN);
    expect(first.audit.cache).toBe('miss');
    // What someone with table access saves: the sealed entry holding the token the principal was served.
    const key = authorize(parseConfig(config), { kind: 'http', principalArn: ROLE_ARN }, REQUEST).cacheKey;
    const pk = { S: sharedCacheKey('', key) };
    const saved = (
      await db
        .client()
        .send(new GetItemCommand({ TableName: CACHE_TABLE, Key: { pk }, ConsistentRead: true }))
    ).Item!;
    expect(saved.sealed).toBeDefined();
    // The other principal is served that token while nothing is revoked (one mint per target).
    expect((await vend(await container(), OTHER_ROLE_ARN)).audit.tokenId).toBe(first.audit.tokenId);

    await revoke(
      { client: db.client(), tableName: TABLE },
      {
        scope: { kind: 'principal', principal: revocationPrincipal(ROLE_ARN)! },
        reason: 'INC-42',
        by: 'test',
        now: Date.now(),
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the warm container's list is due
    await expect(vend(warm, ROLE_ARN)).rejects.toMatchObject({ code: 'REVOKED', message: /INC-42/ });
    // Neither the warm container's memory nor the shared table serves the tainted token again.
    const fresh = await vend(warm, OTHER_ROLE_ARN);
    expect(fresh.audit.tokenId).not.toBe(first.audit.tokenId);
    expect(fresh.audit.cache).toBe('miss');

    // The replay: the old entry, sealed and intact, put back over the fresh one.
    await db.client().send(new PutItemCommand({ TableName: CACHE_TABLE, Item: saved }));
    const afterReplay = await vend(await container(), OTHER_ROLE_ARN);
    expect(afterReplay.audit.tokenId).not.toBe(first.audit.tokenId);
    expect(afterReplay.audit.cache).toBe('miss');
  });
});
