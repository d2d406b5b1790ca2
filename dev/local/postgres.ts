import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';

/**
 * The directory of PostgreSQL's server binaries, if installed: `TOKEN_VENDOR_POSTGRES_BIN`, else the newest Debian
 * `/usr/lib/postgresql/<major>/bin`, else `pg_config --bindir`, else the directory of an `initdb` on the
 * PATH (Homebrew, other distributions).
 */
export function postgresBinDir(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string | undefined {
  // TOKEN_VENDOR_POSTGRES_BIN: the directory to use (one of several versions), or `none` for no database.
  const chosen = env.TOKEN_VENDOR_POSTGRES_BIN;
  if (chosen !== undefined && chosen !== '')
    return chosen === 'none' || !existsSync(join(chosen, 'initdb')) ? undefined : chosen;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const majors = readdirSync(root)
      .filter((d) => existsSync(join(root, d, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (majors[0]) return join(root, majors[0], 'bin');
  }
  const fromPgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const bindir = fromPgConfig.status === 0 ? fromPgConfig.stdout.trim() : '';
  if (bindir && existsSync(join(bindir, 'initdb'))) return bindir;
  const onPath = (process.env.PATH ?? '')
    .split(delimiter)
    .find((dir) => dir && existsSync(join(dir, 'initdb')));
  return onPath;
}

export interface ThrowawayCluster {
  readonly port: number;
  readonly socketDir: string;
  /** A superuser connection over the Unix socket (trust). */
  readonly admin: pg.Client;
  stop(): Promise<void>;
}

/** A port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const OWNER_FILE = 'owner.pid';

/** Is process `pid` still running (signal 0 checks without sending)? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stop and remove the throwaway clusters whose owner process is gone (killed before it could stop
 * them), so no PostgreSQL outlives the stack or test that started it for longer than the next start.
 * Clusters of live processes (a stack in another terminal, a parallel test) are left alone.
 *
 * @example
 * ```ts
 * reapOrphanedClusters(postgresBinDir()!);
 * ```
 */
export function reapOrphanedClusters(bin: string): string[] {
  const reaped: string[] = [];
  const asRoot = process.getuid?.() === 0;
  for (const { base, owner } of throwawayClusters()) {
    if (alive(owner)) continue;
    const stop = [join(bin, 'pg_ctl'), '-D', join(base, 'data'), '-m', 'immediate', '-w', 'stop'];
    spawnSync(asRoot ? 'runuser' : stop[0]!, asRoot ? ['-u', 'postgres', '--', ...stop] : stop.slice(1), {
      stdio: 'ignore',
      timeout: 30_000,
    });
    rmSync(base, { recursive: true, force: true });
    reaped.push(base);
  }
  return reaped;
}

/** The throwaway clusters on this machine and the pid of the process that started each. */
export function throwawayClusters(): { base: string; owner: number }[] {
  return readdirSync(tmpdir()).flatMap((name) => {
    if (!name.startsWith('tv-pg-')) return [];
    const base = join(tmpdir(), name);
    try {
      const owner = Number(readFileSync(join(base, OWNER_FILE), 'utf8'));
      return Number.isInteger(owner) && owner > 0 ? [{ base, owner }] : [];
    } catch {
      return []; // not one of ours, or still being created
    }
  });
}

/** How to get PostgreSQL's server, said when `npm start` runs without it. */
export const POSTGRES_INSTALL_HINT =
  'PostgreSQL is not installed, so the local stack runs without a database. To get one behind it: apt-get install postgresql (Debian, Ubuntu), brew install postgresql (macOS), or put initdb on the PATH.';

/**
 * A throwaway PostgreSQL cluster on 127.0.0.1 with TLS (a self-signed certificate) and
 * `hostssl … scram-sha-256` (or `ldap`, see `options.ldap`): TCP logins need TLS and a password, as
 * Snowflake Postgres requires.
 * Runs as the `postgres` user when the tests run as root (initdb refuses root).
 *
 * @example
 * ```ts
 * const cluster = await startThrowawayCluster(postgresBinDir()!);
 * ```
 */
export async function startThrowawayCluster(
  bin: string,
  options: {
    /** Check TCP logins with PostgreSQL's `ldap` method and these options (see token-ldap.ts), not scram. */
    readonly ldap?: string;
  } = {},
): Promise<ThrowawayCluster> {
  reapOrphanedClusters(bin);
  const base = mkdtempSync(join(tmpdir(), 'tv-pg-'));
  // Who owns it: a process killed outright (SIGKILL, OOM) cannot stop its cluster; the next start does.
  writeFileSync(join(base, OWNER_FILE), String(process.pid));
  const data = join(base, 'data');
  const socketDir = join(base, 'sock');
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? Number(execFileSync('id', ['-u', 'postgres']).toString().trim()) : undefined;
  const group = asRoot ? Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) : undefined;
  execFileSync('mkdir', ['-p', socketDir]);
  if (owner !== undefined && group !== undefined) {
    chownSync(base, owner, group);
    chownSync(socketDir, owner, group);
  }
  const run = (command: string, args: string[]) => {
    const [cmd, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, command), ...args]]
      : [join(bin, command), args];
    const result = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 60_000 });
    if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr || result.stdout}`);
  };
  run('initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  // TLS: a self-signed certificate, as sslmode=require needs encryption, not verification.
  const key = join(data, 'server.key');
  const cert = join(data, 'server.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  chmodSync(key, 0o600);
  if (owner !== undefined && group !== undefined) {
    chownSync(key, owner, group);
    chownSync(cert, owner, group);
  }
  writeFileSync(
    join(data, 'pg_hba.conf'),
    `local all all trust\nhostssl all all 127.0.0.1/32 ${options.ldap ? `ldap ${options.ldap}` : 'scram-sha-256'}\n`,
  );
  const port = await freePort();
  run('pg_ctl', [
    '-D',
    data,
    '-l',
    join(base, 'postgres.log'),
    '-w',
    '-t',
    '60',
    '-o',
    `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c ssl=on -c fsync=off -c password_encryption=scram-sha-256`,
    'start',
  ]);
  // If the test process ends without afterAll (a crash), the cluster must not outlive it.
  const stopNow = () => {
    spawnSync(
      asRoot ? 'runuser' : join(bin, 'pg_ctl'),
      asRoot
        ? ['-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop']
        : ['-D', data, '-m', 'immediate', 'stop'],
    );
  };
  process.once('exit', stopNow);
  const admin = new pg.Client({ host: socketDir, port, user: 'postgres', database: 'postgres' });
  await admin.connect();
  return {
    port,
    socketDir,
    admin,
    stop: async () => {
      await admin.end().catch(() => {});
      process.removeListener('exit', stopNow);
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
    },
  };
}
