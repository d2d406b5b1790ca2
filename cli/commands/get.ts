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
    if (error instanceof TokenVendorClientError) throw new TokenVendorError(error.code, error.message);
    throw error;
  }
}
