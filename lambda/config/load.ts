import { readFile } from 'node:fs/promises';
import { ConfigError } from './errors';
import { formatIssues } from './issues';
import { type Config, ConfigSchema } from './schema';
import { isSealed, unseal } from './sealed';

export { ConfigError } from './errors';

/**
 * Validate a config document (already parsed from JSON) and apply defaults. A config the stack sealed
 * at synth (a deployed function's `config.json`, see sealed.ts) is unsealed and validated again.
 *
 * @example
 * ```ts
 * const config = parseConfig(JSON.parse(text)); // throws ConfigError "connections.demo.account: …"
 * ```
 */
export function parseConfig(input: unknown, origin = 'config'): Config {
  const result = ConfigSchema.safeParse(isSealed(input) ? unseal(input, origin) : input);
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

export { formatIssues, formatPath } from './issues';
