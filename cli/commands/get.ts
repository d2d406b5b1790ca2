import { TokenVendorClient } from '../../client/client';
import { TokenVendorClientError } from '../../client/types';
import { TokenVendorError } from '../../lambda/errors';
import { checkedUrl, parseCommand, required } from '../args';
import { readCredentialsFile } from '../credentials';
import { UsageError } from '../errors';
import type { CliIo } from '../io';
import { localDir, runningLocalStack } from '../local-stack-file';

/**
 * `token-vendor get …`: a SigV4-signed call to a deployed or local Token Vendor through the client
 * library. Credentials: `--credentials F` (a JSON file with accessKeyId/secretAccessKey[/sessionToken],
 * such as `.local/demo-credentials.json`), or the AWS default chain.
 */
export async function get(args: string[], io: CliIo): Promise<void> {
  const [kind, ...rest] = args;
  if (kind !== 'postgres' && kind !== 'snowflake-jwt' && kind !== 'oauth') {
    throw new UsageError('get: say what to get: postgres, snowflake-jwt or oauth.');
  }
  const { values } = parseCommand('get', rest);
  // Without an endpoint: the local stack this checkout runs (.local/stack.json), which also names its
  // credentials file; without one running, the default local address.
  const local =
    values.endpoint || io.env.TOKEN_VENDOR_ENDPOINT ? undefined : runningLocalStack(localDir(io.env));
  const endpoint = checkedUrl(
    values.endpoint ?? io.env.TOKEN_VENDOR_ENDPOINT ?? local?.endpoint ?? 'http://127.0.0.1:8787',
    values.endpoint ? '--endpoint' : 'TOKEN_VENDOR_ENDPOINT',
    `get ${kind}`,
  );
  const credentialsFile = values.credentials ?? local?.credentialsFile;
  if (!values.endpoint && !io.env.TOKEN_VENDOR_ENDPOINT && !local && !credentialsFile)
    throw new UsageError(
      `get ${kind}: no local stack is running here (start one with "npm start"), and no --endpoint or TOKEN_VENDOR_ENDPOINT names a deployed Token Vendor.`,
    );
  const client = new TokenVendorClient({
    endpoint,
    region: values.region ?? io.env.AWS_REGION ?? local?.region ?? 'us-east-1',
    ...(credentialsFile ? { credentials: readCredentialsFile(credentialsFile, `get ${kind}`)[0]! } : {}),
  });
  try {
    const token =
      kind === 'postgres'
        ? await client.postgres({
            instance: required(values.instance, 'instance', 'get postgres'),
            username: required(values.username, 'username', 'get postgres'),
            ...(values.connection ? { connection: values.connection } : {}),
          })
        : kind === 'snowflake-jwt'
          ? await client.snowflakeJwt({
              connection: required(values.connection, 'connection', 'get snowflake-jwt'),
            })
          : await client.oauth({
              integration: required(values.integration, 'integration', 'get oauth'),
              ...(values.scope ? { scopes: values.scope } : {}),
            });
    io.stdout.write(values.json ? `${JSON.stringify(token, null, 2)}\n` : `${token.token}\n`);
  } catch (error) {
    if (error instanceof TokenVendorClientError)
      throw Object.assign(new TokenVendorError(error.code, error.message), {
        ...(error.requestId ? { requestId: error.requestId } : {}),
      });
    // The AWS default chain found nothing: say how to give credentials, not only that there are none.
    if ((error as Error)?.name === 'CredentialsProviderError')
      throw new UsageError(
        `get ${kind}: no AWS credentials for ${endpoint}: pass --credentials FILE (a JSON file with accessKeyId and secretAccessKey) or set AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, …).`,
      );
    throw error;
  }
}
