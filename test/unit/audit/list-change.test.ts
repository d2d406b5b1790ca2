import type { Context, DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../lambda/audit/audit-log';
import { listChange } from '../../../lambda/audit/list-change';
import { createRevocationAuditHandler } from '../../../lambda/handlers/revocation-audit';

const entry = {
  pk: { S: 'target|oauth:tableau' },
  kind: { S: 'target' },
  target: { S: 'oauth:tableau' },
  reason: { S: 'r' },
  by: { S: 'op' },
  at: { N: '1' },
};
const record = (
  over: Partial<DynamoDBRecord> & { dynamodb?: DynamoDBRecord['dynamodb'] },
  seq = '1',
): DynamoDBRecord => ({
  eventID: `e${seq}`,
  eventName: 'INSERT',
  ...over,
  dynamodb: {
    SequenceNumber: seq,
    ApproximateCreationDateTime: 1_800_000_000,
    Keys: { pk: entry.pk },
    ...over.dynamodb,
  },
});

describe('listChange', () => {
  it("tells the TTL's deletions from a table writer's", () => {
    const ttl = listChange(
      record({
        eventName: 'REMOVE',
        dynamodb: { OldImage: entry as never },
        userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
      }),
    );
    expect(ttl).toMatchObject({
      event: 'revocation.removed',
      time: '2027-01-15T08:00:00.000Z',
      detail: { removedBy: 'ttl', entry: { target: 'oauth:tableau' } },
    });
    // A look-alike identity is a writer, not the TTL.
    const forged = listChange(
      record({
        eventName: 'REMOVE',
        dynamodb: { OldImage: entry as never },
        userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com.' },
      }),
    );
    expect(forged.detail).toMatchObject({ removedBy: 'table-writer' });
  });

  it('reads an entry whose end has passed as no revocation, and a record without images as unreadable', () => {
    const ended = { ...entry, until: { N: '5' } };
    expect(listChange(record({ dynamodb: { NewImage: ended as never } })).event).toBe('revocation.changed');
    expect(listChange(record({ dynamodb: {} }))).toMatchObject({
      event: 'revocation.unreadable',
      detail: { pk: 'target|oauth:tableau', itemKind: 'none' },
    });
    expect(listChange({} as DynamoDBRecord)).toMatchObject({
      event: 'revocation.unreadable',
      requestId: 'unknown',
      detail: { pk: 'unknown' },
    });
  });

  it('bounds what a hand-written item can put in the record', () => {
    const wide = {
      ...entry,
      ...Object.fromEntries(
        Array.from({ length: 200 }, (_, i) => [`a${i}\u0007`, { S: 'x'.repeat(10_000) }]),
      ),
    };
    const line = listChange(
      record({ eventName: 'MODIFY', dynamodb: { OldImage: entry as never, NewImage: wide as never } }),
    );
    const changed = (line.detail as { changed: string[] }).changed;
    expect(changed).toHaveLength(21);
    expect(changed.at(-1)).toBe('…');
    expect(changed.join('').includes('\u0007')).toBe(false);
    expect(JSON.stringify(line).length).toBeLessThan(4000);
  });
});

describe('the revocation-audit handler', () => {
  it('writes one record per change, and when a write fails reports that record so Lambda retries from it', async () => {
    const written: string[] = [];
    let fail = 2;
    const handler = createRevocationAuditHandler({
      audit: new AuditLog({
        info: (message) => {
          if (--fail === 0) throw new Error('the log sink is gone');
          written.push(message);
        },
      }),
    });
    const records = ['1', '2', '3'].map((s) => record({ dynamodb: { NewImage: entry as never } }, s));
    const answer = await handler({ Records: records }, {} as Context);
    expect(written).toEqual(['target.revoked']);
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: '2' }] });
    // Nothing to retry from: the whole batch fails instead of being lost.
    fail = 1;
    await expect(
      handler({ Records: [{ eventName: 'INSERT', dynamodb: { NewImage: entry as never } }] }, {} as Context),
    ).rejects.toThrow('the log sink is gone');
  });
});
