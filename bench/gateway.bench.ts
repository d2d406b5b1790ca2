import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { startLocalStack } from '../dev/local/local-stack';
import { ROUTES } from '../lambda/api/routes';
import { printTable, round, writeResults } from './measure';
import { tempDirFor } from './temp';

const run = promisify(execFile);
const CONCURRENCY = 32;
const DURATION_MS = 5000;

interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * Load from outside this process: autocannon (its own process and event loop), after a 2 s warm-up,
 * `CONCURRENCY` connections for `DURATION_MS`.
 */
async function load(url: string, headers: Record<string, string>, body: string): Promise<LoadResult> {
  const args = [
    '-c',
    String(CONCURRENCY),
    '-d',
    String(DURATION_MS / 1000),
    '-m',
    'POST',
    '-b',
    body,
    '-j',
    '-W',
    '[',
    '-c',
    String(CONCURRENCY),
    '-d',
    '2',
    ']',
    ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}=${v}`]),
    url,
  ];
  const { stdout } = await run('node_modules/.bin/autocannon', args, { maxBuffer: 16 << 20 });
  // With a warm-up, autocannon prints the warm-up's report first: the measured one is the last line.
  const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    errors: number;
    non2xx: number;
  };
  return {
    requests: report.requests.total,
    errors: report.errors + report.non2xx,
    rps: Math.round(report.requests.average),
    p50Ms: report.latency.p50,
    p99Ms: report.latency.p99,
  };
}

/**
 * Targets (DESIGN.md): the local gateway serves cache hits at ≥ 50 % of the throughput of a bare Node
 * HTTP server on the same machine, with p99 under 25 ms. Each request is SigV4-verified, runs the real
 * handler (middy, policy, cache, audit record, EMF) and answers a cached Postgres token.
 */
export async function gatewayBench(): Promise<{ pass: boolean }> {
  const body = JSON.stringify({ instance: 'reporting_server', username: 'reporting_user' });
  // Baseline: a bare Node server that reads the body and answers the very bytes the gateway answers
  // (status, headers, body of a cached vend), set once the gateway's first answer is known.
  let answer: { status: number; headers: Record<string, string>; body: string } | undefined;
  const bare = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(answer!.status, answer!.headers).end(answer!.body));
  });
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}${ROUTES.postgres.path}`;

  const write = process.stdout.write;
  const stack = await startLocalStack({
    dir: tempDirFor('bench-local'),
    port: 0,
    auditSink: { info: (m, a) => JSON.stringify({ m, a }) },
  });
  try {
    const url = new URL(ROUTES.postgres.path, stack.gateway.url);
    const credential = stack.credentials[0]!;
    const signer = new SignatureV4({
      service: 'execute-api',
      region: 'us-east-1',
      credentials: credential,
      sha256: Hash.bind(null, 'sha256'),
    });
    // One signed request replayed: SigV4 has no nonce, and API Gateway accepts it for 5 minutes.
    const signed = await signer.sign(
      new HttpRequest({
        method: 'POST',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: url.pathname,
        headers: { host: url.host, 'content-type': 'application/json' },
        body,
      }),
    );
    const headers = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k, String(v)]));
    const warm = await fetch(url, { method: 'POST', headers, body });
    if (warm.status !== 200) throw new Error(`warm-up failed: ${await warm.text()}`);
    const skip = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length']);
    answer = {
      status: warm.status,
      headers: Object.fromEntries([...warm.headers].filter(([k]) => !skip.has(k))),
      body: await warm.text(),
    };
    process.stdout.write = (() => true) as typeof process.stdout.write; // EMF lines are produced, not printed
    const baseline = await load(bareUrl, { 'content-type': 'application/json' }, body);
    const gateway = await load(url.toString(), headers, body);
    process.stdout.write = write;
    const ratio = round(gateway.rps / baseline.rps, 2);
    // DESIGN: one SQL API call per (instance, user) per refresh window, however many callers ask.
    const sqlApiCalls = stack.emulator?.executionsOf('generate-postgres-token').length ?? 0;
    const pass = ratio >= 0.5 && gateway.p99Ms < 25 && gateway.errors === 0 && sqlApiCalls === 1;
    printTable(
      `Local gateway vs bare Node HTTP, load from autocannon in its own process (${CONCURRENCY} connections, 2 s warm-up, ${DURATION_MS / 1000} s each; target ≥ 0.5×, p99 < 25 ms)`,
      [
        { server: 'bare node:http, same answer bytes', ...baseline, ratio: 1 },
        { server: 'gateway (SigV4 + handler, cache hit)', ...gateway, ratio },
      ],
    );
    console.log(
      `gateway / bare = ${ratio}×, p99 ${gateway.p99Ms} ms → ${pass ? 'PASS' : 'FAIL'} (target ≥ 0.5×, p99 < 25 ms)`,
    );
    writeResults('gateway', {
      baseline,
      gateway,
      ratio,
      concurrency: CONCURRENCY,
      durationMs: DURATION_MS,
      pass,
    });
    return { pass };
  } finally {
    process.stdout.write = write;
    bare.close();
    await stack.close();
  }
}
