import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHangingServer } from '../../../dev/local/kms';
import { AWS_CLIENT_DEFAULTS } from '../../../lambda/aws/sdk';
import { KmsSigner } from '../../../lambda/keys/kms-signer';
import { SecretsManagerSigner } from '../../../lambda/keys/secrets-manager-signer';
import { publicError } from '../../../lambda/vending/public-error';

/**
 * An AWS endpoint that accepts connections and never answers, reached by the real SDK clients with the
 * settings the functions use (AWS_CLIENT_DEFAULTS): the key source fails in about 4 s (two attempts of
 * 2 s) with a 503 the caller can retry, never a hang until the function's timeout and never a 500.
 */
describe('a hung Secrets Manager or KMS endpoint', () => {
  let hanging: Awaited<ReturnType<typeof startHangingServer>>;
  beforeAll(async () => {
    hanging = await startHangingServer();
  });
  afterAll(() => hanging.close());

  const local = () => ({
    ...AWS_CLIENT_DEFAULTS,
    region: 'us-east-1',
    endpoint: hanging.url,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const timed = async (call: () => Promise<unknown>) => {
    const started = performance.now();
    const error = await call().then(
      () => undefined,
      (e: unknown) => e,
    );
    return { error: error as { code?: string }, ms: performance.now() - started };
  };

  it('costs a key load about 4 s and a retryable 503, for either key source', async () => {
    const before = hanging.requests();
    const [secrets, kms] = await Promise.all([
      timed(() =>
        new SecretsManagerSigner({
          client: new SecretsManagerClient(local()),
          secretId: 'sf/key',
        }).currentKey(),
      ),
      timed(() => new KmsSigner({ client: new KMSClient(local()), keyId: 'alias/sf' }).currentKey()),
    ]);
    for (const { error, ms } of [secrets, kms]) {
      expect(error?.code).toBe('KEY_SOURCE_UNAVAILABLE');
      expect(publicError(error as Error)).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', status: 503 });
      // Two attempts of 2 s each (and the SDK's backoff between them), not the function's 25 s
      expect(ms).toBeGreaterThanOrEqual(2 * AWS_CLIENT_DEFAULTS.requestHandler.requestTimeout - 100);
      expect(ms).toBeLessThan(2 * AWS_CLIENT_DEFAULTS.requestHandler.requestTimeout + 2000);
    }
    expect(hanging.requests() - before).toBe(4); // two attempts each
  }, 20_000);
});
