import { STSClient } from '@aws-sdk/client-sts';
import type { LocalCredential } from './sigv4';

/**
 * The runtime's STS client factory for the local STS, signing as `credential` (the vendor's role).
 *
 * @example
 * ```ts
 * createRuntime({ config, sts: localStsClient(stack.sts.url, 'us-east-1', vendorCredential) });
 * ```
 */
export function localStsClient(endpoint: string, region: string, credential: LocalCredential) {
  return (): STSClient =>
    new STSClient({
      region,
      endpoint,
      credentials: {
        accessKeyId: credential.accessKeyId,
        secretAccessKey: credential.secretAccessKey,
        ...(credential.sessionToken ? { sessionToken: credential.sessionToken } : {}),
      },
    });
}
