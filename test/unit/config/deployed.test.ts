import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readConfigText } from '../../../lambda/config/deployed';
import { ConfigError, parseConfig } from '../../../lambda/config/load';
import { sealConfig, VALIDATED_CONFIG_FORMAT } from '../../../lambda/config/sealed';
import { configFromEnvironment } from '../../../lambda/runtime';
import { ROLE_SESSION, restEvent } from '../../support/events';
import { tempDir } from '../../support/keys';

const example = () => JSON.parse(readFileSync('config/example.json', 'utf8'));

/** The example with the features that add parsed structure: keyless WIF, a shared cache, direct grants. */
function richer() {
  const config = example();
  config.connections.keyless = {
    account: 'myorg-other',
    user: 'svc_keyless',
    workloadIdentity: { provider: 'AWS' },
  };
  config.cache = { shared: { dynamodb: { tableName: 'token-cache' } } };
  config.tokens = { postgres: { minRemainingSeconds: 120 } };
  return config;
}

async function rejection(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('the config a deployed function reads (sealed at synth)', () => {
  it.each([
    ['the example', example],
    ['a richer config', richer],
  ])(
    '%s: unsealed exactly as parseConfig returned it, and validating it again changes nothing',
    async (_, make) => {
      const parsed = parseConfig(make());
      const sealed = sealConfig(parsed);
      expect(JSON.parse(sealed)).toMatchObject({ tokenVendorValidatedConfig: VALIDATED_CONFIG_FORMAT });
      expect(await readConfigText(sealed, 'config.json')).toStrictEqual(parsed);
      // A reader that validates (the CLI, the local stack) accepts the sealed file and gets the same config.
      expect(parseConfig(JSON.parse(sealed))).toStrictEqual(parsed);
    },
  );

  it('refuses a sealed config edited after synth, naming what to do', async () => {
    const doc = JSON.parse(sealConfig(parseConfig(example())));
    doc.config.grants[0].postgres[0].usernames.push('admin');
    const error = await rejection(readConfigText(JSON.stringify(doc), 'config.json'));
    expect(error.message).toMatch(/config\.json: the validated config was changed after cdk synth/);
    // The validating readers refuse it too, rather than quietly validating the edit.
    expect(() => parseConfig(doc)).toThrow(/changed after cdk synth/);
  });

  it.each<[string, (doc: Record<string, unknown>) => void, RegExp]>([
    ['another format', (d) => (d.tokenVendorValidatedConfig = 2), /format 2, not 1.*another version/],
    ['a format that is not a number', (d) => (d.tokenVendorValidatedConfig = '1'), /format "1", not 1/],
    ['no digest', (d) => delete d.sha256, /changed after cdk synth/],
    [
      'a digest of another case',
      (d) => (d.sha256 = String(d.sha256).toUpperCase()),
      /changed after cdk synth/,
    ],
    ['an extra field', (d) => (d.trusted = true), /changed after cdk synth/],
    ['a config that is an array', (d) => (d.config = []), /changed after cdk synth/],
    ['a null config', (d) => (d.config = null), /changed after cdk synth/],
  ])('refuses a sealed document with %s', async (_, edit, message) => {
    const doc = JSON.parse(sealConfig(parseConfig(example())));
    edit(doc);
    expect((await rejection(readConfigText(JSON.stringify(doc), 'config.json'))).message).toMatch(message);
  });

  it('validates a plain config in full (local use), with every bad field named', async () => {
    const config = example();
    config.connections.analytics.account = 'xy12345.aws';
    const error = await rejection(readConfigText(JSON.stringify(config), 'TOKEN_VENDOR_CONFIG'));
    expect(error.message).toMatch(/TOKEN_VENDOR_CONFIG:\n.*connections\.analytics\.account/);
    expect(await readConfigText(JSON.stringify(example()), 'x')).toEqual(parseConfig(example()));
  });

  it('reports malformed JSON and an unreadable file as config errors', async () => {
    expect((await rejection(readConfigText('{"connections": ', 'config.json'))).message).toMatch(
      /config\.json: not valid JSON/,
    );
    const missing = await rejection(
      configFromEnvironment({ TOKEN_VENDOR_CONFIG_FILE: '/nonexistent/config.json' }),
    );
    expect(missing.message).toBe('Cannot read the config file /nonexistent/config.json.');
    expect((await rejection(configFromEnvironment({}))).message).toMatch(/No config/);
  });

  it('reads the sealed file the stack ships (TOKEN_VENDOR_CONFIG_FILE)', async () => {
    const dir = tempDir();
    const file = join(dir, 'config.json');
    const parsed = parseConfig(richer());
    writeFileSync(file, sealConfig(parsed));
    expect(await configFromEnvironment({ TOKEN_VENDOR_CONFIG_FILE: file })).toStrictEqual(parsed);
  });

  it("the http function's bundle builds a request's schema on its first request: never the config schema, never the answers'", async () => {
    // The bundle the construct deploys (dist/lambda/, built from these sources by the suite's global
    // setup), imported in a fresh process that counts every zod schema constructed
    // (zod calls its global post-processor once per schema), with a sealed config to read.
    const dir = tempDir();
    cpSync(fileURLToPath(new URL('../../../dist/lambda/http', import.meta.url)), dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), sealConfig(parseConfig(example())));
    // A Postgres request with a bad body: refused after its schema, and only its schema, is built.
    const event = restEvent('/v1/tokens/postgres', { instance: 'reporting_server' }, ROLE_SESSION);
    const count = (configFile: string) => {
      const run = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `let n = 0; globalThis.__zod_globalConfig = { postProcessor: () => { n += 1; } };
           const { handler } = await import(${JSON.stringify(join(dir, 'index.mjs'))});
           const atImport = n;
           const context = { awsRequestId: 'r', functionName: 'f', getRemainingTimeInMillis: () => 25000 };
           const answer = await handler(${JSON.stringify(event)}, context);
           const afterFirst = n;
           await handler(${JSON.stringify(event)}, context);
           console.log(JSON.stringify({ atImport, afterFirst, afterSecond: n, status: answer.statusCode }));`,
        ],
        {
          encoding: 'utf8',
          env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', TOKEN_VENDOR_CONFIG_FILE: configFile },
        },
      );
      expect(run.status, run.stderr).toBe(0);
      return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
        atImport: number;
        afterFirst: number;
        afterSecond: number;
        status: number;
      };
    };
    const sealed = count(join(dir, 'config.json'));
    expect(sealed.status).toBe(400);
    // At import: the names the request bodies share (no body, no config: the config schema alone is ≈ 350)
    expect(sealed.atImport).toBeGreaterThan(3);
    expect(sealed.atImport).toBeLessThan(30);
    // zod's hook also counts each refusal's ZodError: the second request adds that one and builds nothing.
    expect(sealed.afterSecond - sealed.afterFirst).toBe(1);
    // The first Postgres request builds the Postgres body (its object and optional field) and none of
    // the other three bodies (≈ 3 each).
    const built = sealed.afterFirst - sealed.atImport - 1;
    expect(built).toBeGreaterThan(0);
    expect(built).toBeLessThanOrEqual(3);
    // A plain config file is validated in full: the schema is built then, and only then.
    writeFileSync(join(dir, 'plain.json'), JSON.stringify(example()));
    expect(count(join(dir, 'plain.json')).atImport).toBeGreaterThan(sealed.atImport + 200);
  });
});
