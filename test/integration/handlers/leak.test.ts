import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../lambda/audit/audit-log';
import { createPatSweeperHandler } from '../../../lambda/handlers/pat-sweeper';
import { ALICE, lambdaContext, ROLE_SESSION, restEvent } from '../../support/events';
import { PAT_ENV, PAT_ROLE, PAT_USER, type PatHarness, patHarness } from '../../support/pat';

/**
 * Runs the vending scenarios with every byte written to stdout/stderr (Powertools Logger audit lines,
 * EMF metrics, any console output) captured, then checks that no token, key, passphrase or secret
 * appears in the logs or in any answer body.
 */
describe('no secret reaches a log line or an error body', () => {
  const captured: string[] = [];
  const bodies: string[] = [];
  const tokens: string[] = [];
  let h: PatHarness;
  let restore: () => void;

  beforeAll(async () => {
    const out = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    const capture = (chunk: unknown) => {
      captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
      return true;
    };
    process.stdout.write = capture as typeof process.stdout.write;
    process.stderr.write = capture as typeof process.stderr.write;
    const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
    const originals = methods.map((m) => console[m]);
    for (const m of methods) console[m] = (...args: unknown[]) => capture(`${args.map(String).join(' ')}\n`);
    restore = () => {
      process.stdout.write = out;
      process.stderr.write = err;
      methods.forEach((m, i) => {
        console[m] = originals[i]!;
      });
    };
    h = await patHarness({
      auditSink: new Logger({ serviceName: 'token-vendor-leak-test', logLevel: 'DEBUG' }),
    });
    await h.allowLoopback();
  });
  afterAll(async () => {
    restore();
    await h.close();
  });

  const http = async (path: string, body: unknown, arn: string | null = ROLE_SESSION, remaining = 29_000) => {
    const response = (await h.http(
      restEvent(path, body, arn),
      lambdaContext(remaining),
    )) as APIGatewayProxyResult;
    bodies.push(response.body);
    const json = JSON.parse(response.body);
    if (json.token) tokens.push(json.token);
    return response;
  };

  it('runs every scenario and finds no secret anywhere', async () => {
    // Successes: each token type, a cache hit, a direct invoke with and without the envelope
    await http('/v1/tokens/postgres', { instance: 'reporting_server', username: 'reporting_user' });
    await http('/v1/tokens/postgres', { instance: 'reporting_server', username: 'reporting_user' });
    await http('/v1/tokens/snowflake-jwt', { connection: 'demo' });
    await http('/v1/tokens/snowflake-jwt', { connection: 'kmsconn' });
    await http('/v1/tokens/oauth', { integration: 'servicenow' });
    const sealed = await h.sealedDirect({ tokenType: 'snowflake-jwt', connection: 'demo' }, lambdaContext());
    bodies.push(JSON.stringify(sealed));
    // Denials and failures
    await http('/v1/tokens/postgres', { instance: 'reporting_server', username: 'etl_user' });
    await http('/v1/tokens/postgres', { instance: 'reporting_server', username: 'etl_user' }, null);
    await http('/v1/tokens/postgres', '{"instance":');
    h.emulator.faults.push({ kind: 'server-error', status: 503 }, 1000);
    await http('/v1/tokens/postgres', { instance: 'reporting_server', username: 'etl_user' }, ALICE, 2500);
    h.emulator.faults.clear();
    h.emulator.setUserKey('SVC', 1, undefined);
    await http('/v1/tokens/postgres', { instance: 'reporting_server', username: 'etl_user' }, ALICE);
    h.emulator.setUserKey('SVC', 1, h.key.publicKey);
    h.sm
      .on(GetSecretValueCommand, { SecretId: 'tv/oauth' })
      .resolves({ SecretString: JSON.stringify({ clientSecret: 'wrong-secret-on-purpose' }) });
    await http('/v1/tokens/oauth', { integration: 'servicenow', scopes: ['useraccount'] }, ROLE_SESSION);
    const direct = (await h.direct(
      { tokenType: 'postgres', instance: 'reporting_server', username: 'etl_user' },
      lambdaContext(),
    )) as { token: string };
    tokens.push(direct.token);
    const directFailure = await h
      .direct(
        { tokenType: 'postgres', instance: 'reporting_server', username: 'reporting_user' },
        lambdaContext(),
      )
      .catch((e: Error) => e);
    bodies.push(
      JSON.stringify({ name: (directFailure as Error).name, message: (directFailure as Error).message }),
    );
    // PATs: leased, handed again, sealed for Step Functions, refused at the cap and for a missing policy,
    // removed by the sweeper (its audit lines and EMF metrics through the same Logger and stdout)
    await http('/v1/tokens/pat', { target: 'tableau', role: PAT_ROLE });
    await http('/v1/tokens/pat', { target: 'tableau', role: PAT_ROLE });
    bodies.push(
      JSON.stringify(
        await h.sealedDirect({ tokenType: 'pat', target: 'tableau', role: PAT_ROLE }, lambdaContext()),
      ),
    );
    await h.adminRun(
      Array.from(
        { length: 13 },
        (_, i) => `ALTER USER ${PAT_USER} ADD PAT LEAK${i} ROLE_RESTRICTION = '${PAT_ROLE}'`,
      ),
    );
    await http('/v1/tokens/pat', { target: 'tableau', role: PAT_ROLE }, ALICE);
    await h.adminRun([`ALTER USER ${PAT_USER} UNSET NETWORK_POLICY`]);
    await http('/v1/tokens/pat', { target: 'tableau', role: PAT_ROLE, lifetimeSeconds: 300 }, ALICE);
    await createPatSweeperHandler({
      runtime: () => h.runtime,
      audit: new AuditLog(new Logger({ serviceName: 'token-vendor-leak-test', logLevel: 'DEBUG' })),
      metrics: new Metrics({ namespace: 'TokenVendorTest', serviceName: 'token-vendor' }),
      now: () => Date.now() + 2 * 86_400_000, // every lease has ended, every token is Snowflake-expired
      env: PAT_ENV(),
    })({}, lambdaContext(60_000));
    // Every PAT secret Snowflake ever made here, the vendor's and the hand-made ones
    tokens.push(...h.emulator.patsOf(PAT_USER).map((p) => p.secret));

    // Assess
    const logs = captured.join('');
    expect(logs).toContain('"event":"token.issued"'); // the audit lines were captured
    expect(logs).toContain('"event":"token.denied"');
    expect(logs).toContain('"event":"token.failed"');
    expect(logs).toContain('"event":"pat.removed"');
    expect(logs).toContain('"errorCode":"PAT_LIMIT"');
    // …and the EMF metrics Powertools emits for them
    const emf = logs
      .split('\n')
      .filter((line) => line.includes('"CloudWatchMetrics"'))
      .map((line) => JSON.parse(line));
    const names = new Set(
      emf.flatMap((m) => m._aws.CloudWatchMetrics[0].Metrics.map((x: { Name: string }) => x.Name)),
    );
    for (const name of [
      'TokensIssued',
      'TokensDenied',
      'TokensFailed',
      'CacheHits',
      'UpstreamLatency',
      'UpstreamUnavailable',
    ])
      expect(names).toContain(name);
    expect(tokens.length).toBeGreaterThanOrEqual(6);
    const describe = (found: string[]) => found.map((l) => `${l.slice(0, 12)}… (${l.length} chars)`);
    const secrets = [...h.secrets, 'wrong-secret-on-purpose'];
    const errorBodies = bodies.filter((b) => b.includes('"error"') || b.includes('"name"'));
    const successBodies = bodies.filter((b) => !errorBodies.includes(b));
    expect(errorBodies.length).toBeGreaterThanOrEqual(5);
    // Logs and error bodies: no token and no secret at all.
    expect(describe([...tokens, ...secrets].filter((t) => logs.includes(t)))).toEqual([]);
    expect(describe([...tokens, ...secrets].filter((t) => errorBodies.some((b) => b.includes(t))))).toEqual(
      [],
    );
    // Success bodies carry their token, and nothing else secret.
    expect(describe(secrets.filter((t) => successBodies.some((b) => b.includes(t))))).toEqual([]);
  });
});
