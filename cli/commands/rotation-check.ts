import { checkPatTargets } from '../../lambda/pat/readiness';
import { checkKeys } from '../../lambda/rotation/check';
import { parseCommand } from '../args';
import { type CliIo, ExitCode } from '../io';
import { runtimeForCommand } from '../local-runtime';

/**
 * `token-vendor rotation-check`: the scheduled key check, run locally, with the readiness of every PAT
 * target (`pat:<target>` lines). Exit 0 only when every connection and PAT target is OK; 4 when a check
 * could not run (ERROR); 1 for any other finding.
 */
export async function rotationCheck(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand('rotation-check', args);
  const runtime = await runtimeForCommand('rotation-check', values.config, io);
  const deadline = Date.now() + 60_000;
  const [report, patTargets] = await Promise.all([
    checkKeys(runtime.config, runtime.connection, { deadline }),
    checkPatTargets(runtime.config, runtime.connection, { deadline }),
  ]);
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ ...report, patTargets }, null, 2)}\n`);
  } else {
    for (const c of report.connections) io.stdout.write(`${c.connection}\t${c.status}\t${c.detail}\n`);
    for (const t of patTargets) io.stdout.write(`pat:${t.target}\t${t.status}\t${t.detail}\n`);
  }
  const statuses = [...report.connections.map((c) => c.status), ...patTargets.map((t) => t.status)];
  if (statuses.includes('ERROR')) return ExitCode.Upstream;
  return statuses.every((s) => s === 'OK') ? ExitCode.Ok : ExitCode.Other;
}
