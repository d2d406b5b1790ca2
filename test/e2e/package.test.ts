import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresBinDir } from '../../dev/local/postgres';
import { parseConfig } from '../../lambda/config/load';
import { sealConfig } from '../../lambda/config/sealed';
import { askAssetForPostgresToken } from '../support/bundle';
import { type EmulatorFixture, emulatorFixture, fixtureConfig } from '../support/emulator';
import { tempDir } from '../support/keys';

/**
 * The package as adopters get it: `npm pack`, then the tarball installed into fresh projects, with
 * nothing of this repository on their paths. Needs the npm registry (or npm's cache) for the projects'
 * own dependencies, as any `npm install` does.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TEMPLATE = join(ROOT, 'node_modules/aws-cdk/lib/init-templates/app/typescript');
const INSTALL = 240_000;

/** This process's environment without what the outer `npm test` set for its own project (npm_*). */
const OUTSIDE_NPM = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

/** Runs `cmd` in `cwd`; a failure shows its output. */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = OUTSIDE_NPM) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: INSTALL });
  expect(r.status, `${cmd} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

/** The README's example marked `<!-- example: name … -->`: the fenced block right after the marker. */
function readmeExample(name: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`<!-- example: ${name} `);
  expect(at, `README has the ${name} example`).toBeGreaterThan(0);
  return /```\w+\n([\s\S]*?)```/.exec(readme.slice(at))![1]!;
}

const npmInstall = (cwd: string, args: string[]) =>
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...args], cwd);

/** Every package in `dir`'s node_modules (from npm's own record of the tree), by name. */
function installed(dir: string): Map<string, { dev?: boolean; version: string }> {
  const lock = JSON.parse(readFileSync(join(dir, 'node_modules/.package-lock.json'), 'utf8'));
  return new Map(
    Object.entries(lock.packages as Record<string, { dev?: boolean; version: string }>).map(([path, p]) => [
      path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length),
      p,
    ]),
  );
}

describe('the npm package', () => {
  let tarball: string;
  let fx: EmulatorFixture;

  beforeAll(async () => {
    fx = await emulatorFixture();
    const out = tempDir('tv-pack-');
    // dist/ is fresh (the suite's global setup builds it, as `prepack` would); rebuilding it here would
    // pull it from under the tests that run beside this one.
    const r = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', out], ROOT);
    const [{ filename }] = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')));
    tarball = join(out, filename);
  }, INSTALL);
  afterAll(() => fx?.emulator.close());

  it('ships compiled JavaScript, declarations and the prebuilt functions, and no sources, tests or benchmarks', () => {
    const files = run('tar', ['tzf', tarball], ROOT)
      .stdout.split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''));
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => /^(test|bench|dev|\.ci|lambda|infra|client)\//.test(f))).toEqual([]);
    for (const f of [
      'dist/cdk/index.js',
      'dist/cdk/index.cjs',
      'dist/client/index.js',
      'dist/client/index.cjs',
      'dist/types/infra/index.d.ts',
      'dist/types/client/index.d.ts',
      'dist/cli/main.js',
      'cli/bin.mjs',
      'LICENSE',
      ...['http', 'direct', 'rotation-check', 'rotate-key', 'revocation-audit'].map(
        (fn) => `dist/lambda/${fn}/index.mjs`,
      ),
    ])
      expect(files).toContain(f);
  });

  describe('in a fresh `cdk init app --language typescript` project', () => {
    let app: string;
    let synth: ReturnType<typeof spawnSync>;

    beforeAll(() => {
      app = tempDir('tv-adopter-');
      // The template's files, as `cdk init` writes them (jest left out: this project runs no tests).
      const pkg = JSON.parse(readFileSync(join(TEMPLATE, 'package.json'), 'utf8'));
      const dev = Object.entries(pkg.devDependencies as Record<string, string>)
        .filter(([name]) => !/jest|swc/.test(name))
        .map(([name, range]) => `${name}@${name === 'aws-cdk' ? '2.1148.1' : range}`);
      writeFileSync(
        join(app, 'package.json'),
        JSON.stringify({ name: 'tokens', version: '0.1.0', scripts: { build: 'tsc', cdk: 'cdk' } }, null, 2),
      );
      const tsconfig = JSON.parse(readFileSync(join(TEMPLATE, 'tsconfig.json'), 'utf8'));
      tsconfig.compilerOptions.types = ['node'];
      writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
      writeFileSync(
        join(app, 'cdk.json'),
        readFileSync(join(TEMPLATE, 'cdk.template.json'), 'utf8').replace('%name%', 'tokens'),
      );
      mkdirSync(join(app, 'bin'));
      mkdirSync(join(app, 'lib'));
      // The README's construct example is the app; the template's (empty) stack stays beside it.
      writeFileSync(join(app, 'bin/tokens.ts'), readmeExample('construct'));
      writeFileSync(
        join(app, 'lib/tokens-stack.ts'),
        readFileSync(join(TEMPLATE, 'lib/%name%-stack.template.ts'), 'utf8').replaceAll(
          '%name.PascalCased%',
          'Tokens',
        ),
      );
      // A service's TypeScript beside it: the client's types under the template's NodeNext (CommonJS).
      writeFileSync(
        join(app, 'lib/client-types.ts'),
        [
          "import { TokenVendorClient, type PostgresToken, TokenVendorClientError } from 'token-vendor/client';",
          "const vendor = new TokenVendorClient({ endpoint: 'https://example.execute-api.us-east-1.amazonaws.com/prod/' });",
          "export const get = (): Promise<PostgresToken> => vendor.postgres({ instance: 'reporting_server', username: 'u' });",
          'export const isVendorError = (e: unknown): e is TokenVendorClientError => e instanceof TokenVendorClientError;',
          'export const when = async (): Promise<Date> => (await get()).expiresAt; // a Date, not a string',
          '',
        ].join('\n'),
      );
      cpSync(join(ROOT, 'config/example.json'), join(app, 'token-vendor.json'));
      npmInstall(app, [
        tarball,
        `aws-cdk-lib@${pkg.dependencies['aws-cdk-lib'].replace('%cdk-version%', '2.276.0')}`,
        'constructs@^10',
        'cdk-nag@^3',
        '@cdklabs/cdk-validator-cfnguard@^0.0.62',
      ]);
      npmInstall(app, ['--save-dev', ...dev]);
      run('npm', ['run', 'build'], app);
      synth = spawnSync('npx', ['cdk', 'synth', '--no-notices', '-q'], {
        cwd: app,
        encoding: 'utf8',
        timeout: INSTALL,
        // No Docker: a fallback to it would fail the synth.
        env: {
          ...OUTSIDE_NPM,
          CDK_DOCKER: '/bin/false',
          CDK_DISABLE_CLI_TELEMETRY: 'true',
          CDK_DISABLE_VERSION_CHECK: '1',
        },
      });
    }, 4 * INSTALL);

    it('compiles with the template’s TypeScript (tsc, NodeNext, CommonJS), construct and client types included', () => {
      const tsc = JSON.parse(readFileSync(join(app, 'node_modules/typescript/package.json'), 'utf8'));
      expect(Number(tsc.version.split('.')[0])).toBeGreaterThanOrEqual(7);
      // A type error is caught: the same project with a wrong prop fails to compile.
      writeFileSync(
        join(app, 'lib/wrong.ts'),
        "import { TokenVendor } from 'token-vendor/cdk';\nexport const p: ConstructorParameters<typeof TokenVendor>[2] = { config: {}, alarmEmails: 'x' };\n",
      );
      const wrong = spawnSync('npx', ['tsc'], { cwd: app, encoding: 'utf8', env: OUTSIDE_NPM });
      expect(wrong.status).not.toBe(0);
      // The config's own types reach the adopter (zod's, vendored): a missing field and a wrong type.
      expect(wrong.stdout).toMatch(/lib\/wrong\.ts.*'connections' is missing/s);
      expect(wrong.stdout).toMatch(/lib\/wrong\.ts.*not assignable to type 'readonly string\[\]'/s);
      writeFileSync(join(app, 'lib/wrong.ts'), 'export {};\n');
    });

    it('loads token-vendor/cdk from CommonJS (its .cjs build) and from an ES module (its .js build)', () => {
      const cjs = run(
        process.execPath,
        [
          '-e',
          "const m = require('token-vendor/cdk'); console.log(require.resolve('token-vendor/cdk'), typeof m.TokenVendor, typeof m.applyRuleSets)",
        ],
        app,
      );
      expect(cjs.stdout.trim()).toMatch(/dist\/cdk\/index\.cjs function function$/);
      const esm = run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          "const m = await import('token-vendor/cdk'); console.log(import.meta.resolve('token-vendor/cdk'), typeof m.TokenVendor)",
        ],
        app,
      );
      expect(esm.stdout.trim()).toMatch(/dist\/cdk\/index\.js function$/);
    });

    it('synthesizes with every rule set, the prebuilt bundles as the functions’ code (no esbuild, no Docker)', () => {
      expect(synth.status, `${synth.stdout}\n${synth.stderr}`).toBe(0);
      const out = join(app, 'cdk.out');
      const template = JSON.parse(readFileSync(join(out, 'Tokens.template.json'), 'utf8'));
      expect(Object.keys(template.Outputs)).toEqual(
        expect.arrayContaining(['ApiUrl', 'DirectFunctionArn', 'EnvelopeKeyArn']),
      );
      const functions = Object.values(template.Resources as Record<string, any>).filter(
        (r) => r.Type === 'AWS::Lambda::Function' && /^Token Vendor: /.test(r.Properties.Description),
      );
      expect(functions).toHaveLength(5);
      const dist = join(app, 'node_modules/token-vendor/dist/lambda');
      for (const f of functions) {
        const asset = join(out, f.Metadata['aws:asset:path']);
        expect(readdirSync(asset).sort()).toEqual(['config.json', 'index.mjs', 'index.mjs.map']);
        const name = f.Properties.Description.replace('Token Vendor: ', '');
        expect(readFileSync(join(asset, 'index.mjs'))).toEqual(readFileSync(join(dist, name, 'index.mjs')));
        expect(f.Properties.Handler).toBe('index.handler');
      }
    });

    it('deploys an http bundle that serves a Postgres token (run here, with a config for the emulator)', async () => {
      const template = JSON.parse(readFileSync(join(app, 'cdk.out/Tokens.template.json'), 'utf8'));
      const http = Object.values(template.Resources as Record<string, any>).find(
        (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Description === 'Token Vendor: http',
      );
      const asset = join(app, 'cdk.out', http.Metadata['aws:asset:path']);
      // The shipped config is the example's (its Snowflake is not here); the same bundle serves the
      // emulator given a config for it, sealed as the construct seals one.
      expect(JSON.parse(readFileSync(join(asset, 'config.json'), 'utf8')).config.connections).toHaveProperty(
        'analytics',
      );
      const config = join(tempDir('tv-adopter-config-'), 'config.json');
      writeFileSync(config, sealConfig(parseConfig(fixtureConfig(fx))));
      const response = await askAssetForPostgresToken(asset, config);
      expect(response.statusCode, response.body).toBe(200);
      expect(fx.emulator.validatePostgresToken(JSON.parse(response.body).token)).toBeDefined();
    });
  });

  describe('in a fresh service that installs it for the client', () => {
    let dir: string;
    let stack: ChildProcess | undefined;
    let env: NodeJS.ProcessEnv;
    let printed = '';

    beforeAll(async () => {
      dir = tempDir('tv-service-');
      writeFileSync(
        join(dir, 'package.json'),
        JSON.stringify({ name: 'service', version: '1.0.0', private: true }),
      );
      npmInstall(dir, [tarball, 'pg@^8']);
      // The installed bin runs the local stack (what `npm start` runs), from its build: no tsx here.
      const local = join(dir, '.local');
      stack = spawn(
        join(dir, 'node_modules/.bin/token-vendor'),
        ['serve', '--port', '0', '--exit-after', '180'],
        {
          cwd: dir,
          env: { ...OUTSIDE_NPM, TOKEN_VENDOR_LOCAL_DIR: local },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the stack did not come up:\n${printed}`)), 60_000);
        stack!.stderr!.on('data', (chunk: Buffer) => {
          printed += chunk.toString();
          if (printed.includes('Ctrl-C stops.')) {
            clearTimeout(timer);
            resolve();
          }
        });
        stack!.once('exit', (code) => reject(new Error(`the stack exited with ${code}:\n${printed}`)));
      });
      const { endpoint } = JSON.parse(readFileSync(join(local, 'stack.json'), 'utf8'));
      const creds = JSON.parse(readFileSync(join(local, 'demo-credentials.json'), 'utf8'));
      env = {
        PATH: process.env.PATH,
        HOME: dir,
        TOKEN_VENDOR_ENDPOINT: endpoint,
        AWS_ACCESS_KEY_ID: creds.accessKeyId,
        AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
        AWS_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
      };
    }, 2 * INSTALL);
    afterAll(async () => {
      if (!stack || stack.exitCode !== null) return;
      const exited = new Promise((resolve) => stack!.once('exit', resolve));
      stack.kill('SIGTERM');
      await exited;
    });

    it('has production dependencies of the client and the CLI only: no CDK, middy, Powertools, zod or tsx', () => {
      const tree = installed(dir);
      const forbidden = [...tree.keys()].filter(
        (name) =>
          /^(aws-cdk-lib|aws-cdk|constructs|cdk-nag|zod|tsx|esbuild|typescript|jose)$/.test(name) ||
          /^@(middy|aws-lambda-powertools|cdklabs)\//.test(name),
      );
      expect(forbidden).toEqual([]);
      const manifest = JSON.parse(readFileSync(join(dir, 'node_modules/token-vendor/package.json'), 'utf8'));
      const direct = Object.keys(manifest.dependencies).sort();
      expect(direct.every((d) => /^@(aws-sdk|smithy)\//.test(d))).toBe(true);
      // The list, for the record: what a service gets with the client.
      process.stdout.write(
        `token-vendor's production dependencies: ${direct.join(', ')} (${tree.size} packages in all, with pg)\n`,
      );
      expect(tree.get('token-vendor')?.dev).toBeFalsy();
    });

    it('a CommonJS script gets a Postgres token from the local stack through token-vendor/client', () => {
      writeFileSync(
        join(dir, 'token.cjs'),
        [
          "const { TokenVendorClient } = require('token-vendor/client');",
          'const vendor = new TokenVendorClient({ endpoint: process.env.TOKEN_VENDOR_ENDPOINT });',
          "vendor.postgres({ instance: 'reporting_server', username: 'reporting_user' }).then((t) => {",
          '  console.log(JSON.stringify({ type: t.tokenType, host: t.connection.host, expiresAt: t.expiresAt.toISOString(), length: t.token.length }));',
          '});',
        ].join('\n'),
      );
      const r = run(process.execPath, ['token.cjs'], dir, env);
      const answer = JSON.parse(r.stdout);
      expect(answer).toMatchObject({ type: 'snowflake-postgres', host: '127.0.0.1' });
      expect(Date.parse(answer.expiresAt)).toBeGreaterThan(Date.now());
      expect(answer.length).toBeGreaterThan(20);
    });

    it.skipIf(!postgresBinDir() && !process.env.CI)(
      'the README’s client example, a plain-Node ES module, signs in to PostgreSQL with vended tokens',
      () => {
        expect(printed).toContain('PostgreSQL');
        writeFileSync(join(dir, 'example.mjs'), readmeExample('client'));
        const r = run(process.execPath, ['example.mjs'], dir, env);
        expect(r.stdout).toMatch(/^reporting_user until \d{4}-\d\d-\d\dT/);
      },
    );
  });
});
