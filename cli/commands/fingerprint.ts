import { fileSignerFrom, parseCommand } from '../args';
import type { CliIo } from '../io';

/** `token-vendor fingerprint`: print the `SHA256:…` fingerprint Snowflake shows as RSA_PUBLIC_KEY_FP. */
export async function fingerprint(args: string[], io: CliIo): Promise<void> {
  const { values } = parseCommand('fingerprint', args);
  const key = await fileSignerFrom(values, io, 'fingerprint').currentKey();
  io.stdout.write(`${key.fingerprint}\n`);
}
