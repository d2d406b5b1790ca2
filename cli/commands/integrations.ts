import { instanceKey } from '../../lambda/config/instance-key';
import {
  checkIntegrations,
  describeIntegration,
  setIntegrationEnabled,
} from '../../lambda/integrations/drift';
import { parseCommand } from '../args';
import { UsageError } from '../errors';
import { type CliIo, ExitCode } from '../io';
import { runtimeForCommand } from '../local-runtime';

const ACTIONS = new Set(['check', 'describe', 'enable', 'disable']);

/**
 * `token-vendor integrations check [NAME] | describe NAME | enable NAME | disable NAME`: the Snowflake
 * security integrations the config's OAuth integrations mirror (`snowflakeIntegration`), through each
 * one's connection. `check` exits 0 only when every one is OK, 1 for a finding, 4 when a check failed;
 * `enable`/`disable` (`ALTER SECURITY INTEGRATION … SET ENABLED`) are for incident response.
 */
export async function integrations(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand('integrations', args, true);
  const [action, name, ...extra] = positionals;
  if (!action || !ACTIONS.has(action) || extra.length > 0 || (action !== 'check' && !name))
    throw new UsageError('integrations: give check [NAME], describe NAME, enable NAME or disable NAME.');
  const runtime = await runtimeForCommand('integrations', values.config, io);
  const deadline = Date.now() + 60_000;

  if (action === 'check') {
    if (name) mirroredOrFail(runtime.config, name);
    const reports = await checkIntegrations(runtime.config, runtime.connection, {
      deadline,
      ...(name ? { only: name } : {}),
    });
    if (reports.length === 0)
      throw new UsageError('integrations: no OAuth integration in the config names a snowflakeIntegration.');
    if (values.json) io.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
    else for (const r of reports) io.stdout.write(`${r.integration}\t${r.status}\t${r.detail}\n`);
    if (reports.some((r) => r.status === 'ERROR')) return ExitCode.Upstream;
    return reports.every((r) => r.status === 'OK') ? ExitCode.Ok : ExitCode.Other;
  }

  const mirrored = mirroredOrFail(runtime.config, name!);
  const { sql } = runtime.connection(mirrored.connection);
  if (action === 'describe') {
    const properties = await describeIntegration(sql, mirrored.name, { deadline });
    if (!properties) {
      io.stderr.write(
        `integrations: Snowflake has no security integration ${instanceKey(mirrored.name)} (or may not show it).\n`,
      );
      return ExitCode.Rejected;
    }
    if (values.json) io.stdout.write(`${JSON.stringify(Object.fromEntries(properties), null, 2)}\n`);
    else for (const [property, value] of properties) io.stdout.write(`${property}\t${value}\n`);
    return ExitCode.Ok;
  }
  await setIntegrationEnabled(sql, mirrored.name, action === 'enable', { deadline });
  io.stdout.write(`${instanceKey(mirrored.name)}\t${action === 'enable' ? 'ENABLED' : 'DISABLED'}\n`);
  return ExitCode.Ok;
}

function mirroredOrFail(
  config: {
    oauthIntegrations: Record<string, { snowflakeIntegration?: { connection: string; name: string } }>;
  },
  name: string,
) {
  const integration = Object.hasOwn(config.oauthIntegrations, name)
    ? config.oauthIntegrations[name]
    : undefined;
  if (!integration)
    throw new UsageError(`integrations: the config has no OAuth integration named "${name}".`);
  if (!integration.snowflakeIntegration)
    throw new UsageError(
      `integrations: oauthIntegrations.${name} names no snowflakeIntegration (connection and name).`,
    );
  return integration.snowflakeIntegration;
}
