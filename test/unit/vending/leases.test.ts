import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lambda/config/load';
import { LeaseRecorder, leaseFromItem } from '../../../lambda/vending/leases';
import { authorize } from '../../../lambda/vending/policy';
import type { Caller, VendRequest } from '../../../lambda/vending/request';

const ROLE = 'arn:aws:iam::111122223333:role/reporting-api';
const SESSION = 'arn:aws:sts::111122223333:assumed-role/reporting-api/i-0abc';
const config = parseConfig({
  connections: { demo: { account: 'myorg-acct', user: 'svc', key: { file: { path: '/dev/null' } } } },
  postgresInstances: [
    {
      instance: 'reporting_server',
      connection: 'demo',
      host: 'h',
      port: 5432,
      allowedUsers: ['reporting_user'],
    },
  ],
  grants: [{ principal: ROLE, postgres: [{ instance: 'reporting_server', usernames: ['reporting_user'] }] }],
  directInvoke: { postgres: [{ instance: 'reporting_server', usernames: ['reporting_user'] }] },
});
const request: VendRequest = {
  tokenType: 'postgres',
  instance: 'reporting_server',
  username: 'reporting_user',
};
const http: Caller = { kind: 'http', principalArn: SESSION };
const target = authorize(config, http, request);
const token = (id: string) => ({
  tokenId: id,
  issuedAt: new Date(1_800_000_000_000),
  expiresAt: new Date(1_800_000_900_000),
});

/** A DynamoDB client that records each PutItem, and fails or hangs on demand. */
function table(behaviour: 'ok' | 'fail' | 'hang' = 'ok') {
  const items: Record<string, unknown>[] = [];
  const client = {
    send: (
      command: { input: { Item: Record<string, unknown> } },
      options?: { abortSignal?: AbortSignal },
    ) => {
      if (behaviour === 'fail') return Promise.reject(new Error('ProvisionedThroughputExceededException'));
      if (behaviour === 'hang')
        return new Promise((_, reject) =>
          options?.abortSignal?.addEventListener('abort', () => reject(new Error('aborted'))),
        );
      items.push(command.input.Item);
      return Promise.resolve({});
    },
  } as unknown as DynamoDBClient;
  return { items, client };
}

describe('lease records', () => {
  it('records a (principal, token) pair once per container, whatever the number of vends', async () => {
    const t = table();
    const leases = new LeaseRecorder({ client: () => t.client, tableName: 'leases' });
    for (let i = 0; i < 50; i++) await leases.record(http, target, token('tid_a'));
    await leases.record(http, target, token('tid_b'));
    expect(t.items).toHaveLength(2);
    expect(leaseFromItem(t.items[0] as never)).toEqual({
      principal: ROLE,
      caller: SESSION,
      target: 'postgres:REPORTING_SERVER/reporting_user',
      tokenType: 'postgres',
      tokenId: 'tid_a',
      issuedAt: 1_800_000_000_000,
      expiresAt: 1_800_000_900_000,
    });
    // The item carries the one-way id and the TTL, never a token.
    expect(t.items[0]).toMatchObject({ ttl: { N: '1800000900' } });
  });

  it('a direct invoke holds no lease: Lambda does not say who invoked it', async () => {
    const t = table();
    await new LeaseRecorder({ client: () => t.client, tableName: 'leases' }).record(
      { kind: 'direct' },
      target,
      token('x'),
    );
    expect(t.items).toEqual([]);
  });

  it('a failed write never fails the vend, and the pair is written on its next vend', async () => {
    const errors: unknown[] = [];
    const failing = table('fail');
    const leases = new LeaseRecorder({
      client: () => failing.client,
      tableName: 'leases',
      onWriteError: (e) => errors.push(e),
    });
    await expect(leases.record(http, target, token('tid_a'))).resolves.toBeUndefined();
    await leases.record(http, target, token('tid_a'));
    expect(errors).toHaveLength(2); // tried again, not remembered as written
  });

  it('a table that hangs costs the first vend of a pair at most the write timeout', async () => {
    const leases = new LeaseRecorder({ client: () => table('hang').client, tableName: 'leases' });
    const started = Date.now();
    await leases.record(http, target, token('tid_a'));
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('items of the wrong shape are no leases', () => {
    expect(leaseFromItem({ principal: { S: ROLE } })).toBeUndefined();
    expect(
      leaseFromItem({
        principal: { S: ROLE },
        caller: { S: SESSION },
        target: { S: 't' },
        tokenType: { S: 'postgres' },
        tokenId: { S: 'tid' },
        issuedAt: { S: 'soon' },
        expiresAt: { N: '1' },
      }),
    ).toBeUndefined();
  });
});
