import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../cli/main';

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Run `token-vendor`: in this process by default (the same `main` the bin calls, with captured streams
 * and `env` over the process environment), or, with `viaNpx`, as the real installed binary through
 * `npx`, exactly as documented (the suite keeps one such smoke test).
 *
 * @example
 * ```ts
 * const { code, stdout } = await runCli(['fingerprint', '--private-key-file', path]);
 * ```
 */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; input?: string; viaNpx?: boolean } = {},
): Promise<CliResult> {
  if (options.viaNpx) return spawnCli(args, options);
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    stdin: Readable.from([options.input ?? '']),
    env: { ...process.env, ...options.env },
  });
  return { code, stdout, stderr };
}

function spawnCli(args: string[], options: { env?: Record<string, string | undefined>; input?: string }) {
  return new Promise<CliResult>((resolve, reject) => {
    const child = spawn('npx', ['--no-install', 'token-vendor', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 30_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr: stripNpmNoise(stderr) }));
    child.stdin.end(options.input ?? '');
  });
}

/** npm itself may warn about machine-level config; those lines are not the CLI's output. */
function stripNpmNoise(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => !line.startsWith('npm warn') && !line.startsWith('npm WARN'))
    .join('\n');
}

/**
 * `serve` in this process until its banner is out, then stopped: its exit code and everything it wrote
 * on stderr (the banner and the stop line).
 *
 * @example
 * ```ts
 * const { code, banner } = await serveUntilBanner(['--port', '0', '--dir', dir], {});
 * ```
 */
export async function serveUntilBanner(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number; banner: string }> {
  const { serve } = await import('../../cli/commands/serve');
  let banner = '';
  const stop = new AbortController();
  const code = await serve(
    args,
    {
      stdout: { write: () => true },
      stderr: {
        write: (chunk: string) => {
          banner += chunk;
          if (banner.includes('Ctrl-C stops.')) stop.abort();
          return true;
        },
      },
      stdin: Readable.from(['']),
      env,
    },
    stop.signal,
  );
  return { code, banner };
}
