import { mkdirSync, writeFileSync } from 'node:fs';

/** One benchmark row: what was measured and how fast it ran. */
export interface BenchRow {
  readonly name: string;
  readonly iterations: number;
  /** Median per-operation time over the batches, in microseconds. */
  readonly medianUs: number;
  readonly p99Us: number;
  readonly opsPerSecond: number;
}

/**
 * Time `op` in batches after a warm-up and report the median batch's per-operation cost. Batches
 * (rather than single calls) keep timer resolution out of sub-millisecond figures.
 *
 * @example
 * ```ts
 * const row = await measure('crypto.sign RS256', () => sign('sha256', data, key));
 * ```
 */
export async function measure(
  name: string,
  op: () => unknown,
  {
    batches = 30,
    batchSize = 50,
    warmup = 200,
  }: { batches?: number; batchSize?: number; warmup?: number } = {},
): Promise<BenchRow> {
  for (let i = 0; i < warmup; i += 1) await op();
  const perOp: number[] = [];
  for (let b = 0; b < batches; b += 1) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < batchSize; i += 1) await op();
    perOp.push(Number(process.hrtime.bigint() - start) / 1000 / batchSize);
  }
  return rowOf(name, perOp, batches * batchSize);
}

/** A row from per-operation batch times (µs): the median batch, the p99 batch, ops per second. */
function rowOf(name: string, perOp: readonly number[], iterations: number): BenchRow {
  const sorted = [...perOp].sort((x, y) => x - y);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return {
    name,
    iterations,
    medianUs: round(median),
    p99Us: round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!),
    opsPerSecond: Math.round(1e6 / median),
  };
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Print rows as an aligned table. */
export function printTable(title: string, rows: readonly Record<string, unknown>[]): void {
  console.log(`\n## ${title}`);
  if (rows.length === 0) return;
  const keys = Object.keys(rows[0]!);
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(keys));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(keys.map((k) => String(row[k]))));
}

/** Write a benchmark's results to bench/results/<name>.json. */
export function writeResults(name: string, data: unknown): void {
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(
    `bench/results/${name}.json`,
    `${JSON.stringify({ at: new Date().toISOString(), node: process.version, ...(data as object) }, null, 2)}\n`,
  );
}

/**
 * Run `op` in batches until it is warm: until the median per-op time of the last three batches is
 * within 5 % of the three before (JIT tiers settled, caches filled), or 200 batches.
 *
 * @example
 * ```ts
 * await warmUntilStable(() => handler(event, context));
 * ```
 */
export async function warmUntilStable(op: () => unknown, batchSize = 50): Promise<number> {
  const times: number[] = [];
  const median3 = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
  for (let b = 0; b < 200; b += 1) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < batchSize; i += 1) await op();
    times.push(Number(process.hrtime.bigint() - start) / batchSize);
    if (times.length >= 6) {
      const recent = median3(times.slice(-3));
      const before = median3(times.slice(-6, -3));
      if (Math.abs(recent - before) / before < 0.05) return b + 1;
    }
  }
  return 200;
}

/**
 * Measure two operations interleaved, batch by batch (A, B, A, B, …), after warming both until stable,
 * so drift in the machine's speed (other processes, thermal) lands on both equally.
 *
 * @example
 * ```ts
 * const [bare, mint] = await measurePair(['sign', () => sign(...)], ['mint', () => mint(...)]);
 * ```
 */
export async function measurePair(
  a: readonly [string, () => unknown],
  b: readonly [string, () => unknown],
  { batches = 40, batchSize = 50 }: { batches?: number; batchSize?: number } = {},
): Promise<[BenchRow, BenchRow]> {
  await warmUntilStable(a[1], batchSize);
  await warmUntilStable(b[1], batchSize);
  const perOp: [number[], number[]] = [[], []];
  for (let i = 0; i < batches; i += 1) {
    for (const [index, [, op]] of [a, b].entries()) {
      const start = process.hrtime.bigint();
      for (let j = 0; j < batchSize; j += 1) await op();
      perOp[index]!.push(Number(process.hrtime.bigint() - start) / 1000 / batchSize);
    }
  }
  return [rowOf(a[0], perOp[0], batches * batchSize), rowOf(b[0], perOp[1], batches * batchSize)];
}
