import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
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
export async function startLocalRevocationTable(): Promise<
  LocalRevocationTable | { readonly missing: string }
> {
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
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = await localDynamoClient(endpoint);
  const { CreateTableCommand } = await loadDynamoDb();
  await client.send(
    new CreateTableCommand({
      TableName: LOCAL_REVOCATION_TABLE,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await client.send(
    new CreateTableCommand({
      TableName: LOCAL_LEASE_TABLE,
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
  return {
    endpoint,
    tableName: LOCAL_REVOCATION_TABLE,
    leaseTableName: LOCAL_LEASE_TABLE,
    client: async () => client,
    close: () =>
      new Promise<void>((resolve) => {
        client.destroy();
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
