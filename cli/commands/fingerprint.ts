import { fileSignerFrom, KEY_FLAGS, parseFlags } from '../args';
import type { CliIo } from '../io';

export const usage = 'fingerprint --private-key-file F [--passphrase-env VAR]';

/** `token-vendor fingerprint`: print the `SHA256:…` fingerprint Snowflake shows as RSA_PUBLIC_KEY_FP. */
export async function fingerprint(args: string[], io: CliIo): Promise<void> {
  const { values } = parseFlags(args, KEY_FLAGS, 'fingerprint');
  const key = await fileSignerFrom(values, io, 'fingerprint').currentKey();
  io.stdout.write(`${key.fingerprint}\n`);
}
