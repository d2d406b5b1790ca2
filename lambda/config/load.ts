import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { TokenVendorError } from '../errors';
import { type Config, ConfigSchema } from './schema';

/** The config document is invalid; the message lists every bad field by its path. */
export class ConfigError extends TokenVendorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', message, options);
  }
}

/**
 * Validate a config document (already parsed from JSON) and apply defaults.
 *
 * @example
 * ```ts
 * const config = parseConfig(JSON.parse(text)); // throws ConfigError "connections.demo.account: …"
 * ```
 */
export function parseConfig(input: unknown, origin = 'config'): Config {
  const result = ConfigSchema.safeParse(input);
  if (!result.success)
    throw new ConfigError(`Invalid token vendor ${origin}:\n${formatIssues(result.error.issues)}`);
  return result.data;
}

/**
 * Read and validate a config file.
 *
 * @example
 * ```ts
 * const config = await loadConfigFile('config/example.json');
 * ```
 */
export async function loadConfigFile(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`Cannot read the config file ${path}.`, { cause: error });
  }
  return parseConfigText(text, path);
}

/** Parse JSON text and validate it; a JSON syntax error is reported as a ConfigError too. */
export function parseConfigText(text: string, origin = 'config'): Config {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`Invalid token vendor ${origin}: not valid JSON (${(error as Error).message}).`);
  }
  return parseConfig(json, origin);
}

/** One line per issue: `  - grants[0].postgres[0].usernames[1]: "x" is not in …`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((issue) => `  - ${formatPath(issue.path)}: ${issue.message}`).join('\n');
}

/** `['grants', 0, 'principal']` → `grants[0].principal`; the root is `(root)`. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
    .join('');
}
