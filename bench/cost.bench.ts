import type { ChildProcess } from 'node:child_process';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { emulatorFixture } from '../test/support/emulator';
import { type Fleet, startFleet } from '../test/support/fleet';
import type { VendResult } from '../test/support/fleet-worker';
import { removeTempDirs } from '../test/support/keys';
import { CACHE_TABLE, fakeKms, startDynalite } from '../test/support/shared-cache';
import { printTable, writeResults } from './measure';

/**
 * What one window of a fleet costs in AWS and Snowflake calls, counted per kind, and at list prices.
 *
 * - **The fleet.** Every container is its own process (own memory cache, own SDK clients), vending one
 *   request at a time as Lambda gives it, 16 or 64 of them.
 * - **The targets.** 50, with callers spread as real fleets spread them: Zipf (s = 1.1), a few hot
 *   targets and a long tail.
 * - **The window.** One token lifetime (every target is cold at its start), with the shared cache on
 *   and off.
 *
 * KMS is mocked at the SDK boundary with real cryptography and counts its calls; DynamoDB is dynalite
 * through the real client, counted per command. Prices are us-east-1 list prices (constants below:
 * change them for your region or contract).
 */
const FLEETS = [16, 64];
const TARGETS = 50;
const VENDS_PER_CONTAINER = 40;
const ZIPF_S = 1.1;

/** us-east-1 list prices, USD. */
export const PRICES = {
  kmsPerRequest: 0.03 / 10_000,
  /** On-demand; a strongly consistent read of up to 4 KB is one read request unit. */
  dynamoDbPerReadUnit: 0.125 / 1_000_000,
  /** On-demand; one write request unit per KB of item. */
  dynamoDbPerWriteUnit: 0.625 / 1_000_000,
  lambdaPerRequest: 0.2 / 1_000_000,
  /** arm64, per GB-second. */
  lambdaPerGbSecond: 0.0000133334,
  /** REST API, first 333 million requests a month. */
  apiGatewayPerRequest: 3.5 / 1_000_000,
} as const;
/** The construct's memory size for the vending functions. */
const LAMBDA_GB = 512 / 1024;

/** Deterministic: the same spread on every run (a small LCG is enough for a sample). */
function zipfSampler(n: number, s: number, seed: number) {
  const weights = Array.from({ length: n }, (_, k) => 1 / (k + 1) ** s);
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  let running = 0;
  for (const w of weights) {
    running += w / total;
    cumulative.push(running);
  }
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  return () => {
    const u = next();
    const i = cumulative.findIndex((c) => u <= c);
    return i < 0 ? n - 1 : i;
  };
}

const sum = (counts: Record<string, number>[], kind: string) =>
  counts.reduce((total, c) => total + (c[kind] ?? 0), 0);

export async function costBench(): Promise<{ pass: boolean }> {
  const kms = fakeKms(); // unused in this process; the workers mock their own
  const rows: Record<string, unknown>[] = [];
  const perWindow: Record<string, unknown>[] = [];
  let pass = true;
  try {
    for (const containers of FLEETS) {
      for (const mode of ['local', 'shared'] as const) {
        const fx = await emulatorFixture();
        const db = await startDynalite();
        const targets = Array.from({ length: TARGETS }, (_, i) => `user_${i}`);
        let fleet: Fleet | undefined;
        try {
          fleet = await startFleet(fx, { containers, usernames: targets, dynamoEndpoint: db.endpoint });
          const countsOf = (workers: readonly ChildProcess[]) =>
            Promise.all(workers.map((w) => fleet!.counts(w)));
          const before = await countsOf(fleet.workers);
          const sqlBefore = fx.emulator.executionsOf('generate-postgres-token').length;
          const asks = fleet.workers.map((_, w) => {
            const pick = zipfSampler(TARGETS, ZIPF_S, 7 + w);
            return Array.from({ length: VENDS_PER_CONTAINER }, () => targets[pick()]!);
          });
          const results: VendResult[] = (
            await Promise.all(
              fleet.workers.map((worker, w) => fleet!.ask(worker, mode, asks[w]!, 60_000, true)),
            )
          ).flat();
          // Pairs of (container, target) that met: each is at most one Decrypt, the cost that grows with the fleet
          const pairs = asks.reduce((n, a) => n + new Set(a).size, 0);
          const touched = new Set(asks.flat()).size;
          const after = await countsOf(fleet.workers);
          const delta = (kind: string) => sum(after, kind) - sum(before, kind);
          const vends = results.length;
          const failed = results.filter((r) => !r.ok).length;
          pass &&= failed === 0;
          // Issue 27's bound on one window's KMS calls, with the shared cache: 2 × containers + targets
          const kmsBound = 2 * containers + new Set(asks.flat()).size;
          const sqlApi = fx.emulator.executionsOf('generate-postgres-token').length - sqlBefore;
          const reads = delta('dynamodb:GetItem');
          const leases = delta('dynamodb:UpdateItem');
          const puts = delta('dynamodb:PutItem');
          const decrypts = delta('kms:Decrypt');
          const dataKeys = delta('kms:GenerateDataKey');
          if (mode === 'shared') pass &&= decrypts + dataKeys <= kmsBound;
          // Write units per put: the stored item's size, rounded up to the KB (leases are small: 1)
          const { Items = [] } = await db.client().send(new ScanCommand({ TableName: CACHE_TABLE }));
          const itemBytes = Items.map((item) =>
            Object.entries(item).reduce((n, [k, v]) => n + k.length + (v.S?.length ?? v.N?.length ?? 0), 0),
          );
          const unitsPerPut = itemBytes.length ? Math.ceil(Math.max(...itemBytes) / 1024) : 1;
          // Lambda bills each invoke's duration rounded up to the millisecond: a hit's ≈ 0.1 ms is 1 ms;
          // a mint's is what it took here (the emulator answers in milliseconds; Snowflake takes longer).
          const billedMs = results.reduce((n, r) => n + Math.max(1, Math.ceil(r.elapsedMs)), 0);
          const per1000 = (n: number) => Math.round((n / vends) * 1000 * 10) / 10;
          const dollars = {
            kms: (decrypts + dataKeys) * PRICES.kmsPerRequest,
            dynamodb:
              reads * PRICES.dynamoDbPerReadUnit +
              (leases + puts * unitsPerPut) * PRICES.dynamoDbPerWriteUnit,
            lambda:
              vends * PRICES.lambdaPerRequest + (billedMs / 1000) * LAMBDA_GB * PRICES.lambdaPerGbSecond,
            apiGateway: vends * PRICES.apiGatewayPerRequest,
          };
          const perMillion = (d: number) => `$${((d / vends) * 1_000_000).toFixed(2)}`;
          rows.push({
            containers,
            targets: TARGETS,
            sharedCache: mode === 'shared' ? 'on' : 'off',
            vends,
            'sqlApi/1k': per1000(sqlApi),
            'ddbReads/1k': per1000(reads),
            'ddbWrites/1k': per1000(leases + puts),
            'kmsDecrypt/1k': per1000(decrypts),
            'kmsDataKey/1k': per1000(dataKeys),
            'kms $/1M vends': perMillion(dollars.kms),
            'ddb $/1M': perMillion(dollars.dynamodb),
            'lambda $/1M': perMillion(dollars.lambda),
            'apigw $/1M': perMillion(dollars.apiGateway),
            failed,
          });
          perWindow.push({
            containers,
            sharedCache: mode === 'shared' ? 'on' : 'off',
            sqlApiCalls: sqlApi,
            targetsTouched: touched,
            'container×target pairs': pairs,
            kmsCalls: decrypts + dataKeys,
            'kms per container': Math.round(((decrypts + dataKeys) / containers) * 10) / 10,
            'kms bound 2×containers+targets': 2 * containers + touched,
            ddbCalls: reads + leases + puts,
            writeUnitsPerPut: unitsPerPut,
          });
        } finally {
          fleet?.close();
          await Promise.all([fx.emulator.close(), db.close().catch(() => {})]);
        }
      }
    }
  } finally {
    kms.restore();
    removeTempDirs();
  }
  printTable(
    `AWS and Snowflake calls per 1,000 vends, and dollars per million vends (${TARGETS} targets, Zipf s=${ZIPF_S}, ${VENDS_PER_CONTAINER} vends a container, one token window)`,
    rows,
  );
  printTable('One window, whole fleet (issue 27 target: KMS calls ≤ 2 × containers + targets)', perWindow);
  writeResults('cost', { rows, perWindow, prices: PRICES, pass });
  return { pass };
}

if (import.meta.url === `file://${process.argv[1]}`) await costBench();
