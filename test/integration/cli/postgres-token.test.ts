import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli';
import { type EmulatorFixture, emulatorFixture } from '../../support/emulator';
import { encryptedPkcs8, rsaKeyPair, writeTempFile } from '../../support/keys';

describe('token-vendor postgres-token', () => {
  let fx: EmulatorFixture;
  let keyFile: string;
  beforeAll(async () => {
    fx = await emulatorFixture();
    keyFile = writeTempFile('k.p8', encryptedPkcs8(fx.key.privateKey, 'pw-for-cli'));
  });
  afterAll(() => fx.emulator.close());

  const args = (extra: string[] = []) => [
    'postgres-token',
    '--account',
    'myorg-acct',
    '--user',
    'svc',
    '--private-key-file',
    keyFile,
    '--passphrase-env',
    'KEY_PW',
    '--instance',
    'reporting_server',
    '--pg-user',
    'reporting_user',
    '--role',
    'TOKEN_VENDOR',
    '--api-url',
    fx.emulator.url,
    ...extra,
  ];

  it('prints a token from the emulator, alone on stdout', async () => {
    const result = await runCli(args(), { env: { KEY_PW: 'pw-for-cli' } });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const token = result.stdout.trim();
    expect(fx.emulator.validatePostgresToken(token)).toMatchObject({
      username: 'reporting_user',
      instance: 'REPORTING_SERVER',
    });
  });

  it('prints JSON with TTL fields with --json', async () => {
    const result = await runCli(args(['--json']), { env: { KEY_PW: 'pw-for-cli' } });
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({
      tokenType: 'snowflake-postgres',
      instance: 'reporting_server',
      username: 'reporting_user',
      expiresIn: expect.any(Number),
    });
    expect(new Date(json.expiresAt).getTime() - new Date(json.issuedAt).getTime()).toBe(900_000);
    expect(fx.emulator.validatePostgresToken(json.token)).toBeDefined();
  });

  it('exits 3 when Snowflake rejects the key, naming its fingerprint', async () => {
    const stranger = writeTempFile('s.p8', rsaKeyPair().pkcs8Pem);
    const a = args();
    a[a.indexOf('--private-key-file') + 1] = stranger;
    const result = await runCli(a.filter((x) => x !== '--passphrase-env' && x !== 'KEY_PW'));
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^token-vendor: SNOWFLAKE_AUTH_FAILED: .*SHA256:/);
  });

  it('exits 3 when Snowflake rejects the statement (no USAGE)', async () => {
    const a = args();
    a[a.indexOf('--role') + 1] = 'NO_USAGE';
    const result = await runCli(a, { env: { KEY_PW: 'pw-for-cli' } });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/SNOWFLAKE_REJECTED.*002003/);
  });

  it('exits 2 for a control character in the Postgres user, sending nothing', async () => {
    fx.emulator.clearRecords();
    const a = args();
    a[a.indexOf('--pg-user') + 1] = 'bad\u0007user';
    const result = await runCli(a, { env: { KEY_PW: 'pw-for-cli' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/POSTGRES_NAME_INVALID/);
    expect(fx.emulator.requests).toHaveLength(0);
  });

  it('exits 4 when Snowflake is unreachable', async () => {
    const a = args();
    a[a.indexOf('--api-url') + 1] = 'http://127.0.0.1:1';
    const result = await runCli(a, { env: { KEY_PW: 'pw-for-cli' } });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/SNOWFLAKE_UNAVAILABLE/);
  }, 90_000);
});
