import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { postgresBinDir, reapOrphanedClusters } from '../../../../dev/local/postgres';

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));
const bin = postgresBinDir();

/**
 * A stack killed outright (SIGKILL, the OOM killer) cannot stop its throwaway PostgreSQL. The next
 * cluster start reaps it: the clusters of dead owners are stopped and removed, live ones are left.
 */
describe.skipIf(!bin && !process.env.CI)('throwaway clusters of a process that was killed', () => {
  it('are stopped and removed by the next start; a live owner’s cluster is not touched', async () => {
    // A process that starts a cluster, says where, and is then killed before it can stop it
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        "import('./dev/local/postgres.ts').then(async (m) => { const c = await m.startThrowawayCluster(m.postgresBinDir()); console.log(c.socketDir); setInterval(() => {}, 1000); });",
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const socketDir = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the cluster did not start')), 60_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        clearTimeout(timer);
        resolve(chunk.toString().trim());
      });
    });
    const base = join(socketDir, '..');
    const pid = Number(readFileSync(join(base, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    // Its owner is alive: not reaped
    expect(reapOrphanedClusters(bin!)).not.toContain(base);
    expect(existsSync(base)).toBe(true);
    const killed = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await killed;
    expect(spawnSync('kill', ['-0', String(pid)]).status).toBe(0); // its PostgreSQL outlived it
    // The next start reaps it
    expect(reapOrphanedClusters(bin!)).toContain(base);
    expect(existsSync(base)).toBe(false);
    // The postmaster exits as it removes its pid file; give it a moment to be gone from the process table
    const running = () => spawnSync('kill', ['-0', String(pid)]).status === 0;
    for (let i = 0; i < 100 && running(); i += 1) await new Promise((r) => setTimeout(r, 50));
    expect(running()).toBe(false);
  }, 90_000);
});
