import { checkKeys } from '../../lambda/rotation/check';
import { parseCommand } from '../args';
import { type CliIo, ExitCode } from '../io';
import { runtimeForCommand } from '../local-runtime';

/**
 * `token-vendor rotation-check`: the scheduled key check, run locally. Exit 0 only when every
 * connection is OK; 4 when a check could not run (ERROR); 1 for any other finding.
 */
export async function rotationCheck(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand('rotation-check', args);
  const runtime = await runtimeForCommand('rotation-check', values.config, io);
  const report = await checkKeys(runtime.config, runtime.connection, { deadline: Date.now() + 60_000 });
  if (values.json) {
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    for (const c of report.connections) io.stdout.write(`${c.connection}\t${c.status}\t${c.detail}\n`);
  }
  if (report.connections.some((c) => c.status === 'ERROR')) return ExitCode.Upstream;
  return report.connections.every((c) => c.status === 'OK') ? ExitCode.Ok : ExitCode.Other;
}
