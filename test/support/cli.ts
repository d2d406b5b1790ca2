import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Run the real `token-vendor` bin as a child process (through `npx` when asked, exactly as documented).
 *
 * @example
 * ```ts
 * const { code, stdout } = await runCli(['fingerprint', '--private-key-file', path]);
 * ```
 */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; input?: string; viaNpx?: boolean; timeoutMs?: number } = {},
): Promise<CliResult> {
  const [command, argv] = options.viaNpx
    ? ['npx', ['--no-install', 'token-vendor', ...args]]
    : [process.execPath, ['cli/bin.mjs', ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 30_000,
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
