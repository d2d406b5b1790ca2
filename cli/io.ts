import type { Readable } from 'node:stream';

/** What a command may touch: its streams and environment. Injected so tests run commands in-process. */
export interface CliIo {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
  readonly stdin?: Readable;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Exit codes of the `token-vendor` command (DESIGN.md). */
export const ExitCode = {
  Ok: 0,
  Other: 1,
  Usage: 2,
  Rejected: 3,
  Upstream: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
