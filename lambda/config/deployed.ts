import { ConfigError } from './errors';
import type { Config } from './schema';
import { isSealed, unseal } from './sealed';

/**
 * Read the text of a deployed function's config: a sealed document is checked and used as it is; any
 * other config is validated in full (the schema module is imported only then).
 *
 * @example
 * ```ts
 * const config = await readConfigText(readFileSync('/var/task/config.json', 'utf8'), 'config.json');
 * ```
 */
export async function readConfigText(text: string, origin: string): Promise<Config> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`Invalid token vendor ${origin}: not valid JSON (${(error as Error).message}).`);
  }
  if (isSealed(doc)) return unseal(doc, origin);
  const { parseConfig } = await import('./load');
  return parseConfig(doc, origin);
}
