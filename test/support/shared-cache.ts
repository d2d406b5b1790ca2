import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';

export const CACHE_TABLE = 'token-vendor-cache';
export const CACHE_KEY_ID = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';

/** A real DynamoDB implementation (dynalite) on 127.0.0.1 with the vendor's cache table. */
export interface Dynalite {
  readonly endpoint: string;
  client(): DynamoDBClient;
  close(): Promise<void>;
}

export async function startDynalite(): Promise<Dynalite> {
  // Imported here, not at the top: the fleet's workers load this module and never start a dynalite.
  const { default: dynalite } = await import('dynalite');
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }) as Server;
  // A deep accept queue: a fleet opens hundreds of connections at once, and a dropped SYN would wait a
  // second for its retransmit (DynamoDB's endpoints have no such limit worth emulating).
  await new Promise<void>((resolve) =>
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => resolve()),
  );
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = () => dynamoClient(endpoint);
  const setup = client();
  await setup.send(
    new CreateTableCommand({
      TableName: CACHE_TABLE,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await setup
    .send(
      new UpdateTimeToLiveCommand({
        TableName: CACHE_TABLE,
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      }),
    )
    .catch(() => {}); // dynalite may not implement TTL; the vendor never relies on it (reads check expiresAt)
  return {
    endpoint,
    client,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** A DynamoDB client for dynalite; `settings` replaces its retries and timeouts (the functions' own, say). */
export function dynamoClient(
  endpoint: string,
  settings: Pick<DynamoDBClientConfig, 'maxAttempts' | 'requestHandler'> = {
    maxAttempts: 1,
    // dynalite is one Node process at ≈ 6 ms an operation: a burst of 800 containers × targets queues
    // there for seconds, where DynamoDB answers in milliseconds. The timeout measures the protocol, not dynalite.
    requestHandler: { connectionTimeout: 5000, requestTimeout: 15_000, throwOnRequestTimeout: true },
  },
): DynamoDBClient {
  return new DynamoDBClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    ...settings,
  });
}

/**
 * KMS mocked at the SDK boundary, with real cryptography: a data key is wrapped under `masterKey` with
 * the encryption context as associated data, so Decrypt with another context (or another process's
 * master key) fails as KMS's InvalidCiphertextException. Processes that share `masterKey` share the key.
 * Counts calls. `down()` makes every call fail as an unreachable KMS would.
 */
export function fakeKms(masterKey: Buffer = randomBytes(32)) {
  const mock = mockClient(KMSClient);
  const calls = { generateDataKey: 0, decrypt: 0 };
  let unavailable = false;
  const aad = (context: Record<string, string> | undefined) =>
    Buffer.from(JSON.stringify(Object.entries(context ?? {}).sort()));
  const fail = () => Object.assign(new Error('KMS is unreachable'), { name: 'KMSInternalException' });
  mock.on(GenerateDataKeyCommand).callsFake((input) => {
    calls.generateDataKey += 1;
    if (unavailable) throw fail();
    const plaintext = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', masterKey, iv).setAAD(aad(input.EncryptionContext));
    const wrapped = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return {
      Plaintext: new Uint8Array(plaintext),
      CiphertextBlob: new Uint8Array(wrapped),
      KeyId: input.KeyId,
    };
  });
  mock.on(DecryptCommand).callsFake((input) => {
    calls.decrypt += 1;
    if (unavailable) throw fail();
    const blob = Buffer.from(input.CiphertextBlob as Uint8Array);
    try {
      const decipher = createDecipheriv('aes-256-gcm', masterKey, blob.subarray(0, 12)).setAAD(
        aad(input.EncryptionContext),
      );
      decipher.setAuthTag(blob.subarray(blob.length - 16));
      const plaintext = Buffer.concat([
        decipher.update(blob.subarray(12, blob.length - 16)),
        decipher.final(),
      ]);
      return { Plaintext: new Uint8Array(plaintext), KeyId: input.KeyId };
    } catch {
      throw Object.assign(new Error('InvalidCiphertextException'), { name: 'InvalidCiphertextException' });
    }
  });
  return {
    calls,
    client: () => new KMSClient({ region: 'us-east-1' }),
    down: (value = true) => {
      unavailable = value;
    },
    restore: () => mock.restore(),
  };
}
