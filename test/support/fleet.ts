import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { ConfigInput } from '../../lambda/config/schema';
import { type EmulatorFixture, fixtureConfig } from './emulator';
import { OTHER_ROLE_ARN, ROLE_ARN } from './events';
import type { VendMessage, VendResult } from './fleet-worker';
import { tempDir } from './keys';
import { CACHE_KEY_ID, CACHE_TABLE } from './shared-cache';

const WORKER = fileURLToPath(new URL('./fleet-worker.ts', import.meta.url));

/**
 * A worker as one bundled file: sixteen processes each loading tsx and a few hundred modules cost
 * ≈ 1.2 s of CPU apiece (≈ 20 s of a 2-core test run); one bundle, built once, loads in ≈ 0.3 s.
 */
export async function bundledWorker(entry = WORKER): Promise<string> {
  const outfile = join(tempDir(), 'fleet-worker.mjs');
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // CommonJS dependencies call require(); give the ESM bundle one.
    banner: {
      js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);",
    },
    external: ['dynalite'],
    outfile,
    logLevel: 'silent',
  });
  return outfile;
}

/**
 * A fleet of containers, each its own process (test/support/fleet-worker.ts) with its own memory cache,
 * against one emulator and one DynamoDB. Lambda gives a container one request at a time, so fleet-wide
 * behaviour needs processes, not promises.
 */
export interface Fleet {
  workers: ChildProcess[];
  /** The configs the workers run ('shared' and its no-USAGE variant), to compute what they compute. */
  readonly configs: { readonly shared: ConfigInput; readonly noUsage: ConfigInput };
  /** Ask one worker for `usernames`, concurrently (or one at a time); its results in order. */
  ask(
    worker: ChildProcess,
    mode: VendMessage['mode'],
    usernames: readonly string[],
    deadlineMs?: number,
    sequential?: boolean,
    /** Who asks (default ROLE_ARN; the grants also name OTHER_ROLE_ARN). */
    principalArn?: string,
  ): Promise<VendResult[]>;
  /** One worker's AWS calls by kind since it started. */
  counts(worker: ChildProcess): Promise<Record<string, number>>;
  /** Caller i goes to container i mod n and asks for target ⌊i / n⌋ mod t: every container sees every target. */
  burst(
    fleet: readonly ChildProcess[],
    mode: VendMessage['mode'],
    targets: readonly string[],
    callers: number,
  ): Promise<VendResult[]>;
  close(): void;
}

export async function startFleet(
  fx: EmulatorFixture,
  options: {
    containers: number;
    usernames: readonly string[];
    dynamoEndpoint: string;
    leaseSeconds?: number;
    /** Turns on the hostile-table modes (see fleet-worker.ts). */
    hostile?: { kmsUrl: string; hangingUrl: string };
    /** Turns on the revocation modes: the list's table on this DynamoDB (its own, so a test can stop it). */
    revocations?: { endpoint: string; tableName: string; refreshSeconds?: number };
  },
): Promise<Fleet> {
  const base = fixtureConfig(fx);
  const local: ConfigInput = {
    ...base,
    postgresInstances: [{ ...base.postgresInstances![0]!, allowedUsers: [...options.usernames] }],
    grants: [ROLE_ARN, OTHER_ROLE_ARN].map((principal) => ({
      principal,
      postgres: [{ instance: 'reporting_server', usernames: [...options.usernames] }],
    })),
  };
  const shared: ConfigInput = {
    ...local,
    cache: {
      shared: {
        dynamodb: { tableName: CACHE_TABLE },
        kmsKeyId: CACHE_KEY_ID,
        leaseSeconds: options.leaseSeconds ?? 10,
      },
    },
  };
  const sharedLongLease: ConfigInput = {
    ...local,
    cache: { shared: { dynamodb: { tableName: CACHE_TABLE }, kmsKeyId: CACHE_KEY_ID, leaseSeconds: 30 } },
  };
  // The same stack after its connection's role changed to one without USAGE on the instance.
  const noUsage: ConfigInput = {
    ...shared,
    connections: { demo: { ...shared.connections!.demo!, role: 'NO_USAGE' } },
  };
  const setup = JSON.stringify({
    shared,
    sharedLongLease,
    local,
    ...(options.hostile ? { hostile: { ...options.hostile, noUsage } } : {}),
    ...(options.revocations
      ? {
          revocations: {
            endpoint: options.revocations.endpoint,
            config: {
              ...shared,
              revocations: {
                dynamodb: { tableName: options.revocations.tableName },
                refreshSeconds: options.revocations.refreshSeconds ?? 2,
              },
            } satisfies ConfigInput,
          },
        }
      : {}),
    dynamoEndpoint: options.dynamoEndpoint,
    masterKey: randomBytes(32).toString('base64'),
  });
  const worker = await bundledWorker();
  const workers = Array.from({ length: options.containers }, () =>
    fork(worker, [], {
      execArgv: [],
      env: { ...process.env, FLEET_SETUP: setup },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    }),
  );
  // Each question listens for the worker's exit: many at once are expected, not a leak.
  for (const w of workers) w.setMaxListeners(0);
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('exit', (code) => reject(new Error(`a worker exited with ${code} before it was ready`)));
        }),
    ),
  );
  let nextId = 0;
  /** Send `message` (numbered here) and resolve with the worker's answer of type `answer` to it. */
  const request = <T>(worker: ChildProcess, message: object, answer: string, take: (m: never) => T) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      const onMessage = (m: { type: string; id: number }) => {
        if (m.type !== answer || m.id !== id) return;
        worker.off('message', onMessage);
        resolve(take(m as never));
      };
      worker.on('message', onMessage);
      worker.once('exit', () => reject(new Error('the worker died')));
      worker.send({ ...message, id });
    });
  const counts: Fleet['counts'] = (worker) =>
    request(worker, { type: 'counts' }, 'counts', (m: { counts: Record<string, number> }) => m.counts);
  const ask: Fleet['ask'] = (
    worker,
    mode,
    usernames,
    deadlineMs = 20_000,
    sequential = false,
    principalArn,
  ) =>
    request(
      worker,
      {
        type: 'vend',
        mode,
        usernames,
        deadlineMs,
        sequential,
        ...(principalArn ? { principalArn } : {}),
      } satisfies Omit<VendMessage, 'id'>,
      'result',
      (m: { results: VendResult[] }) => m.results,
    );
  const fleet: Fleet = {
    workers,
    configs: { shared, noUsage },
    ask,
    counts,
    burst: async (members, mode, targets, callers) => {
      const perWorker = members.map(() => [] as string[]);
      for (let i = 0; i < callers; i += 1)
        perWorker[i % members.length]!.push(targets[Math.floor(i / members.length) % targets.length]!);
      return (await Promise.all(members.map((w, i) => ask(w, mode, perWorker[i]!)))).flat();
    },
    close: () => {
      for (const w of fleet.workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    },
  };
  return fleet;
}
