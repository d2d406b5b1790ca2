import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LocalCredential } from '../dev/local/sigv4';
import { localStsClient } from '../dev/local/sts-client';
import { loadConfigFile } from '../lambda/config/load';
import { createRuntime, type Runtime } from '../lambda/runtime';
import { readCredentialsFile } from './credentials';
import { UsageError } from './errors';
import type { CliIo } from './io';
import { localDir, runningLocalStack } from './local-stack-file';

/**
 * The runtime of the commands that act as the vendor on a config (`rotation-check`, `integrations`): the
 * `--config` file, or the local stack's. The demo's keyless connection signs in through the running
 * stack's local STS, as its vendor role.
 *
 * @example
 * ```ts
 * const runtime = await runtimeForCommand('integrations', values.config, io);
 * ```
 */
export async function runtimeForCommand(
  command: string,
  configFlag: string | undefined,
  io: CliIo,
): Promise<Runtime> {
  const path = configFlag ?? join(localDir(io.env), 'config.json');
  if (!configFlag && !existsSync(path))
    throw new UsageError(
      `${command}: no --config given and ${path} does not exist (start the local stack, or pass --config).`,
    );
  const local = runningLocalStack(localDir(io.env));
  // The demo's config outlives its stack: without one running, it names an emulator that is gone.
  if (!configFlag && !local)
    throw new UsageError(
      `${command}: no local stack is running here (start one with "npm start"), and no --config names a config to check (${path} is a stopped stack's).`,
    );
  const config = await loadConfigFile(path);
  const localSts =
    local?.sts && local.configFile === resolve(path)
      ? localStsClient(
          local.sts.endpoint,
          local.region,
          readCredentialsFile(local.sts.credentialsFile, command, {
            principalRequired: true,
          })[0] as LocalCredential,
        )
      : undefined;
  return createRuntime({ config, env: io.env, ...(localSts ? { sts: localSts } : {}) });
}
