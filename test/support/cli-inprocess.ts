import { main } from '../../cli/main';

/**
 * Run `token-vendor` in this process (no spawn, no TypeScript compile at start): the same `main` the
 * bin calls, with captured streams. Only one smoke test runs the real binary.
 *
 * @example
 * ```ts
 * const { code, stderr } = await cli(['get', 'postgres', '--endpoint', 'http://10.0.0.1']);
 * ```
 */
export async function cli(
  argv: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    env,
  });
  return { code, stdout, stderr };
}
