import { readFileSync } from 'node:fs';
import { App, Tags } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as logs from 'aws-cdk-lib/aws-logs';
import { ConfigError, parseConfigText } from '../lambda/config/load';
import type { Trigger } from './index';

import { applyRuleSets, DEFAULT_RESERVED_CONCURRENCY, TokenVendorStack } from './index';

/** Context keys the app reads (`cdk synth -c key=value`), each a deploy-time choice, not code. */
export const CONTEXT_KEYS = [
  'config',
  'stackName',
  'alarmEmail',
  'throttleRateLimit',
  'throttleBurstLimit',
  'logRetentionDays',
  'rotationCheckSchedule',
  'exampleStateMachine',
  'terminationProtection',
  'tags',
  'allowLocalKeySources',
  'controlTowerChecks',
  'reservedConcurrency',
] as const;

/**
 * Build the CDK app from context: `config` (path of the config file; required — there is no default, so a
 * forgotten `-c config=` cannot deploy the example grants), `stackName`, `alarmEmail` (comma-separated),
 * `throttleRateLimit`/`throttleBurstLimit`, `logRetentionDays`, `rotationCheckSchedule` (`rate(…)` or
 * `cron(…)`), `exampleStateMachine` (true/false), `terminationProtection` (default true), `tags` (JSON
 * object), `controlTowerChecks` (default true: AWS Control Tower's proactive controls through cfn-guard), `reservedConcurrency` (false, or a JSON object by function). The config is validated by the same zod schema the Lambdas use; an invalid one, or a bad
 * context value, fails synth naming it. cdk-nag's AwsSolutions and Serverless packs check the result.
 *
 * @example
 * ```ts
 * const { app, stack } = buildApp({ config: 'config/example.json' });
 * ```
 */
export function buildApp(context: Record<string, unknown> = {}, app = new App({ context })) {
  const get = (key: (typeof CONTEXT_KEYS)[number]) => {
    const value = app.node.tryGetContext(key) as unknown;
    return value === undefined || value === null || value === '' ? undefined : value;
  };
  const path = get('config');
  if (path === undefined) {
    throw new ConfigError(
      'No config: pass the config file to deploy with -c config=path/to/config.json (config/example.json is an example, not a default).',
    );
  }
  let text: string;
  try {
    text = readFileSync(String(path), 'utf8');
  } catch {
    throw new ConfigError(
      `Cannot read the config file ${String(path)} (set it with: cdk synth -c config=path/to/config.json).`,
    );
  }
  const config = parseConfigText(text, String(path));
  const number = (key: (typeof CONTEXT_KEYS)[number], min: number, max: number) => {
    const value = get(key);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new ConfigError(
        `Context ${key} must be a whole number from ${min} to ${max}, not "${String(value)}".`,
      );
    return n;
  };
  const flag = (key: (typeof CONTEXT_KEYS)[number]) => {
    const value = get(key);
    if (value === undefined) return undefined;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    throw new ConfigError(`Context ${key} must be true or false, not "${String(value)}".`);
  };
  const rate = number('throttleRateLimit', 1, 10_000);
  const burst = number('throttleBurstLimit', 1, 5_000);
  const retentionDays = number('logRetentionDays', 1, 3653);
  if (retentionDays !== undefined && !Object.values(logs.RetentionDays).includes(retentionDays)) {
    throw new ConfigError(
      `Context logRetentionDays must be one CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653), not ${retentionDays}.`,
    );
  }
  const schedule = get('rotationCheckSchedule');
  if (schedule !== undefined && !/^(rate|cron)\(.+\)$/.test(String(schedule)))
    throw new ConfigError(
      `Context rotationCheckSchedule must be rate(…) or cron(…), not "${String(schedule)}".`,
    );
  const tags = parseTags(get('tags'));
  const alarmEmails = String(get('alarmEmail') ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  for (const email of alarmEmails)
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email))
      throw new ConfigError(`Context alarmEmail: "${email}" is not an email address.`);
  const exampleStateMachine = flag('exampleStateMachine');
  const reservedConcurrency = parseReservedConcurrency(get('reservedConcurrency'));
  const stack = new TokenVendorStack(app, String(get('stackName') ?? 'TokenVendor'), {
    config,
    alarmEmails,
    ...(rate !== undefined || burst !== undefined
      ? { throttle: { rateLimit: rate ?? 50, burstLimit: burst ?? 100 } }
      : {}),
    ...(retentionDays !== undefined ? { logRetention: retentionDays as logs.RetentionDays } : {}),
    ...(schedule !== undefined
      ? { rotationCheckSchedule: events.Schedule.expression(String(schedule)) }
      : {}),
    ...(exampleStateMachine !== undefined ? { exampleStateMachine } : {}),
    ...(flag('allowLocalKeySources') ? { allowLocalKeySources: true } : {}),
    ...(reservedConcurrency !== undefined ? { reservedConcurrency } : {}),
    terminationProtection: flag('terminationProtection') ?? true,
    description: 'Token Vendor: short-lived Snowflake credentials for IAM principals',
  });
  for (const [key, value] of Object.entries({ application: 'token-vendor', ...tags }))
    Tags.of(stack).add(key, value);
  // Every rule set on every synth; -c controlTowerChecks=false skips the slowest (≈ 7 s).
  applyRuleSets(app, { controlTower: flag('controlTowerChecks') !== false });
  return { app, stack, config };
}

/**
 * Context `reservedConcurrency`: `false` (reserve none), or a JSON object of whole numbers by function
 * (`-c reservedConcurrency='{"http":200}'`; the others keep their defaults).
 */
function parseReservedConcurrency(value: unknown): Partial<Record<Trigger, number>> | false | undefined {
  if (value === undefined) return undefined;
  if (value === false || value === 'false') return false;
  const usage =
    'Context reservedConcurrency must be false or a JSON object such as {"http":200} (http, direct, rotation-check, rotate-key, revocation-audit, pat-sweeper: 1 to 10000).';
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new ConfigError(usage);
    }
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(usage);
  const triggers: readonly string[] = Object.keys(DEFAULT_RESERVED_CONCURRENCY);
  for (const [k, v] of Object.entries(parsed))
    if (!triggers.includes(k) || !Number.isInteger(v) || (v as number) < 1 || (v as number) > 10_000)
      throw new ConfigError(`${usage} Not ${JSON.stringify(k)}: ${JSON.stringify(v)}.`);
  return parsed as Partial<Record<Trigger, number>>;
}

/** Context `tags`: a JSON object of string values (`-c tags='{"team":"data"}'`). */
function parseTags(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new ConfigError('Context tags must be a JSON object of strings, such as {"team":"data"}.');
    }
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ConfigError('Context tags must be a JSON object of strings, such as {"team":"data"}.');
  for (const [k, v] of Object.entries(parsed))
    if (typeof v !== 'string' || k === '')
      throw new ConfigError(`Context tags: "${k}" must have a string value.`);
  return parsed as Record<string, string>;
}
