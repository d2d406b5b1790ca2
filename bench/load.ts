// Load generator, run as its own process so it does not share the server's event loop:
//   node --import tsx bench/load.ts <json {url, method, headers, body, concurrency, durationMs}>
// Prints {requests, errors, rps, p50Ms, p99Ms} as JSON. Targets 127.0.0.1 only.
import { Agent, request } from 'node:http';

const spec = JSON.parse(process.argv[2] ?? '{}') as {
  url: string;
  headers: Record<string, string>;
  body: string;
  concurrency: number;
  durationMs: number;
};
const target = new URL(spec.url);
if (target.hostname !== '127.0.0.1') throw new Error('load tests target 127.0.0.1 only');
const agent = new Agent({ keepAlive: true, maxSockets: spec.concurrency });
const latencies: number[] = [];
let errors = 0;
const deadline = Date.now() + spec.durationMs;

function once(): Promise<void> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const req = request(
      target,
      { method: 'POST', agent, headers: { ...spec.headers, 'content-length': Buffer.byteLength(spec.body) } },
      (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
          else errors += 1;
          resolve();
        });
      },
    );
    req.on('error', () => {
      errors += 1;
      resolve();
    });
    req.end(spec.body);
  });
}

async function worker(): Promise<void> {
  while (Date.now() < deadline) await once();
}

const started = Date.now();
await Promise.all(Array.from({ length: spec.concurrency }, worker));
const seconds = (Date.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? Number.NaN;
console.log(
  JSON.stringify({
    requests: latencies.length,
    errors,
    rps: Math.round(latencies.length / seconds),
    p50Ms: Math.round(pct(0.5) * 100) / 100,
    p99Ms: Math.round(pct(0.99) * 100) / 100,
  }),
);
agent.destroy();
