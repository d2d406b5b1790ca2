import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { tokenId } from '../../../lambda/audit/token-id';
import { runCli } from '../../support/cli';
import { encryptedPkcs8, rsaKeyPair, writeTempFile } from '../../support/keys';
import { verifyRs256 } from '../../support/verify-jwt';

describe('token-vendor CLI', () => {
  const pair = rsaKeyPair();
  const keyFile = writeTempFile('k.p8', pair.pkcs8Pem);
  const encryptedFile = writeTempFile('enc.p8', encryptedPkcs8(pair.privateKey, 'open-sesame-42'));
  const opensslFingerprint = () => {
    const der = execFileSync('openssl', ['pkey', '-in', keyFile, '-pubout', '-outform', 'DER']);
    return `SHA256:${execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der }).toString('base64')}`;
  };

  it('npx token-vendor jwt prints only a JWT that verifies, with iss XY12345.JDOE.SHA256:…', async () => {
    // Act
    const result = await runCli(
      ['jwt', '--account', 'xy12345.us-east-2.aws', '--user', 'jdoe', '--private-key-file', keyFile],
      { viaNpx: true },
    );
    // Assess
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout.endsWith('\n')).toBe(true);
    const token = result.stdout.trim();
    expect(token.split('\n')).toHaveLength(1);
    const { payload } = verifyRs256(token, pair.publicKey);
    expect(payload.iss).toBe(`XY12345.JDOE.${opensslFingerprint()}`);
    expect(payload.sub).toBe('XY12345.JDOE');
    expect((payload.exp as number) - (payload.iat as number)).toBe(3540);
  });

  it('jwt reads an encrypted key with --passphrase-env and never prints the passphrase', async () => {
    const result = await runCli(
      [
        'jwt',
        '--account',
        'myorg-acct',
        '--user',
        'svc',
        '--private-key-file',
        encryptedFile,
        '--passphrase-env',
        'KEY_PW',
        '--lifetime',
        '120',
        '--json',
      ],
      { env: { KEY_PW: 'open-sesame-42' } },
    );
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(Object.keys(json).sort()).toEqual(
      [
        'account',
        'expiresAt',
        'expiresIn',
        'issuedAt',
        'publicKeyFingerprint',
        'refreshAt',
        'token',
        'tokenType',
        'user',
      ].sort(),
    );
    expect(json).toMatchObject({
      tokenType: 'KEYPAIR_JWT',
      account: 'MYORG-ACCT',
      user: 'SVC',
      expiresIn: expect.any(Number),
    });
    expect(json.expiresIn).toBeLessThanOrEqual(120);
    expect(new Date(json.expiresAt).getTime() - new Date(json.issuedAt).getTime()).toBe(120_000);
    verifyRs256(json.token, pair.publicKey);
    expect(result.stdout + result.stderr).not.toContain('open-sesame-42');
  });

  it('fingerprint prints what openssl computes', async () => {
    const result = await runCli(['fingerprint', '--private-key-file', keyFile]);
    expect(result).toEqual({ code: 0, stdout: `${opensslFingerprint()}\n`, stderr: '' });
  });

  it('token-id reads the token from an argument or from stdin', async () => {
    const byArg = await runCli(['token-id', 'abc.def.ghi']);
    const byStdin = await runCli(['token-id', '-'], { input: 'abc.def.ghi\n' });
    expect(byArg).toEqual({ code: 0, stdout: `${tokenId('abc.def.ghi')}\n`, stderr: '' });
    expect(byStdin.stdout).toBe(byArg.stdout);
  });

  it.each<[string, number, RegExp, string[], Record<string, string>]>([
    [
      'lifetime over an hour',
      2,
      /USAGE: jwt: --lifetime must be 60–3600 seconds, not 7200/,
      ['jwt', '--account', 'xy12345', '--user', 'u', '--private-key-file', keyFile, '--lifetime', '7200'],
      {},
    ],
    [
      'wrong passphrase',
      2,
      /KEY_WRONG_PASSPHRASE/,
      [
        'jwt',
        '--account',
        'xy12345',
        '--user',
        'u',
        '--private-key-file',
        encryptedFile,
        '--passphrase-env',
        'PW',
      ],
      { PW: 'nope-nope' },
    ],
    [
      'unset passphrase variable',
      2,
      /UNSET_VAR_X, which is not set/,
      ['fingerprint', '--private-key-file', encryptedFile, '--passphrase-env', 'UNSET_VAR_X'],
      {},
    ],
    ['missing flag', 2, /--account is required/, ['jwt', '--user', 'u', '--private-key-file', keyFile], {}],
    ['unknown flag', 2, /Unknown option '--acount'/, ['jwt', '--acount', 'x'], {}],
    [
      'bad account',
      2,
      /ACCOUNT_IDENTIFIER_INVALID.*Accepted forms/,
      ['jwt', '--account', 'xy12345.aws', '--user', 'u', '--private-key-file', keyFile],
      {},
    ],
    [
      'missing key file',
      2,
      /KEY_FILE_NOT_FOUND/,
      ['fingerprint', '--private-key-file', '/nonexistent/k.p8'],
      {},
    ],
    ['unknown command', 2, /unknown command "mint"/, ['mint'], {}],
    ['no command', 2, /no command given/, [], {}],
  ])('%s: exit %i, one line on stderr, nothing on stdout', async (_name, code, message, args, env) => {
    const result = await runCli(args, { env });
    expect(result.code).toBe(code);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('--help lists every command on stdout', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    for (const command of ['fingerprint', 'jwt', 'token-id'])
      expect(result.stdout).toContain(`token-vendor ${command}`);
  });
});
