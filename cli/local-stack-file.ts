import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { UsageError } from './errors';

/** `<dir>/stack.json`: where a running local stack listens, for `token-vendor get` to find it. */
export interface StackFile {
  readonly endpoint: string;
  readonly region: string;
  readonly credentialsFile: string;
  readonly pid: number;
  /** The config the stack serves (absolute). */
  readonly configFile?: string;
  /** The demo's local STS, and the vendor role's credential for it (for `rotation-check` on the demo). */
  readonly sts?: { readonly endpoint: string; readonly credentialsFile: string };
  /** The revocation list's table (dynalite), for `revoke`, `unrevoke` and `revocations list`. */
  readonly revocations?: {
    readonly endpoint: string;
    readonly tableName: string;
    readonly leaseTableName?: string;
  };
}

const NAME = 'stack.json';

/**
 * Where the local stack keeps its files: `TOKEN_VENDOR_LOCAL_DIR`, else `.local` (relative to the
 * working directory). `serve` writes there; `get` and `rotation-check` look there by default.
 */
export function localDir(env: Readonly<Record<string, string | undefined>>): string {
  return env.TOKEN_VENDOR_LOCAL_DIR || '.local';
}

/** Write the stack file (mode 600) and return its path. */
export function writeStackFile(dir: string, stack: StackFile): string {
  const path = join(dir, NAME);
  writeFileSync(path, `${JSON.stringify(stack, null, 2)}\n`, { mode: 0o600 });
  return path;
}

/** Remove the stack file, unless another process has written its own since. */
export function removeStackFile(path: string): void {
  if (readStackFile(path)?.pid === process.pid) rmSync(path, { force: true });
}

/**
 * The local stack running from `dir`, or undefined when none is: no file, an
 * unreadable one, or one whose process has gone.
 *
 * @example
 * ```ts
 * const local = runningLocalStack('.local'); // { endpoint: 'http://127.0.0.1:8787', … }
 * ```
 */
export function runningLocalStack(dir: string): StackFile | undefined {
  const stack = readStackFile(join(dir, NAME));
  if (!stack) return undefined;
  try {
    process.kill(stack.pid, 0);
    return stack;
  } catch {
    return undefined;
  }
}

function readStackFile(path: string): StackFile | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<StackFile>;
    return typeof parsed.endpoint === 'string' &&
      typeof parsed.region === 'string' &&
      typeof parsed.credentialsFile === 'string' &&
      typeof parsed.pid === 'number'
      ? (parsed as StackFile)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Refuse a busy port before anything is written (port 0 is always free). */
export async function assertPortFree(port: number, dir: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      const running = runningLocalStack(dir);
      reject(
        new UsageError(
          error.code === 'EADDRINUSE'
            ? `serve: port ${port} is in use${running ? ` by the local stack at ${running.endpoint} (pid ${running.pid})` : ''}; stop it, or pass --port N. Nothing in ${dir} was changed.`
            : `serve: cannot listen on 127.0.0.1:${port} (${error.code ?? error.message}).`,
        ),
      );
    });
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}
