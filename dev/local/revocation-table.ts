import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { AWS_CLIENT_DEFAULTS, loadDynamoDb } from '../../lambda/aws/sdk';

/** The local stack's revocation and lease tables: a real DynamoDB implementation (dynalite) on a loopback port. */
export interface LocalRevocationTable {
  readonly endpoint: string;
  readonly tableName: string;
  /** The leases' table, on the same dynalite. */
  readonly leaseTableName: string;
  client(): Promise<DynamoDBClient>;
  close(): Promise<void>;
}

export const LOCAL_REVOCATION_TABLE = 'token-vendor-revocations';
export const LOCAL_LEASE_TABLE = 'token-vendor-leases';

/** A DynamoDB client for a local endpoint (dynalite takes any credentials). */
export async function localDynamoClient(endpoint: string): Promise<DynamoDBClient> {
  const { DynamoDBClient } = await loadDynamoDb();
  return new DynamoDBClient({
    ...AWS_CLIENT_DEFAULTS,
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

/**
 * Start dynalite with the revocation table, or say why not: it is a devDependency of this repository
 * (the runbook can be tried from a checkout), not a dependency of the package.
 */
export async function startLocalRevocationTable(
  options: {
    /**
     * Told of every change to the revocation table, as DynamoDB Streams would tell the deployed
     * `revocation-audit` function (new and old images): dynalite has no streams, so the endpoint is a proxy
     * that reads the table around each write to it.
     */
    readonly onChange?: (records: DynamoDBRecord[]) => void;
  } = {},
): Promise<LocalRevocationTable | { readonly missing: string }> {
  let dynalite: (options: Record<string, number>) => Server;
  try {
    // A variable specifier: bundlers leave it alone, and an installed package without it says so.
    const name = 'dynalite';
    dynalite = ((await import(name)) as { default: typeof dynalite }).default;
  } catch {
    return { missing: 'no revocation list (install the dev dependency dynalite to try the runbook locally)' };
  }
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const backend = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The proxy's own client talks to dynalite directly (its reads are not writes to watch).
  const client = await localDynamoClient(backend);
  const proxy = streamingProxy(backend, client, LOCAL_REVOCATION_TABLE, options.onChange ?? (() => {}));
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
  const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const { CreateTableCommand } = await loadDynamoDb();
  await client.send(
    new CreateTableCommand({
      TableName: LOCAL_REVOCATION_TABLE,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await createLeaseTable(client, LOCAL_LEASE_TABLE);
  return {
    endpoint,
    tableName: LOCAL_REVOCATION_TABLE,
    leaseTableName: LOCAL_LEASE_TABLE,
    client: async () => client,
    close: async () => {
      client.destroy();
      for (const s of [proxy, server])
        await new Promise<void>((resolve) => {
          s.closeAllConnections?.();
          s.close(() => resolve());
        });
    },
  };
}

/** The DynamoDB operations that write (dynalite implements the first five). */
const WRITES = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'TransactWriteItems',
  'ExecuteStatement',
  'BatchExecuteStatement',
  'ExecuteTransaction',
]);

/**
 * An HTTP proxy in front of dynalite that plays DynamoDB Streams for one table: every write that names the
 * table is run alone (writes are queued), with the table read before and after it, and each item that
 * changed is reported as a stream record (`INSERT`, `MODIFY`, `REMOVE`, with both images). A write that
 * changes nothing reports nothing, as a stream does. Reads pass straight through.
 */
function streamingProxy(
  backend: string,
  client: DynamoDBClient,
  tableName: string,
  onChange: (records: DynamoDBRecord[]) => void,
): Server {
  let queue: Promise<unknown> = Promise.resolve();
  let sequence = 0;
  const forward = (req: IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }>((resolve, reject) => {
      const out = request(
        `${backend}${req.url ?? '/'}`,
        { method: req.method, headers: req.headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    });
  const snapshot = async () => {
    const { ScanCommand } = await loadDynamoDb();
    const items = new Map<string, Record<string, AttributeValue>>();
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(
        new ScanCommand({
          TableName: tableName,
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) if (item.pk?.S !== undefined) items.set(item.pk.S, item);
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  };
  const changes = (
    before: Map<string, Record<string, AttributeValue>>,
    after: Map<string, Record<string, AttributeValue>>,
  ): DynamoDBRecord[] => {
    const records: DynamoDBRecord[] = [];
    for (const pk of new Set([...before.keys(), ...after.keys()])) {
      const oldImage = before.get(pk);
      const newImage = after.get(pk);
      if (JSON.stringify(oldImage) === JSON.stringify(newImage)) continue;
      sequence += 1;
      records.push({
        eventID: `local-${sequence}`,
        eventName: !oldImage ? 'INSERT' : !newImage ? 'REMOVE' : 'MODIFY',
        eventSource: 'aws:dynamodb',
        awsRegion: 'us-east-1',
        eventSourceARN: `arn:aws:dynamodb:us-east-1:000000000000:table/${tableName}/stream/local`,
        dynamodb: {
          ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
          Keys: { pk: { S: pk } },
          ...(newImage ? { NewImage: newImage as never } : {}),
          ...(oldImage ? { OldImage: oldImage as never } : {}),
          SequenceNumber: String(sequence).padStart(21, '0'),
          StreamViewType: 'NEW_AND_OLD_IMAGES',
        },
      });
    }
    return records;
  };
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      const watched = WRITES.has(operation) && body.includes(tableName);
      const run = watched
        ? queue.then(async () => {
            const before = await snapshot();
            const answer = await forward(req, body);
            if (answer.status === 200) {
              const records = changes(before, await snapshot());
              // The write is done whatever the audit does: its caller is told so.
              try {
                if (records.length > 0) onChange(records);
              } catch {
                process.stderr.write('token-vendor local: a revocation-list change could not be audited\n');
              }
            }
            return answer;
          })
        : forward(req, body);
      // One failed write must not stop the ones after it.
      if (watched) queue = run.catch(() => {});
      run.then(
        (answer) => {
          res.writeHead(answer.status, answer.headers);
          res.end(answer.body);
        },
        () => {
          res.writeHead(502, { 'content-type': 'application/x-amz-json-1.0' });
          res.end(
            JSON.stringify({
              __type: 'com.amazon.coral.service#InternalFailure',
              message: 'the local table is unavailable',
            }),
          );
        },
      );
    });
  });
}

/** A lease table as the stack makes it (`principal` and `tokenId`), on a local DynamoDB. */
export async function createLeaseTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const { CreateTableCommand } = await loadDynamoDb();
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [
        { AttributeName: 'principal', AttributeType: 'S' },
        { AttributeName: 'tokenId', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'principal', KeyType: 'HASH' },
        { AttributeName: 'tokenId', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}
