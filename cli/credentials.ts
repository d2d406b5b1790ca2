import { readFileSync, statSync } from 'node:fs';
import { unprotected } from '../lambda/keys/file-mode';
import { UsageError } from './errors';

/** One entry of a credentials file (`.local/demo-credentials.json` and the like). */
export interface CredentialsEntry {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly principalArn?: string;
}

/**
 * Read a credentials file: one `{accessKeyId, secretAccessKey, sessionToken?, principalArn?}` or a
 * non-empty list of them. Every problem is a one-line {@link UsageError} (exit 2) naming the file,
 * never its contents: missing, unreadable, too open (group/other bits, as OpenSSH refuses), not JSON,
 * `null`, `[]`, or an entry without the string fields.
 *
 * @example
 * ```ts
 * const [credential] = readCredentialsFile('.local/demo-credentials.json', 'get');
 * ```
 */
export function readCredentialsFile(
  path: string,
  command: string,
  options: { readonly principalRequired?: boolean } = {},
): CredentialsEntry[] {
  let text: string;
  try {
    const problem = unprotected(path, statSync(path).mode);
    if (problem) throw new UsageError(`${command}: ${problem}`);
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${command}: cannot read the credentials file ${path}.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`${command}: the credentials file ${path} is not JSON.`);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  const fields = options.principalRequired
    ? 'accessKeyId, secretAccessKey and principalArn'
    : 'accessKeyId and secretAccessKey';
  if (list.length === 0)
    throw new UsageError(`${command}: the credentials file ${path} lists no credentials.`);
  return list.map((entry: unknown, i) => {
    const c = (entry ?? {}) as Record<string, unknown>;
    const ok =
      typeof entry === 'object' &&
      entry !== null &&
      typeof c.accessKeyId === 'string' &&
      c.accessKeyId !== '' &&
      typeof c.secretAccessKey === 'string' &&
      c.secretAccessKey !== '' &&
      (!options.principalRequired || (typeof c.principalArn === 'string' && c.principalArn !== '')) &&
      (c.sessionToken === undefined || typeof c.sessionToken === 'string');
    if (!ok) {
      const where = Array.isArray(parsed) ? `${path}[${i}]` : path;
      throw new UsageError(`${command}: ${where} must have ${fields} as non-empty strings.`);
    }
    return {
      accessKeyId: c.accessKeyId as string,
      secretAccessKey: c.secretAccessKey as string,
      ...(typeof c.sessionToken === 'string' ? { sessionToken: c.sessionToken } : {}),
      ...(typeof c.principalArn === 'string' ? { principalArn: c.principalArn } : {}),
    };
  });
}
