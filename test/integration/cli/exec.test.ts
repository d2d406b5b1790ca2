import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../../dev/local/local-stack';
import { postgresBinDir } from '../../../dev/local/postgres';
import { tempDir } from '../../support/keys';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(ROOT, 'cli/bin.mjs');
const bin = postgresBinDir();

/** A command's exit status and output, without blocking this process. */
function run(command: string, args: string[], env: Record<string, string>) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
if (!bin && process.env.CI)
  throw new Error(
    'PostgreSQL is not installed, and CI must run the local database suite (.ci/run installs it).',
  );

/**
 * Tokens for any tool, against the local stack with its throwaway PostgreSQL: `exec` puts a token in a
 * command's environment (never its arguments), `get --format` prints it for a shell or a URI, and the
 * database takes every live token of a user, as Snowflake Postgres does, and refuses an expired one.
 */
describe.skipIf(!bin)('token-vendor exec and get --format, against the local database', () => {
  let stack: LocalStack;
  let clock = Date.now();
  const home = tempDir('tv-exec-');
  // Spawned, never spawnSync: the stack answers from this process, which must keep running meanwhile.
  const cli = (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, [BIN, ...args], {
      PATH: process.env.PATH ?? '',
      HOME: home,
      TOKEN_VENDOR_LOCAL_DIR: join(home, '.local'),
      ...env,
    });
  const vendor = () => ['--endpoint', stack.gateway.url, '--credentials', stack.credentialsFile];
  /** `exec --postgres reporting_server/reporting_user -- …command`, its arguments. */
  const execPg = (...command: string[]) => [
    'exec',
    ...vendor(),
    '--postgres',
    'reporting_server/reporting_user',
    '--',
    ...command,
  ];
  const psql = (env: Record<string, string>, extra: string[] = []) =>
    run('psql', ['-tA', '-c', 'select current_user', ...extra], {
      PATH: process.env.PATH ?? '',
      HOME: home,
      ...env,
    });
  /** `get postgres` for reporting_user in `format`, through `connection` if given. */
  const getPostgres = (format: 'env' | 'uri', connection?: string) =>
    cli([
      'get',
      'postgres',
      ...vendor(),
      ...(connection ? ['--connection', connection] : []),
      '--instance',
      'reporting_server',
      '--username',
      'reporting_user',
      '--format',
      format,
    ]);
  const envOf = (text: string) =>
    Object.fromEntries(
      [...text.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!] as [string, string]),
    );

  beforeAll(async () => {
    stack = await startLocalStack({
      dir: join(home, 'stack'),
      port: 0,
      database: 'auto',
      now: () => clock,
      auditSink: { info: () => {} },
    });
    expect(stack.database).toMatchObject({ host: '127.0.0.1', sslmode: 'require' });
  }, 120_000);
  afterAll(() => stack?.close());

  it('exec runs psql as the Postgres user; CMD’s exit code is exec’s', async () => {
    const run = await cli(execPg('psql', '-tA', '-c', 'select current_user'));
    expect(run.stderr).toBe('');
    expect(run).toMatchObject({ status: 0, stdout: 'reporting_user\n' });
    const seven = await cli(execPg('sh', '-c', 'exit 7'));
    expect(seven.status).toBe(7);
  });

  it('the token is in CMD’s environment and in no process’s argument list', async () => {
    // The child scans every process's command line for the password it was given
    const scan = `
      const fs = require('node:fs');
      const token = process.env.PGPASSWORD;
      if (!token || token.length < 20) process.exit(3);
      const found = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).some((p) => {
        try { return fs.readFileSync('/proc/' + p + '/cmdline', 'utf8').includes(token); } catch { return false; }
      });
      process.exit(found ? 1 : 0);`;
    const run = await cli(execPg(process.execPath, '-e', scan));
    expect(run.status, run.stderr).toBe(0);
  });

  it('signals go to CMD: SIGTERM to exec ends CMD, and CMD’s exit code comes back', async () => {
    const child = spawn(
      process.execPath,
      [
        BIN,
        ...execPg(
          process.execPath,
          '-e',
          "process.on('SIGTERM', () => process.exit(42)); console.log('ready'); setInterval(() => {}, 1000);",
        ),
      ],
      { cwd: home, env: { PATH: process.env.PATH ?? '', HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('CMD never started')), 20_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(42);
  }, 30_000);

  it('get --format env and uri connect as written; every live token of a user logs in, as Snowflake takes them', async () => {
    const env = await getPostgres('env');
    expect(env.status, env.stderr).toBe(0);
    const vars = envOf(env.stdout);
    expect(Object.keys(vars).sort()).toEqual([
      'PGDATABASE',
      'PGHOST',
      'PGPASSWORD',
      'PGPORT',
      'PGSSLMODE',
      'PGUSER',
    ]);
    expect((await psql(vars)).stdout).toBe('reporting_user\n');
    // A second token for the same user, through the other connection: both log in
    const keyless = await getPostgres('env', 'demo-keyless');
    const other = envOf(keyless.stdout);
    expect(other.PGPASSWORD).not.toBe(vars.PGPASSWORD);
    expect((await psql(other)).stdout).toBe('reporting_user\n');
    expect((await psql(vars)).stdout).toBe('reporting_user\n');
    const uri = await getPostgres('uri');
    expect(uri.stdout).toMatch(
      /^postgresql:\/\/reporting_user:[^@]+@127\.0\.0\.1:\d+\/postgres\?sslmode=require\n$/,
    );
    const viaUri = await run('psql', [uri.stdout.trim(), '-tA', '-c', 'select 1'], {
      PATH: process.env.PATH ?? '',
      HOME: home,
    });
    expect(viaUri.stdout).toBe('1\n');
    // Someone else's password, or none: refused
    expect((await psql({ ...vars, PGPASSWORD: `${vars.PGPASSWORD}x` })).status).not.toBe(0);
  });

  it('a token past its expiresAt is refused by the database', async () => {
    const env = envOf((await getPostgres('env')).stdout);
    expect((await psql(env)).stdout).toBe('reporting_user\n');
    clock += 901_000; // the token lives 900 s
    const refused = await psql(env);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/authentication failed/);
    clock = Date.now();
  });

  it.each<[string, string[]]>([
    ['no command', ['--postgres', 'reporting_server/reporting_user']],
    ['nothing after --', ['--postgres', 'reporting_server/reporting_user', '--']],
    ['no token named', ['--', 'true']],
    [
      'both tokens named',
      ['--postgres', 'reporting_server/reporting_user', '--snowflake-jwt', 'demo', '--', 'true'],
    ],
    ['INSTANCE/USER malformed', ['--postgres', 'reporting_server', '--', 'true']],
    ['an argument before --', ['--postgres', 'reporting_server/reporting_user', 'stray', '--', 'true']],
    [
      'a command that is not on the PATH',
      ['--postgres', 'reporting_server/reporting_user', '--', 'no-such-command-tv'],
    ],
  ])('exec with %s is a usage error (exit 2), one line', async (_name, args) => {
    const run = await cli(['exec', ...vendor(), ...args]);
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^token-vendor: USAGE: exec: /);
  });

  it('exec --snowflake-jwt sets the JWT and who it is for', async () => {
    const run = await cli([
      'exec',
      ...vendor(),
      '--snowflake-jwt',
      'demo',
      '--',
      process.execPath,
      '-e',
      'const e = process.env; console.log(JSON.stringify([e.SNOWFLAKE_ACCOUNT, e.SNOWFLAKE_USER, e.SNOWFLAKE_JWT.split(".").length]))',
    ]);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(['DEMOORG-DEMOACCOUNT', 'TOKEN_VENDOR_DEMO', 3]);
  });
});
