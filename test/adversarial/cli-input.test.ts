import { chmodSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli';

const cli = (argv: string[], env: Record<string, string | undefined> = {}) => runCli(argv, { env });

import { rsaKeyPair, writeTempFile } from '../support/keys';

/** Bad CLI input is a one-line usage error (exit 2), never a raw JavaScript error, a spin or a leak. */
describe('adversarial: CLI input', () => {
  const key = rsaKeyPair().pkcs8Pem;
  const oneUsageLine = (result: { code: number | null; stderr: string; stdout: string }) => {
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^token-vendor: /);
  };

  it.each([
    ['http to another host', 'http://10.1.2.3:8080'],
    ['http to a name', 'http://snowflake.internal'],
    ['credentials in the URL', 'https://user:pw@example.snowflakecomputing.com'],
    ['not a URL', 'example.com'],
  ])('postgres-token --api-url refuses %s before sending a JWT', async (_name, url) => {
    const file = writeTempFile('k.p8', key);
    const result = await cli([
      'postgres-token',
      '--account',
      'xy12345',
      '--user',
      'u',
      '--private-key-file',
      file,
      '--instance',
      'i',
      '--pg-user',
      'p',
      '--api-url',
      url,
    ]);
    oneUsageLine(result);
    expect(result.stderr).toContain('--api-url');
  });

  it('get refuses a plain-http endpoint on another host, from the flag or the environment', async () => {
    const flag = await cli([
      'get',
      'postgres',
      '--endpoint',
      'http://192.0.2.1:8787',
      '--instance',
      'i',
      '--username',
      'u',
    ]);
    const env = await cli(['get', 'postgres', '--instance', 'i', '--username', 'u'], {
      TOKEN_VENDOR_ENDPOINT: 'http://192.0.2.1',
    });
    oneUsageLine(flag);
    oneUsageLine(env);
    expect(env.stderr).toContain('TOKEN_VENDOR_ENDPOINT');
  });

  it('refuses a private key file readable by others, saying the chmod to run', async () => {
    const file = writeTempFile('open.p8', key);
    chmodSync(file, 0o644);
    const result = await cli(['fingerprint', '--private-key-file', file]);
    oneUsageLine(result);
    expect(result.stderr).toContain('KEY_FILE_UNPROTECTED');
    expect(result.stderr).toContain(`chmod 600 ${file}`);
    chmodSync(file, 0o600);
    expect((await cli(['fingerprint', '--private-key-file', file])).code).toBe(0);
  });

  it.each([
    ['an empty list', '[]'],
    ['null', 'null'],
    ['not JSON', '{accessKeyId:'],
    ['a number', '42'],
    [
      'a list with a bad entry',
      '[{"accessKeyId":"A","secretAccessKey":"S","principalArn":"arn:aws:iam::123456789012:user/u"}, 7]',
    ],
    ['missing principalArn', '{"accessKeyId":"A","secretAccessKey":"S"}'],
  ])('serve --credentials with %s is a usage error', async (_name, content) => {
    const config = writeTempFile('config.json', '{}');
    const credentials = writeTempFile('credentials.json', content);
    const result = await cli(['serve', '--config', config, '--credentials', credentials, '--port', '0']);
    oneUsageLine(result);
    expect(result.stderr).not.toContain('"S"');
  });

  it('serve refuses a missing or too-open credentials file, and --credentials without --config', async () => {
    const config = writeTempFile('config.json', '{}');
    const open = writeTempFile(
      'credentials.json',
      '{"accessKeyId":"A","secretAccessKey":"S","principalArn":"arn:aws:iam::123456789012:user/u"}',
    );
    chmodSync(open, 0o640);
    oneUsageLine(await cli(['serve', '--config', config, '--credentials', '/nonexistent/credentials.json']));
    const tooOpen = await cli(['serve', '--config', config, '--credentials', open]);
    oneUsageLine(tooOpen);
    expect(tooOpen.stderr).toContain('chmod 600');
    oneUsageLine(await cli(['serve', '--credentials', open]));
  });

  it.each([
    ['--port', '99999'],
    ['--port', '-1'],
    ['--port', '1e3'],
    ['--region', 'not a region'],
    ['--exit-after', 'soon'],
  ])('serve %s %s is a usage error', async (flag, value) => {
    oneUsageLine(await cli(['serve', flag, value]));
  });

  it('serve --dir under /proc fails at once instead of spinning', async () => {
    const started = Date.now();
    const result = await cli(['serve', '--dir', '/proc/token-vendor-x', '--port', '0']);
    oneUsageLine(result);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('adversarial: the serve banner', () => {
  it('never prints a secret access key, from the demo or from a credentials file', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tempDir } = await import('../support/keys');
    const { serveUntilBanner } = await import('../support/cli');
    const dir = tempDir('tv-banner-');
    let stderr = (await serveUntilBanner(['--dir', dir, '--port', '0'], {})).banner;
    const demo = JSON.parse(readFileSync(join(dir, 'demo-credentials.json'), 'utf8'));
    expect(stderr).toContain('curl');
    expect(stderr).not.toContain(demo.secretAccessKey);
    // The same with --config and a credentials file of several entries
    const credentials = join(dir, 'creds.json');
    const list = [demo, { ...demo, accessKeyId: 'AKIASECOND', secretAccessKey: 'second-secret-value-123' }];
    (await import('node:fs')).writeFileSync(credentials, JSON.stringify(list), { mode: 0o600 });
    stderr = (
      await serveUntilBanner(
        ['--config', join(dir, 'config.json'), '--credentials', credentials, '--port', '0'],
        {},
      )
    ).banner;
    for (const c of list) expect(stderr).not.toContain(c.secretAccessKey);
  });
});

describe('CLI help and version', () => {
  it.each(['fingerprint', 'jwt', 'get', 'serve', 'postgres-token', 'rotation-check', 'token-id'])(
    '%s --help prints its usage and exits 0',
    async (command) => {
      const result = await cli([command, '--help']);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toMatch(new RegExp(`^Usage: token-vendor ${command}\\b`));
    },
  );

  it('--version prints the package version; an inherited property name is no command', async () => {
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default;
    expect(await cli(['--version'])).toMatchObject({ code: 0, stdout: `token-vendor ${version}\n` });
    expect((await cli(['constructor'])).code).toBe(2);
    expect((await cli(['__proto__', '--help'])).code).toBe(2);
  });
});

describe('serve and the local stack file', () => {
  it('refuses a busy port before touching its directory, naming the stack that holds it', async () => {
    const { createServer } = await import('node:net');
    const { existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tempDir } = await import('../support/keys');
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as { port: number }).port;
    const dir = join(tempDir('tv-busy-'), 'local');
    const viaFlag = await cli(['serve', '--port', String(port), '--dir', dir]);
    // `npm start --port N` without `--` arrives as npm_config_port
    const viaNpm = await cli(['serve', '--dir', dir], { npm_config_port: String(port) });
    busy.close();
    for (const result of [viaFlag, viaNpm]) {
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`port ${port} is in use`);
    }
    expect(existsSync(dir)).toBe(false);
  });

  it('writes stack.json while running (found by get), and removes it on stop', async () => {
    const { serve } = await import('../../cli/commands/serve');
    const { runningLocalStack } = await import('../../cli/local-stack-file');
    const { tempDir } = await import('../support/keys');
    const dir = tempDir('tv-stackfile-');
    const stop = new AbortController();
    let seen: ReturnType<typeof runningLocalStack>;
    let stderr = '';
    const io = {
      stdout: { write: () => true },
      stderr: {
        write: (chunk: string) => {
          stderr += chunk;
          if (chunk.includes('Ctrl-C stops.')) {
            seen = runningLocalStack(dir);
            stop.abort();
          }
          return true;
        },
      },
      env: {},
    };
    const code = await serve(['--dir', dir, '--port', '0'], io, stop.signal);
    expect(code).toBe(0);
    expect(seen!).toMatchObject({
      endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      pid: process.pid,
    });
    expect(stderr).toContain(seen!.endpoint);
    expect(runningLocalStack(dir)).toBeUndefined();
    expect(stderr).toMatch(/Token Vendor stopped \(stop\)\.\n$/);
  });
});
