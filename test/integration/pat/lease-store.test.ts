import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatLeaseStore } from '../../../lambda/pat/lease-store';
import { createLeaseTable, LEASE_TABLE, PAT_KEY_ID } from '../../support/pat';
import { type Dynalite, fakeKms, startDynalite } from '../../support/shared-cache';

/**
 * The PAT lease table, attacked: claims are exclusive until they lapse (and a hostile claim item does not
 * block forever), a claim is released only by its owner, and a lease item of the wrong shape, or whose
 * seal does not open under its own context, is ignored rather than trusted.
 */
describe('PAT lease store', () => {
  let dynalite: Dynalite;
  let kms: ReturnType<typeof fakeKms>;
  let clock = Date.now();
  const holder = 'arn:aws:iam::111122223333:role/bi';
  const store = (namespace = 'stack-a') =>
    new PatLeaseStore({
      client: () => dynalite.client(),
      tableName: LEASE_TABLE,
      kms: () => kms.client(),
      kmsKeyId: PAT_KEY_ID,
      namespace,
      now: () => clock,
    });
  beforeAll(async () => {
    dynalite = await startDynalite();
    await createLeaseTable(dynalite.client());
    kms = fakeKms();
  });
  afterAll(async () => {
    kms.restore();
    await dynalite.close();
  });

  it('one claim at a time until it lapses; released only by its owner', async () => {
    const first = await store().claim(holder, 't', 'R', clock + 30_000);
    expect(first).toBeDefined();
    expect(await store().claim(holder, 't', 'R', clock + 30_000)).toBeUndefined();
    // Another target or role is another claim
    expect(await store().claim(holder, 't', 'OTHER', clock + 30_000)).toBeDefined();
    // Not the owner: nothing released
    await store().release(holder, 't', 'R', 'someone-else');
    expect(await store().claim(holder, 't', 'R', clock + 30_000)).toBeUndefined();
    await store().release(holder, 't', 'R', first!.owner);
    const second = await store().claim(holder, 't', 'R', clock + 30_000);
    expect(second).toBeDefined();
    // A claim whose holder died lapses
    clock += 31_000;
    expect(await store().claim(holder, 't', 'R', clock + 30_000)).toBeDefined();
  });

  it('a claim item someone else wrote with an until that is not a number does not block', async () => {
    await dynalite.client().send(
      new PutItemCommand({
        TableName: LEASE_TABLE,
        Item: { principal: { S: holder }, tokenId: { S: 'pat-claim:h/R' }, until: { S: '9999999999999' } },
      }),
    );
    expect(await store().claim(holder, 'h', 'R', clock + 30_000)).toBeDefined();
  });

  it('records a lease and its index; reads back only well-formed leases whose seal opens under its context', async () => {
    const lease = {
      principal: holder,
      tokenId: 'tid_abc',
      caller: 'arn:aws:sts::111122223333:assumed-role/bi/s',
      patTarget: 'x',
      role: 'R',
      connection: 'demo',
      user: 'BI_SVC',
      name: 'TV_AAAAAA_1800000000_BBBBBBBB',
      issuedAt: clock,
      expiresAt: clock + 3_600_000,
      refreshAt: clock + 2_880_000,
    };
    await store().record(lease, 'the-secret');
    const [read] = await store().leasesOf(holder, 'x', 'R');
    expect(read).toMatchObject({ ...lease });
    expect(await store().unseal(read!)).toBe('the-secret');
    // The same item copied into another stack's namespace does not open there
    expect(await store('stack-b').unseal(read!)).toBeUndefined();
    // …nor with its name changed (the context names the token)
    expect(await store().unseal({ ...read!, name: 'TV_AAAAAA_1800000000_CCCCCCCC' })).toBeUndefined();
    expect((await store().indexOf('demo', 'BI_SVC')).get(lease.name)).toMatchObject({
      principal: holder,
      tokenId: 'tid_abc',
      leaseEnd: lease.expiresAt,
    });
    // Hostile items beside it: every wrong type is ignored, not trusted
    for (const [i, bad] of [
      { refreshAt: { S: String(clock + 1e9) } },
      { sealed: { N: '1' } },
      { tokenType: { S: 'postgres' } },
      { role: { L: [] } },
    ].entries())
      await dynalite.client().send(
        new PutItemCommand({
          TableName: LEASE_TABLE,
          Item: {
            principal: { S: holder },
            tokenId: { S: `tid_bad${i}` },
            caller: { S: lease.caller },
            tokenType: { S: 'pat' },
            issuedAt: { N: String(clock) },
            expiresAt: { N: String(clock + 9e9) },
            refreshAt: { N: String(clock + 9e9) },
            patTarget: { S: 'x' },
            role: { S: 'R' },
            connection: { S: 'demo' },
            user: { S: 'BI_SVC' },
            name: { S: 'TV_AAAAAA_1800000000_DDDDDDDD' },
            sealed: { S: 'x' },
            dataKey: { S: 'x' },
            iv: { S: 'x' },
            keyId: { S: PAT_KEY_ID },
            ...bad,
          },
        }),
      );
    const all = await store().leasesOf(holder, 'x', 'R');
    expect(all.map((l) => l.tokenId)).toEqual(['tid_abc']);
    await store().forget('demo', 'BI_SVC', lease.name, lease);
    expect(await store().leasesOf(holder, 'x', 'R')).toEqual([]);
    const index = await dynalite.client().send(
      new GetItemCommand({
        TableName: LEASE_TABLE,
        Key: { principal: { S: 'pat-user:demo/BI_SVC' }, tokenId: { S: lease.name } },
      }),
    );
    expect(index.Item).toBeUndefined();
  });
});
