import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LocalCredential } from '../../dev/local/sigv4';
import { localStsClient } from '../../dev/local/sts-client';
import { loadConfigFile } from '../../lambda/config/load';
import { checkKeys } from '../../lambda/rotation/check';
import { createRuntime } from '../../lambda/runtime';
import { parseCommand } from '../args';
import { readCredentialsFile } from '../credentials';
import { UsageError } from '../errors';
import { type CliIo, ExitCode } from '../io';
import { localDir, runningLocalStack } from '../local-stack-file';

/**
 * `token-vendor rotation-check`: the scheduled key check, run locally. Exit 0 only when every
 * connection is OK; 4 when a check could not run (ERROR); 1 for any other finding.
 */
export async function rotationCheck(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand('rotation-check', args);
  const path = values.config ?? join(localDir(io.env), 'config.json');
  if (!values.config && !existsSync(path))
    throw new UsageError(
      `rotation-check: no --config given and ${path} does not exist (start the local stack, or pass --config).`,
    );
  const config = await loadConfigFile(path);
  // The demo's keyless connection signs in through the running stack's local STS, as its vendor role.
  const local = runningLocalStack(localDir(io.env));
  const localSts =
    local?.sts && local.configFile === resolve(path)
      ? localStsClient(
          local.sts.endpoint,
          local.region,
          readCredentialsFile(local.sts.credentialsFile, 'rotation-check', {
            principalRequired: true,
          })[0] as LocalCredential,
        )
      : undefined;
  const runtime = createRuntime({ config, env: io.env, ...(localSts ? { sts: localSts } : {}) });
  const report = await checkKeys(config, runtime.connection, { deadline: Date.now() + 60_000 });
  if (values.json) {
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    for (const c of report.connections) io.stdout.write(`${c.connection}\t${c.status}\t${c.detail}\n`);
  }
  if (report.connections.some((c) => c.status === 'ERROR')) return ExitCode.Upstream;
  return report.connections.every((c) => c.status === 'OK') ? ExitCode.Ok : ExitCode.Other;
}
