/**
 * One "container" of the fleet test (test/e2e/fleet-cache.test.ts), run as its own process: the real
 * runtime with its own memory cache, the shared cache on the test's dynalite, KMS mocked at the SDK
 * boundary with the fleet's shared master key. It vends what the parent asks, concurrently, and answers
 * with each outcome.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { AWS_CLIENT_DEFAULTS } from '../../lambda/aws/sdk';
import { parseConfig } from '../../lambda/config/load';
import type { ConfigInput } from '../../lambda/config/schema';
import { createRuntime } from '../../lambda/runtime';
import { ROLE_ARN } from './events';
import { dynamoClient, fakeKms } from './shared-cache';

interface Setup {
  readonly shared: ConfigInput;
  /** The same with 30-second leases: a slow machine never lets a live holder's lease lapse. */
  readonly sharedLongLease: ConfigInput;
  readonly local: ConfigInput;
  readonly dynamoEndpoint: string;
  readonly masterKey: string;
  /** The hostile-table modes: the KMS stand-in (a real KMSClient over HTTP) and an endpoint that hangs. */
  readonly hostile?: { readonly kmsUrl: string; readonly hangingUrl: string; readonly noUsage: ConfigInput };
  /** The revocation modes: the shared config with a revocation list on its own DynamoDB. */
  readonly revocations?: { readonly config: ConfigInput; readonly endpoint: string };
}
export interface VendMessage {
  readonly type: 'vend';
  readonly id: number;
  readonly mode:
    | 'shared'
    | 'shared-long-lease'
    | 'local'
    /** Production clients and limits: KMS over HTTP (the stand-in), DynamoDB with the functions' timeouts. */
    | 'hostile'
    /** The same stack after its connection's role changed to one without USAGE on the instance. */
    | 'hostile-no-usage'
    /** Another stack that shares the table (and the KMS key). */
    | 'hostile-other-stack'
    /** DynamoDB's endpoint accepts connections and never answers. */
    | 'dynamodb-hung'
    /** The shared cache with the revocation list. */
    | 'revocations'
    /** The same, in a container that has not vended yet (its first read of the list is its first vend). */
    | 'revocations-cold';
  readonly usernames: readonly string[];
  /** Who asks (default ROLE_ARN). */
  readonly principalArn?: string;
  readonly deadlineMs: number;
  /** One vend at a time, as Lambda gives a container one request at a time (default: all at once). */
  readonly sequential?: boolean;
}
/** This worker's AWS calls by kind since it started: `dynamodb:GetItem`, `kms:Decrypt`, … */
export interface CountsMessage {
  readonly type: 'counts';
  readonly id: number;
}
/** Each result also says how long the vend took and how many DynamoDB calls it made (coalesced: 0). */
export type VendResult = ({ ok: true; cache: string; tokenId: string } | { ok: false; code: string }) & {
  elapsedMs: number;
  dynamoCalls: number;
};

const setup = JSON.parse(process.env.FLEET_SETUP ?? '{}') as Setup;
// The mock replaces every KMSClient's send in this process: a hostile fleet talks to its KMS stand-in
// over HTTP instead, and has only the hostile modes.
const kms = setup.hostile ? undefined : fakeKms(Buffer.from(setup.masterKey, 'base64'));
const retry = { baseDelayMs: 10, maxDelayMs: 100, maxAttempts: 3 };
/**
 * The shared and shared-long-lease modes measure the protocol (one mint per target), not the time bounds:
 * dynalite is one Node process, and hundreds of lease races queue there for seconds where DynamoDB
 * answers in milliseconds. The hostile modes keep the production limits (test/e2e/fleet-hostile.test.ts).
 */
const PROTOCOL_LIMITS = { callTimeoutMs: 15_000, awsBudgetMs: 60_000, maxDynamoDbCalls: 1000 };
/** FLEET_DEBUG=1: each worker says why its shared cache fell back. */
function debugFallback(reason: string, error?: unknown) {
  if (process.env.FLEET_DEBUG)
    process.stderr.write(`fallback ${reason} ${(error as Error)?.name}: ${(error as Error)?.message}\n`);
}
// Which vend a DynamoDB call belongs to: each vend runs in its own store, the client counts into it.
const perVend = new AsyncLocalStorage<{ dynamoCalls: number }>();
/** This process's AWS calls by kind, for the cost benchmark (`{ type: 'counts' }` asks for them). */
const awsCalls: Record<string, number> = {};
function counted(client: DynamoDBClient): DynamoDBClient {
  const send = client.send.bind(client) as (...args: unknown[]) => Promise<unknown>;
  (client as unknown as { send: (...args: unknown[]) => Promise<unknown> }).send = (...args) => {
    const store = perVend.getStore();
    if (store) store.dynamoCalls += 1;
    const kind = `dynamodb:${(args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, '')}`;
    awsCalls[kind] = (awsCalls[kind] ?? 0) + 1;
    return send(...args);
  };
  return client;
}
/** The functions' own client settings (timeouts, two attempts), pointed at a local endpoint. */
const local = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
const hostileRuntime = (config: ConfigInput, namespace: string, dynamoEndpoint: string) => {
  const kmsClient = new KMSClient({ ...AWS_CLIENT_DEFAULTS, ...local, endpoint: setup.hostile!.kmsUrl });
  const dynamodb = counted(dynamoClient(dynamoEndpoint, AWS_CLIENT_DEFAULTS));
  return createRuntime({
    config: parseConfig(config),
    kms: () => kmsClient,
    dynamodb: () => dynamodb,
    env: { TOKEN_VENDOR_CACHE_NAMESPACE: namespace },
    retry,
    onSharedCacheFallback: debugFallback,
  });
};
const hostileRuntimes = setup.hostile
  ? {
      hostile: hostileRuntime(setup.shared, 'stack-a', setup.dynamoEndpoint),
      'hostile-no-usage': hostileRuntime(setup.hostile.noUsage, 'stack-a', setup.dynamoEndpoint),
      'hostile-other-stack': hostileRuntime(setup.shared, 'stack-b', setup.dynamoEndpoint),
      'dynamodb-hung': hostileRuntime(setup.shared, 'stack-a', setup.hostile.hangingUrl),
    }
  : undefined;
const runtimes: Partial<Record<VendMessage['mode'], ReturnType<typeof createRuntime>>> = hostileRuntimes ?? {
  shared: createRuntime({
    config: parseConfig(setup.shared),
    kms: kms!.client,
    dynamodb: (() => {
      const client = counted(dynamoClient(setup.dynamoEndpoint));
      return () => client;
    })(),
    retry,
    onSharedCacheFallback: debugFallback,
    sharedCacheLimits: PROTOCOL_LIMITS,
  }),
  'shared-long-lease': createRuntime({
    config: parseConfig(setup.sharedLongLease),
    kms: kms!.client,
    dynamodb: () => dynamoClient(setup.dynamoEndpoint),
    retry,
    sharedCacheLimits: PROTOCOL_LIMITS,
  }),
  local: createRuntime({ config: parseConfig(setup.local), retry }),
  ...(setup.revocations
    ? Object.fromEntries(
        (['revocations', 'revocations-cold'] as const).map((mode) => [
          mode,
          createRuntime({
            config: parseConfig(setup.revocations!.config),
            kms: kms!.client,
            dynamodb: (() => {
              const client = counted(dynamoClient(setup.dynamoEndpoint));
              return () => client;
            })(),
            // The functions' own client settings: a stopped table fails within its timeouts.
            revocationsDynamodb: (() => {
              const client = dynamoClient(setup.revocations!.endpoint, AWS_CLIENT_DEFAULTS);
              return () => client;
            })(),
            retry,
            sharedCacheLimits: PROTOCOL_LIMITS,
          }),
        ]),
      )
    : {}),
};

process.on('message', async (message: VendMessage | CountsMessage) => {
  if (message.type === 'counts') {
    const counts = {
      ...awsCalls,
      ...(kms ? { 'kms:Decrypt': kms.calls.decrypt, 'kms:GenerateDataKey': kms.calls.generateDataKey } : {}),
    };
    process.send?.({ type: 'counts', id: message.id, counts });
    return;
  }
  if (message.type !== 'vend') return;
  const runtime = await runtimes[message.mode];
  if (!runtime) throw new Error(`mode ${message.mode} needs the fleet's hostile setup`);
  const vendOne = (username: string) => {
    const counts = { dynamoCalls: 0 };
    return perVend.run(counts, async (): Promise<VendResult> => {
      const started = performance.now();
      const spent = () => ({ elapsedMs: Math.round(performance.now() - started), ...counts });
      try {
        const { audit } = await runtime.vendor.vend(
          { kind: 'http', principalArn: message.principalArn ?? ROLE_ARN },
          { tokenType: 'postgres', instance: 'reporting_server', username },
          { deadline: Date.now() + message.deadlineMs },
        );
        return { ok: true, cache: audit.cache, tokenId: audit.tokenId, ...spent() };
      } catch (error) {
        return { ok: false, code: (error as { code?: string }).code ?? (error as Error).name, ...spent() };
      }
    });
  };
  const results: VendResult[] = [];
  if (message.sequential) for (const username of message.usernames) results.push(await vendOne(username));
  else results.push(...(await Promise.all(message.usernames.map(vendOne))));
  process.send?.({ type: 'result', id: message.id, results });
});
process.send?.({ type: 'ready' });
// The parent may die without killing us: never outlive it.
process.on('disconnect', () => process.exit(0));
