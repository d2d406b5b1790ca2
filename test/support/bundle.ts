import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { build } from 'esbuild';
import { lambdaBundleOptions } from '../../dev/lambda-bundle.mjs';
import { lambdaContext, ROLE_SESSION, restEvent } from './events';

/**
 * Bundle `entry` into `outfile` exactly as the construct's functions are bundled (dev/build.mjs): ESM
 * for node22, minified with names kept, the AWS SDK left to the runtime.
 *
 * @example
 * ```ts
 * await bundleLikeCdk(floorEntry, join(dir, 'index.mjs'));
 * ```
 */
export async function bundleLikeCdk(entry: string, outfile: string): Promise<void> {
  await build({ ...lambdaBundleOptions(entry, outfile), logLevel: 'silent' });
}

/**
 * Import the http function from a synthesized asset directory and ask it for a Postgres token, as API
 * Gateway would for the test role; `configFile` stands in for /var/task/config.json.
 *
 * @example
 * ```ts
 * const response = await askAssetForPostgresToken(join(out, asset), join(out, asset, 'config.json'));
 * ```
 */
export async function askAssetForPostgresToken(
  asset: string,
  configFile: string,
): Promise<APIGatewayProxyResult> {
  process.env.TOKEN_VENDOR_CONFIG_FILE = configFile;
  writeFileSync(join(asset, 'package.json'), '{"type":"module"}');
  try {
    const { handler } = await import(join(asset, 'index.mjs'));
    return (await handler(
      restEvent(
        '/v1/tokens/postgres',
        { instance: 'reporting_server', username: 'reporting_user' },
        ROLE_SESSION,
      ),
      lambdaContext(),
    )) as APIGatewayProxyResult;
  } finally {
    delete process.env.TOKEN_VENDOR_CONFIG_FILE;
  }
}
