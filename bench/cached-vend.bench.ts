import { generateKeyPairSync, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { startSnowflakeEmulator } from '../dev/emulator/server';
import { ROUTES } from '../lambda/api/routes';
import { AuditLog } from '../lambda/audit/audit-log';
import { parseConfig } from '../lambda/config/load';
import { createHttpHandler } from '../lambda/handlers/http';
import { createRuntime } from '../lambda/runtime';
import { type BenchRow, measure, printTable, round, writeResults } from './measure';
import { tempDirFor } from './temp';

/**
 * Target (DESIGN.md): a cached vend through the full handler (middy, caller identity, body validation,
 * policy, cache, audit record serialised by Powertools Logger, EMF metrics) costs less than one RS256
 * signature. Log output is serialised but not written to the terminal while measuring.
 */
export async function cachedVendBench(): Promise<{ ratio: number; pass: boolean }> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = join(tempDirFor('bench'), 'k.p8');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const emulator = await startSnowflakeEmulator({
    accountName: 'MYORG-ACCT',
    users: [{ name: 'SVC', roles: ['TOKEN_VENDOR'], publicKey }],
    postgresInstances: [{ name: 'reporting_server', ownerRole: 'TOKEN_VENDOR' }],
  });
  const principal = 'arn:aws:iam::111122223333:role/reporting-api';
  const runtime = createRuntime({
    config: parseConfig({
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
      grants: [{ principal, postgres: [{ instance: 'reporting_server', usernames: ['reporting_user'] }] }],
    }),
  });
  const handler = createHttpHandler({
    vendor: () => runtime.vendor,
    audit: new AuditLog(new Logger({ serviceName: 'token-vendor' })),
    metrics: new Metrics({ namespace: 'TokenVendor', serviceName: 'token-vendor' }),
  });
  const body = JSON.stringify({ instance: 'reporting_server', username: 'reporting_user' });
  const event = {
    resource: ROUTES.postgres.path,
    path: ROUTES.postgres.path,
    httpMethod: 'POST',
    body,
    isBase64Encoded: false,
    requestContext: {
      requestId: 'bench',
      identity: {
        userArn: 'arn:aws:sts::111122223333:assumed-role/reporting-api/s',
        sourceIp: '127.0.0.1',
        userAgent: 'bench',
      },
    },
  } as never;
  const context = () => ({ awsRequestId: 'bench', getRemainingTimeInMillis: () => 10_000 }) as never;

  const first = (await handler(event, context())) as APIGatewayProxyResult;
  if (first.statusCode !== 200) throw new Error(`warm-up vend failed: ${first.body}`);

  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  let vend: BenchRow;
  let bare: BenchRow;
  try {
    vend = await measure('cached vend through the full handler', async () => {
      const response = (await handler(event, context())) as APIGatewayProxyResult;
      if (response.statusCode !== 200) throw new Error(response.body);
    });
    const input = Buffer.from('x'.repeat(300));
    bare = await measure('crypto.sign RS256 (bare)', () => sign('sha256', input, privateKey));
  } finally {
    process.stdout.write = write;
    await emulator.close();
  }
  const ratio = round(vend.medianUs / bare.medianUs, 2);
  const pass = ratio < 1;
  printTable('Cached vend vs one RS256 signature (target < 1×)', [
    { ...bare, ratio: 1 },
    { ...vend, ratio },
  ]);
  console.log(`cached vend / RS256 sign = ${ratio}× → ${pass ? 'PASS' : 'FAIL'} (target < 1×)`);
  writeResults('cached-vend', {
    rows: [bare, vend],
    ratio,
    target: '< 1',
    pass,
    sqlApiCalls: emulator.executionsOf('generate-postgres-token').length,
  });
  return { ratio, pass };
}
