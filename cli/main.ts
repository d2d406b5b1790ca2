import { VERSION } from '../lambda/version';
import * as fingerprintCommand from './commands/fingerprint';
import * as getCommand from './commands/get';
import * as jwtCommand from './commands/jwt';
import * as postgresTokenCommand from './commands/postgres-token';
import * as rotationCheckCommand from './commands/rotation-check';
import * as serveCommand from './commands/serve';
import * as tokenIdModule from './commands/token-id';
import { errorLine, exitCodeFor, UsageError } from './errors';
import { type CliIo, ExitCode } from './io';

/** A command returns its exit code, or nothing for success. */
type Command = {
  run: (args: string[], io: CliIo) => Promise<number | undefined> | Promise<void>;
  usage: string;
};

const COMMANDS: Record<string, Command> = {
  fingerprint: { run: fingerprintCommand.fingerprint, usage: fingerprintCommand.usage },
  jwt: { run: jwtCommand.jwt, usage: jwtCommand.usage },
  get: { run: getCommand.get, usage: getCommand.usage },
  serve: { run: (args, io) => serveCommand.serve(args, io), usage: serveCommand.usage },
  'postgres-token': { run: postgresTokenCommand.postgresToken, usage: postgresTokenCommand.usage },
  'rotation-check': { run: rotationCheckCommand.rotationCheck, usage: rotationCheckCommand.usage },
  'token-id': { run: tokenIdModule.tokenIdCommand, usage: tokenIdModule.usage },
};

function help(): string {
  const lines = Object.values(COMMANDS).map((c) => `  token-vendor ${c.usage}`);
  return [
    'Usage:',
    ...lines,
    '',
    '  token-vendor --version   |   token-vendor <command> --help',
    '',
    'Exit codes: 0 success, 2 bad usage or input, 3 rejected by Snowflake/OAuth, 4 upstream error, 1 other.',
    '',
  ].join('\n');
}

/**
 * Run `token-vendor` with `argv` (without node and script) and return the exit code. Only the result
 * goes to stdout; an error is one line on stderr.
 *
 * @example
 * ```ts
 * const code = await main(['fingerprint', '--private-key-file', 'k.p8'], { stdout, stderr, env: process.env });
 * ```
 */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(help());
    return ExitCode.Ok;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`token-vendor ${VERSION}\n`);
    return ExitCode.Ok;
  }
  // `<command> --help` prints that command's usage (before its flags are parsed, so never an error).
  if (
    name !== undefined &&
    Object.hasOwn(COMMANDS, name) &&
    (args.includes('--help') || args.includes('-h'))
  ) {
    io.stdout.write(`Usage: token-vendor ${COMMANDS[name]!.usage}\n`);
    return ExitCode.Ok;
  }
  try {
    const command = name === undefined || !Object.hasOwn(COMMANDS, name) ? undefined : COMMANDS[name];
    if (!command) {
      throw new UsageError(
        name === undefined
          ? 'no command given. Run "token-vendor --help".'
          : `unknown command "${name}". Run "token-vendor --help".`,
      );
    }
    return (await command.run(args, io)) ?? ExitCode.Ok;
  } catch (error) {
    io.stderr.write(`${errorLine(error)}\n`);
    return exitCodeFor(error);
  }
}
