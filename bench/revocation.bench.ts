import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { startSnowflakeEmulator } from '../dev/emulator/server';
import { ROUTES } from '../lambda/api/routes';
import { AuditLog } from '../lambda/audit/audit-log';
import { parseConfig } from '../lambda/config/load';
import type { ConfigInput } from '../lambda/config/schema';
import { createHttpHandler } from '../lambda/handlers/http';
import { createRuntime } from '../lambda/runtime';
import { measurePair, printTable, round, writeResults } from './measure';
import { tempDirFor } from './temp';

/**
 * Target (issue 25): the revocation check adds at most 10 % to a cached vend. Two handlers over the same
 * config, one with the list: 200 entries (principals, targets, pairs; none naming this caller), read
 * from a DynamoDB client that answers from memory, so what is measured is the check itself and its
 * re-read every `refreshSeconds`, not a network. (A real read is one strongly consistent Scan every
 * 2 s per busy container, off the path of the vends between reads.)
 */
export async function revocationBench(): Promise<{ ratio: number; pass: boolean }> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = join(tempDirFor('bench'), 'k.p8');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const emulator = await startSnowflakeEmulator({
    accountName: 'MYORG-ACCT',
    users: [{ name: 'SVC', roles: ['TOKEN_VENDOR'], publicKey }],
    postgresInstances: [{ name: 'reporting_server', ownerRole: 'TOKEN_VENDOR' }],
  });
  const principal = 'arn:aws:iam::111122223333:role/reporting-api';
  const config: ConfigInput = {
    connections: {
      demo: {
        account: 'myorg-acct',
        user: 'svc',
        role: 'TOKEN_VENDOR',
        apiBaseUrl: emulator.url,
        key: { file: { path: keyFile } },
      },
    },
    postgresInstances: [
      {
        connection: 'demo',
        instance: 'reporting_server',
        host: 'h.example',
        allowedUsers: ['reporting_user'],
      },
    ],
    grants: [
      { principal, postgres: [{ instance: 'reporting_server', usernames: ['reporting_user'] }] },
      ...Array.from({ length: 50 }, (_, i) => ({
        principal: `arn:aws:iam::111122223333:role/service-${i}`,
        postgres: [{ instance: 'reporting_server', usernames: ['reporting_user'] }],
      })),
    ],
  };
  const items = Array.from({ length: 200 }, (_, i) => {
    const kinds = [
      { kind: { S: 'principal' }, principal: { S: `arn:aws:iam::444455556666:role/leaked-${i}` } },
      { kind: { S: 'target' }, target: { S: `postgres:OTHER_SERVER/user_${i}` } },
      {
        kind: { S: 'principal-target' },
        principal: { S: `arn:aws:iam::111122223333:role/service-${i % 50}` },
        target: { S: `oauth:integration_${i}` },
      },
    ];
    return {
      pk: { S: `e${i}` },
      reason: { S: 'bench' },
      by: { S: 'bench' },
      at: { N: '1' },
      ...kinds[i % 3]!,
    };
  });
  let reads = 0;
  const inMemory = {
    send: async () => {
      reads += 1;
      return { Items: items };
    },
  } as unknown as DynamoDBClient;
  const handlerOf = async (withList: boolean) => {
    const runtime = await createRuntime({
      config: parseConfig(config),
      ...(withList
        ? { env: { TOKEN_VENDOR_REVOCATION_TABLE: 'bench-revocations' }, revocationsDynamodb: () => inMemory }
        : { env: {} }),
    });
    const logger = new Logger({ serviceName: 'token-vendor' });
    return createHttpHandler({
      vendor: () => runtime.vendor,
      audit: new AuditLog(logger),
      metrics: new Metrics({ namespace: 'TokenVendor', serviceName: 'token-vendor' }),
    });
  };
  const without = await handlerOf(false);
  const withList = await handlerOf(true);
  const event = {
    resource: ROUTES.postgres.path,
    path: ROUTES.postgres.path,
    httpMethod: 'POST',
    body: JSON.stringify({ instance: 'reporting_server', username: 'reporting_user' }),
    isBase64Encoded: false,
    requestContext: {
      requestId: 'bench',
      identity: { userArn: 'arn:aws:sts::111122223333:assumed-role/reporting-api/s', sourceIp: '127.0.0.1' },
    },
  } as never;
  const context = () => ({ awsRequestId: 'bench', getRemainingTimeInMillis: () => 10_000 }) as never;
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  let rows: Awaited<ReturnType<typeof measurePair>>;
  try {
    for (const h of [without, withList]) {
      const first = (await h(event, context())) as APIGatewayProxyResult;
      if (first.statusCode !== 200) throw new Error(`warm-up vend failed: ${first.body}`);
    }
    const vend = (h: typeof without) => async () => {
      const response = (await h(event, context())) as APIGatewayProxyResult;
      if (response.statusCode !== 200) throw new Error(response.body);
    };
    rows = await measurePair(
      ['cached vend, no revocation list', vend(without)],
      ['cached vend, revocation list of 200 entries (re-read every 2 s)', vend(withList)],
    );
  } finally {
    process.stdout.write = write;
    await emulator.close();
  }
  const [base, checked] = rows;
  const ratio = round(checked.medianUs / base.medianUs, 3);
  const pass = ratio <= 1.1;
  printTable('What the revocation check adds to a cached vend (target ≤ 1.10×)', [
    { ...base, ratio: 1 },
    { ...checked, ratio },
  ]);
  console.log(
    `with the list / without = ${ratio}× (target ≤ 1.10×; ${reads} reads of the list) → ${pass ? 'PASS' : 'FAIL'}`,
  );
  writeResults('revocation', { rows, ratio, reads, target: '≤ 1.10', pass });
  return { ratio, pass };
}

if (import.meta.url === `file://${process.argv[1]}`) await revocationBench();
