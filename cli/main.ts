import { VERSION } from '../lambda/version';
import { errorJson, errorLine, exitCodeFor, UsageError } from './errors';
import { type CliIo, ExitCode } from './io';
import { type CommandName, helpOf, isCommand, SPECS, usageOf } from './specs';

/** A command returns its exit code, or nothing for success. */
type Run = (args: string[], io: CliIo) => Promise<number | undefined> | Promise<void>;

// Each command's code (and the SDKs it needs) loads only when that command runs: `--help` and
// `--version` stay fast.
const COMMANDS: Record<CommandName, () => Promise<Run>> = {
  fingerprint: async () => (await import('./commands/fingerprint')).fingerprint,
  jwt: async () => (await import('./commands/jwt')).jwt,
  get: async () => (await import('./commands/get')).get,
  exec: async () => (await import('./commands/exec')).exec,
  serve: async () => {
    const { serve } = await import('./commands/serve');
    return (args, io) => serve(args, io);
  },
  'postgres-token': async () => (await import('./commands/postgres-token')).postgresToken,
  'rotation-check': async () => (await import('./commands/rotation-check')).rotationCheck,
  integrations: async () => (await import('./commands/integrations')).integrations,
  'token-id': async () => (await import('./commands/token-id')).tokenIdCommand,
  revoke: async () => (await import('./commands/revoke')).revokeCommand,
  unrevoke: async () => (await import('./commands/revoke')).unrevokeCommand,
  revocations: async () => (await import('./commands/revoke')).revocationsCommand,
  leases: async () => (await import('./commands/revoke')).leasesCommand,
  'rotate-now': async () => (await import('./commands/rotate-now')).rotateNow,
};

function help(): string {
  const names = Object.keys(SPECS) as CommandName[];
  return [
    'Usage:',
    ...names.map((name) => `  token-vendor ${usageOf(name)}`),
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
  const [name, ...args] = commandFirst(argv);
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(help());
    return ExitCode.Ok;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`token-vendor ${VERSION}\n`);
    return ExitCode.Ok;
  }
  // `<command> --help`: generated from the command's flags, before they are parsed (never an error).
  if (isCommand(name) && (args.includes('--help') || args.includes('-h'))) {
    io.stdout.write(helpOf(name));
    return ExitCode.Ok;
  }
  try {
    if (!isCommand(name)) {
      throw new UsageError(
        name === undefined
          ? 'no command given. Run "token-vendor --help".'
          : `unknown command "${name}". Run "token-vendor --help".`,
      );
    }
    const code = await (await COMMANDS[name]())(args, io);
    return typeof code === 'number' ? code : ExitCode.Ok;
  } catch (error) {
    // `--json` asked for JSON: the error is JSON too (on stderr), with its code and request id.
    io.stderr.write(args.includes('--json') ? `${errorJson(error)}\n` : `${errorLine(error)}\n`);
    return exitCodeFor(error);
  }
}

/**
 * Flags written before the command (`token-vendor --json get postgres …`) go after its arguments: the
 * command is the first argument that names one. `--help` and `--version` stay where they are.
 */
function commandFirst(argv: string[]): string[] {
  const [first] = argv;
  if (first === undefined || !first.startsWith('-') || ['--help', '-h', '--version', '-V'].includes(first))
    return argv;
  const at = argv.findIndex((a) => isCommand(a));
  // After everything else, so a command's own first word (`get postgres`) stays first.
  return at > 0 ? [argv[at]!, ...argv.slice(at + 1), ...argv.slice(0, at)] : argv;
}
