import { emulatorFixture } from '../test/support/emulator';
import { startFleet } from '../test/support/fleet';
import { removeTempDirs } from '../test/support/keys';
import { fakeKms, startDynalite } from '../test/support/shared-cache';
import { printTable, writeResults } from './measure';

const CONTAINERS = [1, 4, 16];
const TARGETS = [1, 50];
const CALLERS_PER_CONTAINER_AND_TARGET = 2;

/**
 * Snowflake load against fleet size: SQL API executions for containers (1, 4, 16) × targets (1, 50),
 * with and without the shared cache. Each container is its own process (own memory cache); every
 * container asks for every target (twice, concurrently). Fresh targets per cell, so no cell is served
 * by another's cache. Target (issue 10): with the shared cache, executions = targets.
 */
export async function fleetBench(): Promise<{ pass: boolean }> {
  const cells = CONTAINERS.flatMap((containers) =>
    TARGETS.flatMap((targets) =>
      (['local', 'shared'] as const).map((mode) => ({ containers, targets, mode })),
    ),
  );
  const usernamesOf = (cell: number, targets: number) =>
    Array.from({ length: targets }, (_, i) => `c${cell}_u${i}`);
  const all = cells.flatMap((c, i) => usernamesOf(i, c.targets));
  const kms = fakeKms(); // unused in this process; the workers mock their own
  const fx = await emulatorFixture();
  const db = await startDynalite();
  const fleet = await startFleet(fx, {
    containers: Math.max(...CONTAINERS),
    usernames: all,
    dynamoEndpoint: db.endpoint,
  });
  const rows: Record<string, unknown>[] = [];
  let pass = true;
  try {
    for (const [i, cell] of cells.entries()) {
      const before = fx.emulator.executionsOf('generate-postgres-token').length;
      const callers = cell.containers * cell.targets * CALLERS_PER_CONTAINER_AND_TARGET;
      const started = Date.now();
      const results = await fleet.burst(
        fleet.workers.slice(0, cell.containers),
        cell.mode,
        usernamesOf(i, cell.targets),
        callers,
      );
      const calls = fx.emulator.executionsOf('generate-postgres-token').length - before;
      const failed = results.filter((r) => !r.ok).length;
      const expected = cell.mode === 'shared' ? cell.targets : cell.containers * cell.targets;
      pass &&= failed === 0 && (cell.mode === 'local' || calls === cell.targets);
      rows.push({
        containers: cell.containers,
        targets: cell.targets,
        sharedCache: cell.mode === 'shared' ? 'on' : 'off',
        callers,
        sqlApiCalls: calls,
        expected,
        sharedHits: results.filter((r) => r.ok && r.cache === 'shared-hit').length,
        fallbacks: results.filter((r) => r.ok && r.cache === 'local-fallback').length,
        failed,
        wallMs: Date.now() - started,
      });
    }
  } finally {
    fleet.close();
    kms.restore();
    await Promise.all([fx.emulator.close(), db.close()]);
    removeTempDirs();
  }
  printTable(
    'Snowflake SQL API calls vs fleet size (each container a process; target with the shared cache: = targets)',
    rows,
  );
  console.log(`shared cache: SQL API calls = targets in every cell → ${pass ? 'PASS' : 'FAIL'}`);
  writeResults('fleet', { rows, pass });
  return { pass };
}
