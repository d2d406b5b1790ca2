import { FileSigner } from '../../lambda/keys/file-signer';
import { parseFlags, passphraseFromEnv, required } from '../args';
import type { CliIo } from '../io';

export const usage = 'fingerprint --private-key-file F [--passphrase-env VAR]';

/** `token-vendor fingerprint`: print the `SHA256:…` fingerprint Snowflake shows as RSA_PUBLIC_KEY_FP. */
export async function fingerprint(args: string[], io: CliIo): Promise<void> {
  const { values } = parseFlags(
    args,
    { 'private-key-file': { type: 'string' }, 'passphrase-env': { type: 'string' } },
    'fingerprint',
  );
  const path = required(values['private-key-file'], 'private-key-file', 'fingerprint');
  const signer = new FileSigner({
    path,
    passphrase: passphraseFromEnv(values['passphrase-env'], io, 'fingerprint'),
  });
  const key = await signer.currentKey();
  io.stdout.write(`${key.fingerprint}\n`);
}
