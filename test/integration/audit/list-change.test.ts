import { DeleteItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { Context, DynamoDBRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revoke, unrevoke } from '../../../cli/revocation-table';
import { type LocalRevocationTable, startLocalRevocationTable } from '../../../dev/local/revocation-table';
import { AuditLog } from '../../../lambda/audit/audit-log';
import type { AuditRecord } from '../../../lambda/audit/record';
import { createRevocationAuditHandler } from '../../../lambda/handlers/revocation-audit';
import { announceRekey, recordRemoval } from '../../../lambda/rotation/rotate-now';

// Every change to the list, made through the real CLI functions and by hand, on a real DynamoDB
// implementation (dynalite), reaches the real stream handler as stream records (the local proxy plays
// DynamoDB Streams) and comes out as one audit record each.
const ROLE = 'arn:aws:iam::111122223333:role/services/reporting-api';
const OPERATOR = 'arn:aws:sts::111122223333:assumed-role/oncall/alice';
const context = { awsRequestId: 'test' } as Context;

let table: LocalRevocationTable;
const lines: AuditRecord[] = [];
const streamed: DynamoDBRecord[] = [];
const handler = createRevocationAuditHandler({
  audit: new AuditLog({ info: (_m, ...a) => lines.push(Object.assign({}, ...a) as AuditRecord) }),
});

beforeAll(async () => {
  const started = await startLocalRevocationTable({
    onChange: (records) => {
      streamed.push(...records);
      void handler({ Records: records }, context);
    },
  });
  if (!('tableName' in started)) throw new Error(started.missing);
  table = started;
});
afterAll(() => table?.close());

/** The audit records the next change produces. */
async function change(write: () => Promise<unknown>): Promise<AuditRecord[]> {
  const from = lines.length;
  await write();
  await new Promise((r) => setImmediate(r));
  return lines.slice(from);
}

describe('audit records of revocation-list changes', () => {
  it('revoke, renew, unrevoke and revoke again: principal.revoked, revocation.changed, principal.unrevoked, principal.revoked', async () => {
    const t = { client: await table.client(), tableName: table.tableName };
    const c = { client: t.client, tableName: t.tableName };
    // Through the proxy's endpoint, as the CLI writes.
    const { localDynamoClient } = await import('../../../dev/local/revocation-table');
    c.client = await localDynamoClient(table.endpoint);
    const scope = { kind: 'principal', principal: 'arn:aws:iam::111122223333:role/reporting-api' } as const;

    const [revoked, ...more] = await change(() =>
      revoke(c, { scope, reason: 'leaked\u0007 key', by: OPERATOR, now: Date.now() }),
    );
    expect(more).toEqual([]);
    expect(revoked).toMatchObject({
      event: 'principal.revoked',
      trigger: 'revocation-list',
      detail: {
        pk: 'principal|arn:aws:iam::111122223333:role/reporting-api',
        entry: { kind: 'principal', principal: scope.principal, reason: 'leaked  key', by: OPERATOR },
      },
    });
    expect(Date.parse(revoked!.time)).toBeGreaterThan(Date.now() - 10_000);

    const renewed = await change(() =>
      revoke(c, { scope, reason: 'leaked key, confirmed', by: OPERATOR, now: Date.now() + 5 }),
    );
    expect(renewed).toMatchObject([{ event: 'revocation.changed', detail: { changed: ['at', 'reason'] } }]);

    const lifted = await change(() => unrevoke(c, { scope, by: OPERATOR, now: Date.now() }));
    expect(lifted).toMatchObject([
      {
        event: 'principal.unrevoked',
        detail: { entry: { liftedBy: OPERATOR, reason: 'leaked key, confirmed' } },
      },
    ]);
    expect((lifted[0]!.detail as { entry: { liftedAt?: string } }).entry.liftedAt).toMatch(/^\d{4}-/);

    const again = await change(() => revoke(c, { scope, reason: 'again', by: OPERATOR, now: Date.now() }));
    expect(again.map((l) => l.event)).toEqual(['principal.revoked']);

    // A write that changes nothing is no change (as with a stream): no record.
    expect(
      await change(() =>
        c.client
          .send(
            new UpdateItemCommand({
              TableName: c.tableName,
              Key: { pk: { S: 'principal|nothing-here' } },
              UpdateExpression: 'SET reason = :r',
              ConditionExpression: 'attribute_exists(pk)',
              ExpressionAttributeValues: { ':r': { S: 'x' } },
            }),
          )
          .catch(() => {}),
      ),
    ).toEqual([]);
  });

  it('names each kind: account, target, principal-target; rotate-now is key.rekeyed, then the removal revocation.changed', async () => {
    const { localDynamoClient } = await import('../../../dev/local/revocation-table');
    const c = { client: await localDynamoClient(table.endpoint), tableName: table.tableName };
    const events = async (write: () => Promise<unknown>) => (await change(write)).map((l) => l.event);
    const now = Date.now();
    expect(
      await events(() =>
        revoke(c, { scope: { kind: 'account', account: '444455556666' }, reason: 'r', by: OPERATOR, now }),
      ),
    ).toEqual(['account.revoked']);
    const target = { kind: 'target', target: 'oauth:tableau' } as const;
    expect(await events(() => revoke(c, { scope: target, reason: 'r', by: OPERATOR, now }))).toEqual([
      'target.revoked',
    ]);
    expect(await events(() => unrevoke(c, { scope: target, by: OPERATOR, now }))).toEqual([
      'target.unrevoked',
    ]);
    const pair = {
      kind: 'principal-target',
      principal: 'arn:aws:iam::111122223333:role/etl',
      target: 'snowflake-jwt:demo',
    } as const;
    expect(await events(() => revoke(c, { scope: pair, reason: 'r', by: OPERATOR, now }))).toEqual([
      'principal-target.revoked',
    ]);

    const rekey = await change(() =>
      announceRekey(c, { connection: 'demo', version: 'rotate-now-1', at: now, by: 'rotate-key' }),
    );
    expect(rekey).toMatchObject([
      {
        event: 'key.rekeyed',
        detail: { entry: { kind: 'rekey', connection: 'demo', version: 'rotate-now-1' } },
      },
    ]);
    expect(
      await events(() =>
        recordRemoval(c, 'demo', 'rotate-now-1', { at: now + 4000, slot: 1, fingerprint: 'SHA256:old' }),
      ),
    ).toEqual(['revocation.changed']);
    expect(
      await events(() =>
        announceRekey(c, { connection: 'demo', version: 'rotate-now-2', at: now, by: 'rotate-key' }),
      ),
    ).toEqual(['key.rekeyed']);
  });

  it('hostile writes: a hand-written item that is no entry, a look-alike, a deletion, each reported', async () => {
    const { localDynamoClient } = await import('../../../dev/local/revocation-table');
    const client = await localDynamoClient(table.endpoint);
    const put = (item: Record<string, string>) =>
      client.send(
        new PutItemCommand({
          TableName: table.tableName,
          Item: Object.fromEntries(Object.entries(item).map(([k, v]) => [k, { S: v }])),
        }),
      );
    // A look-alike with a trailing control character is no entry: it matches nothing, and says so.
    const lookAlike = `${ROLE}\u0000x`;
    const [line, ...rest] = await change(() =>
      put({ pk: `principal|${lookAlike}`, kind: 'principal', principal: lookAlike }),
    );
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ event: 'revocation.unreadable', detail: { itemKind: 'principal' } });
    // The pk is logged without its control characters.
    expect(JSON.stringify(line)).not.toMatch(/\\u0000/);
    // A hand-written entry for a session ARN is read as its role (a broader match only refuses more):
    // the record says which role the vendor now refuses, beside the pk as written.
    const session = 'arn:aws:sts::111122223333:assumed-role/reporting-api/s';
    expect(
      await change(() => put({ pk: `principal|${session}`, kind: 'principal', principal: session })),
    ).toMatchObject([
      {
        event: 'principal.revoked',
        detail: {
          pk: `principal|${session}`,
          entry: {
            principal: 'arn:aws:iam::111122223333:role/reporting-api',
            by: 'unknown',
            reason: 'no reason given',
          },
        },
      },
    ]);
    const [unknown] = await change(() => put({ pk: 'grant|x', kind: 'grant\nforged' }));
    expect(unknown).toMatchObject({
      event: 'revocation.unreadable',
      detail: { pk: 'grant|x', itemKind: 'grant forged' },
    });

    // A deletion by a table writer (the operator role cannot delete; the TTL's deletions say so).
    const [removed] = await change(() =>
      client.send(
        new DeleteItemCommand({ TableName: table.tableName, Key: { pk: { S: 'account|444455556666' } } }),
      ),
    );
    expect(removed).toMatchObject({
      event: 'revocation.removed',
      detail: { removedBy: 'table-writer', entry: { kind: 'account', account: '444455556666' } },
    });
    // Every record the proxy streamed carried both images where they exist, as NEW_AND_OLD_IMAGES does.
    const last = streamed.at(-1)!;
    expect(last.eventName).toBe('REMOVE');
    expect(last.dynamodb?.OldImage?.kind).toEqual({ S: 'account' });
    expect(last.dynamodb?.NewImage).toBeUndefined();
  });
});
