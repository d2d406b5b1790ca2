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

async function load(url: string, headers: Record<string, string>, body: string): Promise<LoadResult> {
  const spec = JSON.stringify({ url, headers, body, concurrency: CONCURRENCY, durationMs: DURATION_MS });
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/load.ts', spec], {
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as LoadResult;
}

/**
 * Targets (DESIGN.md): the local gateway serves cache hits at ≥ 50 % of the throughput of a bare Node
 * HTTP server on the same machine, with p99 under 25 ms. Each request is SigV4-verified, runs the real
 * handler (middy, policy, cache, audit record, EMF) and answers a cached Postgres token.
 */
export async function gatewayBench(): Promise<{ pass: boolean }> {
  const body = JSON.stringify({ instance: 'reporting_server', username: 'reporting_user' });
  // Baseline: a bare Node server that reads the body and answers a small JSON document.
  const bare = createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"tokenType":"bare"}'),
    );
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
    process.stdout.write = (() => true) as typeof process.stdout.write; // EMF lines are produced, not printed
    const baseline = await load(bareUrl, { 'content-type': 'application/json' }, body);
    const gateway = await load(url.toString(), headers, body);
    process.stdout.write = write;
    const ratio = round(gateway.rps / baseline.rps, 2);
    // DESIGN: one SQL API call per (instance, user) per refresh window, however many callers ask.
    const sqlApiCalls = stack.emulator?.executionsOf('generate-postgres-token').length ?? 0;
    const pass = ratio >= 0.5 && gateway.p99Ms < 25 && gateway.errors === 0 && sqlApiCalls === 1;
    printTable(
      `Local gateway vs bare Node HTTP (${CONCURRENCY} connections, ${DURATION_MS / 1000} s each; target ≥ 0.5×, p99 < 25 ms)`,
      [
        { server: 'bare node:http', ...baseline, ratio: 1 },
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
