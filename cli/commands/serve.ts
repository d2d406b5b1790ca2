import { relative } from 'node:path';
import { startLocalStack } from '../../infra/local/local-stack';
import { parseFlags, seconds } from '../args';
import { UsageError } from '../errors';
import type { CliIo } from '../io';

export const usage =
  'serve [--config F --credentials F] [--port N] [--region R] [--dir D] [--exit-after S]   (no --config: the demo)';

/**
 * `token-vendor serve` (what `npm start` runs): the local stack until Ctrl-C. Prints the endpoint and
 * commands that work exactly as printed.
 */
export async function serve(args: string[], io: CliIo, signal?: AbortSignal): Promise<void> {
  const { values } = parseFlags(
    args,
    {
      config: { type: 'string' },
      credentials: { type: 'string' },
      port: { type: 'string' },
      region: { type: 'string' },
      dir: { type: 'string' },
      'exit-after': { type: 'string' },
    },
    'serve',
  );
  const portText = values.port ?? io.env.PORT ?? '8787';
  const exitAfter = seconds(values['exit-after'], 'exit-after', 'serve');
  if (!/^\d+$/.test(portText) || Number(portText) > 65535)
    throw new UsageError(`serve: --port must be 0…65535, not "${portText}".`);
  const stack = await startLocalStack({
    ...(values.config ? { configFile: values.config } : {}),
    ...(values.credentials ? { credentialsFile: values.credentials } : {}),
    ...(values.dir ? { dir: values.dir } : {}),
    port: Number(portText),
    region: values.region ?? 'us-east-1',
  });
  const shown = (path: string) => {
    const rel = relative(process.cwd(), path);
    return rel.startsWith('..') ? path : rel;
  };
  const [credential] = stack.credentials;
  const endpoint = stack.gateway.url;
  const credFlag = `--credentials ${shown(stack.credentialsFile)}`;
  const endpointFlag = endpoint === 'http://127.0.0.1:8787' ? '' : ` --endpoint ${endpoint}`;
  const lines = [
    '',
    'Token Vendor is running locally.',
    `  endpoint     ${endpoint}   (SigV4: region ${stack.region}, service execute-api)`,
    `  principal    ${credential?.principalArn ?? '(from the credentials file)'}`,
    `  config       ${shown(stack.configFile)}`,
    `  credentials  ${shown(stack.credentialsFile)}`,
    stack.emulator ? `  snowflake    emulator at ${stack.emulator.url}` : '  snowflake    as the config says',
    '',
    'Try:',
    `  curl -s --aws-sigv4 "aws:amz:${stack.region}:execute-api" --user "${credential?.accessKeyId}:${credential?.secretAccessKey}" -H 'content-type: application/json' -d '{"instance":"reporting_server","username":"reporting_user"}' ${endpoint}/v1/tokens/postgres`,
    `  npx token-vendor get postgres ${credFlag}${endpointFlag} --instance reporting_server --username reporting_user`,
    `  npx token-vendor get snowflake-jwt ${credFlag}${endpointFlag} --connection demo --json`,
    `  npx token-vendor get oauth ${credFlag}${endpointFlag} --integration demo-oauth`,
    `  npx token-vendor rotation-check --config ${shown(stack.configFile)}`,
    '',
    'Audit records follow, one JSON line per request. Ctrl-C stops.',
    '',
  ];
  io.stderr.write(`${lines.join('\n')}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    signal?.addEventListener('abort', stop, { once: true });
    // Tests pass --exit-after so a server they start stops by itself even if they do not.
    if (exitAfter !== undefined) setTimeout(stop, exitAfter * 1000).unref();
  });
  await stack.close();
}
