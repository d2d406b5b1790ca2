import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/keys';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function readmeCommands(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const marker = readme.indexOf('test/e2e/npm-start.test.ts` runs this very block');
  expect(marker, 'the README names this test above the block it runs').toBeGreaterThan(0);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(marker))![1]!;
  return block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** The README's first command: `npm start` brings up the local stack, and what it prints works as printed. */
// Each test spawns `npx token-vendor …` commands (~1 s each, more when the machine is busy).
const SPAWNING = 90_000;

describe('npm start', () => {
  let child: ChildProcess;
  let printed = '';
  /** The stack's stdout: its audit lines. */
  let auditLines = '';
  let commands: string[] = [];
  // The stack's files go to a temp directory (TOKEN_VENDOR_LOCAL_DIR), never a developer's own .local/.
  const local = join(tempDir('tv-start-'), '.local');
  const env = { ...process.env, TOKEN_VENDOR_LOCAL_DIR: local };
  let endpoint = '';

  beforeAll(async () => {
    child = spawn('npm', ['start', '--', '--port', '0', '--exit-after', '300'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      auditLines += chunk.toString();
    });
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
    endpoint = /endpoint\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(printed)![1]!;
  }, 90_000);

  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // The whole process group: npm, its shell and the server (which stops on SIGTERM or Ctrl-C).
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    }
  });

  const runPrinted = (prefix: string, containing = '') => {
    const command = commands.find((c) => c.startsWith(prefix) && c.includes(containing));
    expect(command, `no printed command starting with ${prefix}`).toBeDefined();
    const result = spawnSync('bash', ['-c', command!], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
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
    expect(commands.length).toBe(7);
    // A throwaway PostgreSQL stands behind reporting_server (CI always installs PostgreSQL)
    if (process.env.CI)
      expect(printed).toMatch(/ {2}postgres {5}127\.0\.0\.1:\d+ {3}\(a throwaway PostgreSQL/);
  });

  it('the printed curl command gets a Postgres token', () => {
    const result = runPrinted('curl');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      tokenType: 'snowflake-postgres',
      username: 'reporting_user',
    });
  });

  it(
    'the printed token-vendor get commands work',
    () => {
      const postgres = runPrinted('npx token-vendor get postgres');
      expect(postgres).toMatchObject({ status: 0, stderr: '' });
      expect(postgres.stdout.trim()).toMatch(/^sfpg\.[\w-]+$/);
      // The keyless connection: no key anywhere, the vendor's role signs in through the local STS
      const keyless = runPrinted('npx token-vendor get postgres', '--connection demo-keyless');
      expect(keyless).toMatchObject({ status: 0, stderr: '' });
      expect(keyless.stdout.trim()).toMatch(/^sfpg\.[\w-]+$/);
      expect(keyless.stdout).not.toBe(postgres.stdout);
      const jwt = runPrinted('npx token-vendor get snowflake-jwt');
      expect(jwt.status).toBe(0);
      expect(JSON.parse(jwt.stdout)).toMatchObject({
        tokenType: 'KEYPAIR_JWT',
        account: 'DEMOORG-DEMOACCOUNT',
      });
      const oauth = runPrinted('npx token-vendor get oauth');
      expect(oauth.status).toBe(0);
      expect(oauth.stdout.trim()).toMatch(/^oat\./);
    },
    SPAWNING,
  );

  /** Whether this stack has PostgreSQL behind it (CI always installs it; a developer may not have it). */
  const hasDatabase = () => printed.includes('(a throwaway PostgreSQL');

  it(
    'the printed psql line connects to the database behind the instance, as the Postgres user',
    ({ skip }) => {
      if (!hasDatabase()) skip('PostgreSQL is not installed here (CI always has it)');
      const psql = runPrinted('npx token-vendor exec');
      expect(psql.status, psql.stderr).toBe(0);
      expect(psql.stdout).toMatch(/^\s*current_user\s*\n-+\n\s*reporting_user\s*\n/);
    },
    SPAWNING,
  );

  it(
    'the printed rotation-check reports both connections OK (the key and the workload identity) and exits 0',
    () => {
      const result = runPrinted('npx token-vendor rotation-check');
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/^demo\tOK\t/);
      expect(result.stdout).toMatch(
        /^demo-keyless\tOK\tTOKEN_VENDOR_KEYLESS trusts the vendor's role arn:aws:iam::123456789012:role\/token-vendor-local/m,
      );
    },
    SPAWNING,
  );

  it(
    'runs the README\'s "Run it here" block as written: seven commands, each succeeding',
    () => {
      const commands = readmeCommands();
      expect(commands.map((c) => c.split(' ').slice(0, 3).join(' '))).toEqual([
        'curl -s --aws-sigv4',
        'npx token-vendor get',
        'npx token-vendor exec',
        'npx token-vendor get',
        'npx token-vendor get',
        'npx token-vendor get',
        'npx token-vendor rotation-check',
      ]);
      // The block's literal ./.local/ and http://127.0.0.1:8787 point at this test's stack.
      const outputs = commands.map((command) => {
        // Without PostgreSQL on this machine, there is no database for psql (CI always has one)
        if (command.startsWith('npx token-vendor exec') && !hasDatabase()) return 'reporting_user';
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
      expect(outputs[2]).toMatch(/reporting_user/); // psql: select current_user
      expect(outputs[3]!.trim()).toMatch(/^sfpg\.[\w-]+$/);
      expect(JSON.parse(outputs[4]!)).toMatchObject({
        tokenType: 'KEYPAIR_JWT',
        account: 'DEMOORG-DEMOACCOUNT',
      });
      expect(outputs[5]!.trim()).toMatch(/^oat\./);
      expect(outputs[6]).toMatch(/^demo\tOK\t/);
      expect(outputs[6]).toMatch(/^demo-keyless\tOK\t/m);
    },
    SPAWNING,
  );

  it(
    "runs the runbook's local block as written: served, revoked (with what it holds), refused, unrevoked, served",
    async () => {
      const runbook = readFileSync(join(ROOT, 'docs/runbook.md'), 'utf8');
      const at = runbook.indexOf('<!-- runs against npm start: test/e2e/npm-start.test.ts -->');
      expect(at).toBeGreaterThan(0);
      const lines = /```sh local\n([\s\S]*?)```/.exec(runbook.slice(at))![1]!.split('\n').filter(Boolean);
      expect(lines).toHaveLength(9);
      const outputs = lines.map((line) => {
        const run = spawnSync('bash', ['-c', line], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
        expect(run.status, `${line}\n${run.stdout}\n${run.stderr}`).toBe(0);
        return `${run.stdout}${run.stderr}`;
      });
      expect(outputs[0]!.trim()).toMatch(/^sfpg\.[\w-]+$/);
      expect(outputs[1]).toMatch(
        /^revoked\tprincipal arn:aws:iam::123456789012:role\/token-vendor-demo\tactive/,
      );
      // The blast radius: the live token just served, by its one-way id (never the token itself).
      expect(outputs[1]).toMatch(
        /It holds \d+ live token\(s\):\n {2}\S+\tpostgres:REPORTING_SERVER\/reporting_user\ttid_\w+\texpires /,
      );
      expect(outputs[1]).not.toContain(outputs[0]!.trim());
      expect(outputs[2]).toMatch(/\tpostgres:REPORTING_SERVER\/reporting_user\ttid_\w+\texpires /);
      expect(outputs[3]).toMatch(/INC-42: credentials leaked/);
      expect(outputs[5]).toMatch(/REVOKED: This principal's access is revoked: INC-42: credentials leaked/);
      expect(outputs[6]).toMatch(/^lifted\t/);
      expect(outputs[8]!.trim()).toMatch(/^sfpg\.[\w-]+$/);
      expect(outputs[8]!.trim()).not.toBe(outputs[0]!.trim()); // tainted: a fresh token
      // The list's own changes are audit records too, as the deployed stream function writes them. The
      // stack's stdout is read once the event loop runs again (spawnSync held it).
      for (let i = 0; i < 50 && !auditLines.includes('principal.unrevoked'); i++)
        await new Promise((r) => setTimeout(r, 100));
      const changes = auditLines
        .split('\n')
        .filter((l) => l.includes('"trigger":"revocation-list"'))
        .map((l) => JSON.parse(l) as { message: string; detail: { entry: { reason: string; by: string } } });
      expect(changes.map((c) => c.message)).toEqual(
        expect.arrayContaining(['principal.revoked', 'principal.unrevoked']),
      );
      expect(changes[0]!.detail.entry).toMatchObject({
        reason: 'INC-42: credentials leaked',
        by: 'local-operator (the local stack)',
      });
    },
    SPAWNING,
  );

  it(
    'rotate-now against the local stack: the old key is gone from the emulator, its JWT refused, the next JWT signed with the new key',
    async () => {
      const cli = (...args: string[]) => {
        const run = spawnSync('npx', ['token-vendor', ...args], {
          cwd: ROOT,
          env,
          encoding: 'utf8',
          timeout: 60_000,
        });
        expect(run.status, `${args.join(' ')}\n${run.stdout}\n${run.stderr}`).toBe(0);
        return run;
      };
      const apiBaseUrl = (
        JSON.parse(readFileSync(join(local, 'config.json'), 'utf8')) as {
          connections: { demo: { apiBaseUrl: string } };
        }
      ).connections.demo.apiBaseUrl;
      const sql = async (jwt: string) => {
        const res = await fetch(`${apiBaseUrl}/api/v2/statements`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${jwt}`,
            'x-snowflake-authorization-token-type': 'KEYPAIR_JWT',
            'content-type': 'application/json',
            accept: 'application/json',
          },
          body: JSON.stringify({ statement: 'SELECT 1' }),
        });
        return { status: res.status, code: ((await res.json()) as { code?: string }).code };
      };
      const before = cli('get', 'snowflake-jwt', '--connection', 'demo').stdout.trim();
      expect((await sql(before)).status).toBe(200);
      const rotated = cli('rotate-now', '--connection', 'demo');
      expect(rotated.stdout).toMatch(/^rotated\tconnection demo\tnew key version rotate-now-/);
      expect(rotated.stdout).toMatch(/\nremoved\told key SHA256:\S+ from slot [12] of TOKEN_VENDOR_DEMO\n/);
      expect(await sql(before)).toEqual({ status: 401, code: '394304' });
      const after = cli('get', 'snowflake-jwt', '--connection', 'demo').stdout.trim();
      expect(after).not.toBe(before);
      expect((await sql(after)).status).toBe(200);
      expect(cli('revocations', 'list').stdout).toMatch(/^rekey connection demo\tkey replaced/m);
    },
    SPAWNING,
  );

  it("stops on SIGINT sent to npm's own PID, with one line and exit code 130", async () => {
    // Act: npm itself gets the signal (as `kill -INT <pid of npm>` does), not the process group
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    process.kill(child.pid!, 'SIGINT');
    // Assess
    expect(await exited).toBe(130);
    expect(printed).toMatch(/Token Vendor stopped \(SIGINT\)\.\n$/);
  });
});
