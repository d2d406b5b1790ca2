import { type ParseArgsConfig, parseArgs } from 'node:util';
import { urlProblem } from '../lambda/config/url';
import { FileSigner } from '../lambda/keys/file-signer';
import { UsageError } from './errors';
import type { CliIo } from './io';
import { type CommandName, parseOptions, type SPECS } from './specs';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Strict flag parsing: unknown flags and missing values become a {@link UsageError} (exit 2).
 *
 * @example
 * ```ts
 * const { values } = parseFlags(args, { account: { type: 'string' } }, 'jwt');
 * ```
 */
export function parseFlags<const O extends Options>(
  args: string[],
  options: O,
  command: string,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message}. Run "token-vendor ${command} --help".`);
  }
}

/**
 * A URL from a flag or the environment, under the project's one URL rule (`urlProblem`): https, or
 * plain http only to this machine, so a signed JWT or SigV4 request never crosses a network in clear.
 */
export function checkedUrl(value: string, flag: string, command: string): string {
  const problem = urlProblem(value);
  if (problem) throw new UsageError(`${command}: ${flag} ${problem}.`);
  return value;
}

type Flags<N extends CommandName> = (typeof SPECS)[N]['flags'];
/** The parsed values of a command's flags, typed from its spec. */
export type FlagValues<N extends CommandName> = {
  [K in keyof Flags<N>]?: Flags<N>[K] extends { type: 'boolean' }
    ? boolean
    : Flags<N>[K] extends { multiple: true }
      ? string[]
      : string;
};

/**
 * Parse a command's arguments with the flags its spec declares (`specs.ts`), strictly.
 *
 * @example
 * ```ts
 * const { values } = parseCommand('jwt', args); // values.account: string | undefined
 * ```
 */
export function parseCommand<N extends CommandName>(
  name: N,
  args: string[],
  allowPositionals = false,
): { values: FlagValues<N>; positionals: string[] } {
  const { values, positionals } = parseFlags(args, parseOptions(name), name, allowPositionals);
  return { values: values as FlagValues<N>, positionals };
}

/** A flag that must be present. */
export function required(value: string | undefined, flag: string, command: string): string {
  if (value === undefined || value === '') throw new UsageError(`${command}: --${flag} is required.`);
  return value;
}

/** The passphrase named by `--passphrase-env VAR`; the variable must be set. */
export function passphraseFromEnv(
  variable: string | undefined,
  io: CliIo,
  command: string,
): string | undefined {
  if (variable === undefined) return undefined;
  const value = io.env[variable];
  if (value === undefined || value === '') {
    throw new UsageError(`${command}: --passphrase-env names ${variable}, which is not set.`);
  }
  return value;
}

/** A whole number of seconds from a flag. */
export function seconds(value: string | undefined, flag: string, command: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`${command}: --${flag} must be a whole number of seconds.`);
  return Number(value);
}

/** The signer over `--private-key-file` (required) and `--passphrase-env` (optional). */
export function fileSignerFrom(
  values: { 'private-key-file'?: string; 'passphrase-env'?: string },
  io: CliIo,
  command: string,
): FileSigner {
  return new FileSigner({
    path: required(values['private-key-file'], 'private-key-file', command),
    passphrase: passphraseFromEnv(values['passphrase-env'], io, command),
  });
}
