import { mintKeyPairJwt } from '../../lambda/snowflake/jwt';
import { fileSignerFrom, parseCommand, required, seconds } from '../args';
import type { CliIo } from '../io';

/** `token-vendor jwt`: mint a key-pair JWT; stdout carries the JWT alone, or JSON with TTL fields. */
export async function jwt(args: string[], io: CliIo): Promise<void> {
  const { values } = parseCommand('jwt', args);
  const signer = fileSignerFrom(values, io, 'jwt');
  const minted = await mintKeyPairJwt({
    account: required(values.account, 'account', 'jwt'),
    user: required(values.user, 'user', 'jwt'),
    signer,
    lifetimeSeconds: seconds(values.lifetime, 'lifetime', 'jwt'),
  });
  if (!values.json) {
    io.stdout.write(`${minted.token}\n`);
    return;
  }
  const { keyVersion: _keyVersion, ...shown } = minted;
  io.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
}
