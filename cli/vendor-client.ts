import { TokenVendorClient } from '../client/client';
import { TokenVendorClientError } from '../client/types';
import { TokenVendorError } from '../lambda/errors';
import { checkedUrl } from './args';
import { readCredentialsFile } from './credentials';
import { UsageError } from './errors';
import type { CliIo } from './io';
import { localDir, runningLocalStack } from './local-stack-file';

/** The flags `get` and `exec` share: where the vendor is, and as whom to call it. */
export interface VendorFlags {
  readonly endpoint?: string | undefined;
  readonly region?: string | undefined;
  readonly credentials?: string | undefined;
}

/**
 * The client `get` and `exec` call the vendor with. Without an endpoint: the local stack this checkout
 * runs (.local/stack.json), which also names its credentials file; with credentials but no stack, the
 * default local address. With neither, a usage error that says to start the stack or name an endpoint.
 *
 * @example
 * ```ts
 * const { client, call } = vendorClient('get postgres', values, io);
 * const token = await call(() => client.postgres({ instance, username }));
 * ```
 */
export function vendorClient(command: string, values: VendorFlags, io: CliIo) {
  const local =
    values.endpoint || io.env.TOKEN_VENDOR_ENDPOINT ? undefined : runningLocalStack(localDir(io.env));
  const endpoint = checkedUrl(
    values.endpoint ?? io.env.TOKEN_VENDOR_ENDPOINT ?? local?.endpoint ?? 'http://127.0.0.1:8787',
    values.endpoint ? '--endpoint' : 'TOKEN_VENDOR_ENDPOINT',
    command,
  );
  const credentialsFile = values.credentials ?? local?.credentialsFile;
  if (!values.endpoint && !io.env.TOKEN_VENDOR_ENDPOINT && !local && !credentialsFile)
    throw new UsageError(
      `${command}: no local stack is running here (start one with "npm start"), and no --endpoint or TOKEN_VENDOR_ENDPOINT names a deployed Token Vendor.`,
    );
  const client = new TokenVendorClient({
    endpoint,
    region: values.region ?? io.env.AWS_REGION ?? local?.region ?? 'us-east-1',
    ...(credentialsFile ? { credentials: readCredentialsFile(credentialsFile, command)[0]! } : {}),
  });
  /** A call to the vendor, its failures as the CLI reports them (with the service's request id). */
  const call = async <T>(request: () => Promise<T>): Promise<T> => {
    try {
      return await request();
    } catch (error) {
      if (error instanceof TokenVendorClientError)
        throw Object.assign(new TokenVendorError(error.code, error.message), {
          ...(error.requestId ? { requestId: error.requestId } : {}),
        });
      // The AWS default chain found nothing: say how to give credentials, not only that there are none.
      if ((error as Error)?.name === 'CredentialsProviderError')
        throw new UsageError(
          `${command}: no AWS credentials for ${endpoint}: pass --credentials FILE (a JSON file with accessKeyId and secretAccessKey) or set AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, …).`,
        );
      throw error;
    }
  };
  return { client, endpoint, call };
}
