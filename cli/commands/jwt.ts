import { mintKeyPairJwt } from '../../lambda/snowflake/jwt';
import { fileSignerFrom, parseCommand, required, seconds } from '../args';
import { UsageError } from '../errors';
import type { CliIo } from '../io';

/** What `--help` says and the config allows (`jwtLifetimeSeconds`): Snowflake ignores more than an hour. */
const LIFETIME = { min: 60, max: 3600 };

/** `token-vendor jwt`: mint a key-pair JWT; stdout carries the JWT alone, or JSON with TTL fields. */
export async function jwt(args: string[], io: CliIo): Promise<void> {
  const { values } = parseCommand('jwt', args);
  const lifetimeSeconds = seconds(values.lifetime, 'lifetime', 'jwt');
  if (lifetimeSeconds !== undefined && (lifetimeSeconds < LIFETIME.min || lifetimeSeconds > LIFETIME.max))
    throw new UsageError(
      `jwt: --lifetime must be ${LIFETIME.min}–${LIFETIME.max} seconds, not ${lifetimeSeconds}.`,
    );
  const signer = fileSignerFrom(values, io, 'jwt');
  const minted = await mintKeyPairJwt({
    account: required(values.account, 'account', 'jwt'),
    user: required(values.user, 'user', 'jwt'),
    signer,
    lifetimeSeconds,
  });
  if (!values.json) {
    io.stdout.write(`${minted.token}\n`);
    return;
  }
  const { keyVersion: _keyVersion, ...shown } = minted;
  io.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
}
