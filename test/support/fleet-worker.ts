/**
 * One "container" of the fleet test (test/e2e/fleet-cache.test.ts), run as its own process: the real
 * runtime with its own memory cache, the shared cache on the test's dynalite, KMS mocked at the SDK
 * boundary with the fleet's shared master key. It vends what the parent asks, concurrently, and answers
 * with each outcome.
 */
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
}
export interface VendMessage {
  readonly type: 'vend';
  readonly id: number;
  readonly mode: 'shared' | 'shared-long-lease' | 'local';
  readonly usernames: readonly string[];
  readonly deadlineMs: number;
}
export type VendResult = { ok: true; cache: string; tokenId: string } | { ok: false; code: string };

const setup = JSON.parse(process.env.FLEET_SETUP ?? '{}') as Setup;
const kms = fakeKms(Buffer.from(setup.masterKey, 'base64'));
const retry = { baseDelayMs: 10, maxDelayMs: 100, maxAttempts: 3 };
const runtimes = {
  shared: createRuntime({
    config: parseConfig(setup.shared),
    kms: kms.client,
    dynamodb: () => dynamoClient(setup.dynamoEndpoint),
    retry,
    onSharedCacheFallback: (reason, error) => {
      if (process.env.FLEET_DEBUG)
        process.stderr.write(`fallback ${reason} ${(error as Error)?.name}: ${(error as Error)?.message}\n`);
    },
  }),
  'shared-long-lease': createRuntime({
    config: parseConfig(setup.sharedLongLease),
    kms: kms.client,
    dynamodb: () => dynamoClient(setup.dynamoEndpoint),
    retry,
  }),
  local: createRuntime({ config: parseConfig(setup.local), retry }),
};

process.on('message', async (message: VendMessage) => {
  if (message.type !== 'vend') return;
  const runtime = runtimes[message.mode];
  const results = await Promise.all(
    message.usernames.map(async (username): Promise<VendResult> => {
      try {
        const { audit } = await runtime.vendor.vend(
          { kind: 'http', principalArn: ROLE_ARN },
          { tokenType: 'postgres', instance: 'reporting_server', username },
          { deadline: Date.now() + message.deadlineMs },
        );
        return { ok: true, cache: audit.cache, tokenId: audit.tokenId };
      } catch (error) {
        return { ok: false, code: (error as { code?: string }).code ?? (error as Error).name };
      }
    }),
  );
  process.send?.({ type: 'result', id: message.id, results });
});
process.send?.({ type: 'ready' });
// The parent may die without killing us: never outlive it.
process.on('disconnect', () => process.exit(0));
