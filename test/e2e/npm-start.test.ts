import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/keys';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The README's first command: `npm start` brings up the local stack, and what it prints works as printed. */
describe('npm start', () => {
  let child: ChildProcess;
  let printed = '';
  let commands: string[] = [];

  beforeAll(async () => {
    child = spawn(
      'npm',
      ['start', '--', '--port', '0', '--dir', tempDir('tv-start-'), '--exit-after', '300'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
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
    const tryBlock = printed.slice(printed.indexOf('Try:'));
    commands = tryBlock
      .split('\n')
      .filter((line) => line.startsWith('  '))
      .map((line) => line.trim());
  }, 90_000);

  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // The whole process group: npm, its shell and the server (which stops on SIGTERM or Ctrl-C).
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    }
  });

  const runPrinted = (prefix: string) => {
    const command = commands.find((c) => c.startsWith(prefix));
    expect(command, `no printed command starting with ${prefix}`).toBeDefined();
    const result = spawnSync('bash', ['-c', command!], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    return {
      ...result,
      stderr: result.stderr
        .split('\n')
        .filter((l) => !l.startsWith('npm warn'))
        .join('\n'),
    };
  };

  it('prints the endpoint, the principal and ready-to-paste commands', () => {
    expect(printed).toMatch(
      /endpoint {5}http:\/\/127\.0\.0\.1:\d+ {3}\(SigV4: region us-east-1, service execute-api\)/,
    );
    expect(printed).toContain('arn:aws:sts::123456789012:assumed-role/token-vendor-demo/local-developer');
    expect(commands.length).toBe(5);
  });

  it('the printed curl command gets a Postgres token', () => {
    const result = runPrinted('curl');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      tokenType: 'snowflake-postgres',
      username: 'reporting_user',
    });
  });

  it('the printed token-vendor get commands work', () => {
    const postgres = runPrinted('npx token-vendor get postgres');
    expect(postgres).toMatchObject({ status: 0, stderr: '' });
    expect(postgres.stdout.trim()).toMatch(/^sfpg\.[\w-]+$/);
    const jwt = runPrinted('npx token-vendor get snowflake-jwt');
    expect(jwt.status).toBe(0);
    expect(JSON.parse(jwt.stdout)).toMatchObject({
      tokenType: 'KEYPAIR_JWT',
      account: 'DEMOORG-DEMOACCOUNT',
    });
    const oauth = runPrinted('npx token-vendor get oauth');
    expect(oauth.status).toBe(0);
    expect(oauth.stdout.trim()).toMatch(/^oat\./);
  });

  it('the printed rotation-check reports connection demo as OK and exits 0', () => {
    const result = runPrinted('npx token-vendor rotation-check');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^demo\tOK\t/);
  });

  it("stops on SIGINT sent to npm's own PID, with one line and exit code 130", async () => {
    // Act: npm itself gets the signal (as `kill -INT <pid of npm>` does), not the process group
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    process.kill(child.pid!, 'SIGINT');
    // Assess
    expect(await exited).toBe(130);
    expect(printed).toMatch(/Token Vendor stopped \(SIGINT\)\.\n$/);
  });
});
