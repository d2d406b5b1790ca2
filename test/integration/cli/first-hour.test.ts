import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../../dev/local/local-stack';
import { freePort, postgresBinDir, throwawayClusters } from '../../../dev/local/postgres';
import { runCli, serveUntilBanner } from '../../support/cli';
import { tempDir, writeTempFile } from '../../support/keys';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(ROOT, 'cli/bin.mjs');

/** The real binary in a clean environment: no AWS credentials anywhere, no instance metadata. */
function bare(args: string[], env: Record<string, string> = {}) {
  const home = tempDir('tv-home-');
  return spawnSync(process.execPath, [BIN, ...args], {
    cwd: home,
    encoding: 'utf8',
    timeout: 30_000,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: home,
      AWS_EC2_METADATA_DISABLED: 'true',
      TOKEN_VENDOR_LOCAL_DIR: join(home, '.local'),
      ...env,
    },
  });
}

/** The CLI's first-hour papercuts (issue 24): each of these failed as a new user met it. */
describe('the CLI a new user meets', () => {
  it('npm start --port N works as written on npm 11 (npm takes --port as its own flag and passes N on)', async () => {
    const port = await freePort();
    const child = spawn('npm', ['start', '--port', String(port)], {
      cwd: ROOT,
      env: { ...process.env, TOKEN_VENDOR_LOCAL_DIR: join(tempDir('tv-start-'), '.local') },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let printed = '';
    try {
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), 60_000);
        child.stderr!.on('data', (chunk: Buffer) => {
          printed += chunk.toString();
          if (printed.includes('Ctrl-C stops.')) {
            clearTimeout(timer);
            resolve(-1);
          }
        });
        child.once('exit', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      expect(code, printed).toBe(-1); // it came up instead of exiting
      expect(printed).toContain(`http://127.0.0.1:${port}`);
    } finally {
      // The whole group (npm, its shell, the stack); wait until the stack has removed its database.
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        process.kill(-child.pid!, 'SIGTERM');
        await exited;
      } catch {
        // already gone
      }
    }
  }, 90_000);

  it.skipIf(!postgresBinDir() && !process.env.CI)(
    'a signal while the stack starts, or a second one while it stops, never leaves its PostgreSQL behind',
    async () => {
      // This stack's clusters: each records its owner's pid (other tests' run beside it)
      const clustersOf = (pid: number | undefined) =>
        throwawayClusters().flatMap((c) => (c.owner === pid ? [c.base] : []));
      for (const when of ['starting', 'twice'] as const) {
        const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--exit-after', '60'], {
          env: { ...process.env, TOKEN_VENDOR_LOCAL_DIR: join(tempDir('tv-sig-'), '.local') },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let printed = '';
        child.stderr!.on('data', (c: Buffer) => (printed += c.toString()));
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        const ours = () => clustersOf(child.pid);
        if (when === 'starting') {
          // Its database is being created: the stack is half up
          for (let i = 0; i < 400 && ours().length === 0; i += 1) await new Promise((r) => setTimeout(r, 25));
          expect(ours()).toHaveLength(1);
          child.kill('SIGTERM');
        } else {
          for (let i = 0; i < 600 && !printed.includes('Ctrl-C stops.'); i += 1)
            await new Promise((r) => setTimeout(r, 25));
          child.kill('SIGINT');
          child.kill('SIGINT'); // as a terminal and npm both send it
        }
        const code = await exited;
        expect(printed, when).toMatch(/Token Vendor stopped \((SIGTERM|SIGINT)\)\.\n$/);
        expect(code).toBe(when === 'starting' ? 0 : 130);
        expect(ours(), when).toEqual([]);
      }
    },
    90_000,
  );

  it('jwt --lifetime: the error names the range --help names', async () => {
    const help = await runCli(['jwt', '--help']);
    const range = /lifetime in seconds, (\d+)–(\d+)/.exec(help.stdout)!;
    expect(range).not.toBeNull();
    const key = writeTempFile('never-read.p8', 'not a key');
    for (const value of [String(Number(range[1]) - 1), String(Number(range[2]) + 1)]) {
      const result = await runCli([
        'jwt',
        '--account',
        'a',
        '--user',
        'u',
        '--private-key-file',
        key,
        '--lifetime',
        value,
      ]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`--lifetime must be ${range[1]}–${range[2]} seconds`);
    }
  });

  it('get with no stack running and no endpoint says to start one; with an endpoint and no credentials, how to give them', () => {
    const none = bare(['get', 'postgres', '--instance', 'reporting_server', '--username', 'reporting_user']);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('no local stack is running here (start one with "npm start")');
    const noCredentials = bare([
      'get',
      'postgres',
      '--endpoint',
      'http://127.0.0.1:9',
      '--instance',
      'reporting_server',
      '--username',
      'reporting_user',
    ]);
    expect(noCredentials.status).toBe(2);
    expect(noCredentials.stderr).toContain('pass --credentials FILE');
    expect(noCredentials.stderr).not.toContain('Could not load credentials from any providers');
  });

  it('a flag before the command is a flag of that command; --json makes the error JSON', () => {
    const result = bare(['--json', 'get', 'postgres', '--instance', 'reporting_server', '--username', 'u']);
    expect(result.status).toBe(2);
    const { error } = JSON.parse(result.stderr) as { error: { code: string; message: string } };
    expect(error.code).toBe('USAGE');
    expect(error.message).toContain('no local stack is running');
    expect(result.stderr).not.toContain('unknown command');
  });

  it('without PostgreSQL the stack says how to get it, and runs without a database', async () => {
    const { code, banner } = await serveUntilBanner(
      ['--port', '0', '--dir', join(tempDir('tv-nodb-'), '.local')],
      {
        ...process.env,
        TOKEN_VENDOR_POSTGRES_BIN: 'none',
      },
    );
    expect(code).toBe(0);
    expect(banner).toContain(
      'postgres     none. PostgreSQL is not installed, so the local stack runs without a database.',
    );
    expect(banner).toContain('apt-get install postgresql');
    expect(banner).not.toContain('npx token-vendor exec'); // no psql line without a database
  });

  it('rotation-check with a stopped stack’s config left behind says no stack is running, at once', async () => {
    const home = tempDir('tv-stopped-');
    const dir = join(home, '.local');
    const stack = await startLocalStack({ dir, port: 0, auditSink: { info: () => {} } });
    await stack.close(); // config.json stays; nothing serves it
    const started = Date.now();
    const result = await runCli(['rotation-check'], { env: { TOKEN_VENDOR_LOCAL_DIR: dir } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no local stack is running here (start one with "npm start")');
    expect(Date.now() - started).toBeLessThan(1500); // before: ≈ 4 s of retries against the dead emulator
  });

  describe('against a running stack', () => {
    let stack: LocalStack;
    beforeAll(async () => {
      stack = await startLocalStack({ dir: tempDir('tv-cli-'), port: 0, auditSink: { info: () => {} } });
    });
    afterAll(() => stack.close());

    it('an error the service answered carries its request id, in the line and in --json', async () => {
      const args = [
        'get',
        'postgres',
        '--endpoint',
        stack.gateway.url,
        '--credentials',
        stack.credentialsFile,
        '--instance',
        'reporting_server',
        '--username',
        'nobody_granted',
      ];
      const line = await runCli(args);
      expect(line.code).toBe(3);
      expect(line.stderr).toMatch(/^token-vendor: NOT_AUTHORIZED: .* \(request id [\w-]+\)\n$/);
      const json = await runCli([...args, '--json']);
      const { error } = JSON.parse(json.stderr) as { error: { code: string; requestId?: string } };
      expect(error.code).toBe('NOT_AUTHORIZED');
      expect(error.requestId).toMatch(/^[\w-]+$/);
    });
  });
});
