import { spawnSync } from 'node:child_process';

/**
 * The real `npx cdk synth` (offline: no notices, no telemetry, no version check) of the app with
 * `-c config=<configFile>` and the given context, into `out`, with esbuild bundling.
 *
 * @example
 * ```ts
 * const synth = cdkSynth(configFile, out, { allowLocalKeySources: 'true' });
 * ```
 */
export function cdkSynth(configFile: string, out: string, context: Record<string, string> = {}) {
  return spawnSync(
    'npx',
    [
      'cdk',
      'synth',
      '--no-notices',
      '-q',
      '-c',
      `config=${configFile}`,
      ...Object.entries(context).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
      '-o',
      out,
    ],
    {
      env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true', CDK_DISABLE_VERSION_CHECK: '1' },
      encoding: 'utf8',
      timeout: 240_000,
    },
  );
}
