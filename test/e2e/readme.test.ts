import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/keys';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The README's "Run it here" commands, run as written against `npm start`'s stack. Two things differ
 * from a developer's terminal, so that the test never touches a developer's own `.local/` or port 8787:
 * the stack runs on a free port with its files in a temp directory named by `TOKEN_VENDOR_LOCAL_DIR`
 * (documented), and the commands' literal `./.local/` and `http://127.0.0.1:8787` are pointed there.
 */
function readmeCommands(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const marker = readme.indexOf('test/e2e/readme.test.ts` runs this very block');
  expect(marker, 'the README names this test above the block it runs').toBeGreaterThan(0);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(marker))![1]!;
  return block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

describe('the README, run as written', () => {
  let child: ChildProcess;
  let printed = '';
  let endpoint = '';
  const local = join(tempDir('tv-readme-'), '.local');
  const env = { ...process.env, TOKEN_VENDOR_LOCAL_DIR: local };

  beforeAll(async () => {
    child = spawn('npm', ['start', '--', '--port', '0', '--exit-after', '300'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout!.resume();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${printed}`)), 60_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        printed += chunk.toString();
        if (printed.includes('Ctrl-C stops.')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${printed}`)));
    });
    endpoint = /endpoint\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(printed)![1]!;
  }, 90_000);

  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    }
  });

  it('has the five commands, and each runs as written and succeeds', () => {
    const commands = readmeCommands();
    expect(commands.map((c) => c.split(' ').slice(0, 3).join(' '))).toEqual([
      'curl -s --aws-sigv4',
      'npx token-vendor get',
      'npx token-vendor get',
      'npx token-vendor get',
      'npx token-vendor rotation-check',
    ]);
    const outputs = commands.map((command) => {
      const run = spawnSync(
        'bash',
        ['-c', command.replaceAll('./.local/', `${local}/`).replaceAll('http://127.0.0.1:8787', endpoint)],
        { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 },
      );
      expect(run.status, `${command}\n${run.stderr}`).toBe(0);
      return run.stdout;
    });
    expect(JSON.parse(outputs[0]!)).toMatchObject({
      tokenType: 'snowflake-postgres',
      username: 'reporting_user',
    });
    expect(outputs[1]!.trim()).toMatch(/^sfpg\.[\w-]+$/);
    expect(JSON.parse(outputs[2]!)).toMatchObject({
      tokenType: 'KEYPAIR_JWT',
      account: 'DEMOORG-DEMOACCOUNT',
    });
    expect(outputs[3]!.trim()).toMatch(/^oat\./);
    expect(outputs[4]).toMatch(/^demo\tOK\t/);
  });
});
