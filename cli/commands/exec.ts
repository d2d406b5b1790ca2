import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { parseCommand } from '../args';
import { UsageError } from '../errors';
import type { CliIo } from '../io';
import { postgresEnvironment } from '../postgres-env';
import { vendorClient } from '../vendor-client';

/** The signals a terminal or a supervisor sends that CMD, not exec, should act on. */
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

/**
 * `token-vendor exec --postgres INSTANCE/USER -- CMD …`: vend a token, then run CMD with it in its
 * environment (libpq's `PG*` variables, or `SNOWFLAKE_JWT` and friends), as `aws-vault exec` does for
 * AWS credentials. The token is never in an argument list (`ps` shows none), CMD's exit code is exec's
 * (128 + n when a signal ended it), and the signals exec receives go to CMD.
 */
export async function exec(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand('exec', args, true);
  const dashes = args.indexOf('--');
  if (dashes < 0 || positionals.length === 0)
    throw new UsageError(
      'exec: name the command after --: token-vendor exec --postgres INSTANCE/USER -- psql …',
    );
  if (positionals.length !== args.length - dashes - 1)
    throw new UsageError(`exec: unexpected argument "${positionals[0]}" before --.`);
  if (Boolean(values.postgres) === Boolean(values['snowflake-jwt']))
    throw new UsageError(
      'exec: say which token to put in the environment: --postgres INSTANCE/USER or --snowflake-jwt CONNECTION.',
    );
  const { client, call } = vendorClient('exec', values, io);
  let env: Record<string, string>;
  if (values.postgres) {
    const target = /^([^/\s]+)\/([^/\s]+)$/.exec(values.postgres);
    if (!target) throw new UsageError(`exec: --postgres must be INSTANCE/USER, not "${values.postgres}".`);
    const token = await call(() =>
      client.postgres({
        instance: target[1]!,
        username: target[2]!,
        ...(values.connection ? { connection: values.connection } : {}),
      }),
    );
    env = { ...postgresEnvironment(token, io.env) };
  } else {
    // No Snowflake connector reads a ready-made key-pair JWT from the environment: these are for SQL API
    // clients (Authorization: Bearer $SNOWFLAKE_JWT, X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT).
    const token = await call(() => client.snowflakeJwt({ connection: values['snowflake-jwt']! }));
    env = { SNOWFLAKE_JWT: token.token, SNOWFLAKE_ACCOUNT: token.account, SNOWFLAKE_USER: token.user };
  }
  const [command, ...rest] = positionals as [string, ...string[]];
  const child = spawn(command, rest, { stdio: 'inherit', env: { ...io.env, ...env } });
  const forward = (signal: NodeJS.Signals) => () => {
    child.kill(signal);
  };
  const handlers = FORWARDED.map((signal) => [signal, forward(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'ENOENT'
            ? new UsageError(`exec: no command "${command}" on the PATH.`)
            : new UsageError(`exec: cannot run "${command}" (${error.code ?? error.message}).`),
        ),
      );
      child.once('exit', (code, signal) =>
        resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)),
      );
    });
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}
