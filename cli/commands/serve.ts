import { isAbsolute, join, relative, resolve } from 'node:path';
import { DEMO_VENDOR_ROLE_ARN, makePrivateDirectory, startLocalStack } from '../../dev/local/local-stack';
import { postgresBinDir } from '../../dev/local/postgres';
import type { LocalCredential } from '../../dev/local/sigv4';
import { ROUTES } from '../../lambda/api/routes';
import { parseCommand, seconds } from '../args';
import { readCredentialsFile } from '../credentials';
import { UsageError } from '../errors';
import type { CliIo } from '../io';
import { assertPortFree, localDir, removeStackFile, writeStackFile } from '../local-stack-file';

/**
 * `token-vendor serve` (what `npm start` runs): the local stack until Ctrl-C. Prints the endpoint and
 * commands that work exactly as printed.
 */
export async function serve(args: string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  // `npm start --port N` (without `--`): npm 11 takes `--port` as a flag of its own, sets
  // npm_config_port=true and passes N on as an argument; older npm set npm_config_port=N.
  const npmPort = io.env.npm_config_port;
  const npmFlag = npmPort === 'true' || npmPort === '';
  const { values, positionals } = parseCommand('serve', args, npmFlag);
  if (positionals.length > 1 || (positionals.length === 1 && !/^\d{1,5}$/.test(positionals[0]!)))
    throw new UsageError(
      `serve: unexpected argument "${positionals.at(-1)}". Run "token-vendor serve --help".`,
    );
  const portText = values.port ?? positionals[0] ?? (npmFlag ? undefined : npmPort) ?? io.env.PORT ?? '8787';
  const exitAfter = seconds(values['exit-after'], 'exit-after', 'serve');
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535)
    throw new UsageError(`serve: --port must be 0…65535, not "${portText}".`);
  if (values.credentials !== undefined && values.config === undefined)
    throw new UsageError('serve: --credentials goes with --config (the demo makes its own credentials).');
  if (values.region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d$/.test(values.region))
    throw new UsageError(`serve: --region must be an AWS region such as us-east-1.`);
  const dir = values.dir ?? localDir(io.env);
  // Every argument is checked before the port: a mistake in one is reported as itself, whether or not
  // another stack holds the port (the tests run while `npm start` holds 8787).
  let credentials: { file: string; list: LocalCredential[] } | undefined;
  if (values.config !== undefined) {
    const file = values.credentials ?? join(dir, 'demo-credentials.json');
    const list = readCredentialsFile(file, 'serve', { principalRequired: true }) as LocalCredential[];
    credentials = { file, list };
  }
  // Before anything touches the directory: a second `serve` on a busy port must not replace the key and
  // credentials of the stack that is running there.
  await assertPortFree(Number(portText), dir);
  try {
    makePrivateDirectory(dir);
  } catch (error) {
    throw new UsageError(
      `serve: cannot use --dir ${dir} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`,
    );
  }
  // From here to the end, SIGINT and SIGTERM stop the stack cleanly, whenever they come.
  return untilStopped(signal, async (stopped, stop) => {
    const stack = await startLocalStack({
      ...(values.config ? { configFile: values.config } : {}),
      ...(credentials ? { credentials } : {}),
      dir,
      port: Number(portText),
      region: values.region ?? 'us-east-1',
      database: values['no-database'] ? false : 'auto',
      postgresBin: postgresBinDir(io.env) ?? null,
    });
    const shown = (path: string) => {
      const rel = relative(process.cwd(), path);
      return rel.startsWith('..') ? path : rel;
    };
    const [credential] = stack.credentials;
    const endpoint = stack.gateway.url;
    // Never the secret itself: the curl line reads it from the credentials file when it runs.
    const file = shown(stack.credentialsFile);
    const fromFile = `$(node -p "const c = [].concat(require('${isAbsolute(file) ? file : `./${file}`}'))[0]; c.accessKeyId + ':' + c.secretAccessKey")`;
    const credFlag = `--credentials ${shown(stack.credentialsFile)}`;
    const endpointFlag = endpoint === 'http://127.0.0.1:8787' ? '' : ` --endpoint ${endpoint}`;
    // What `token-vendor get` reads to find this stack when given no endpoint and no credentials.
    const stackFile = writeStackFile(dir, {
      endpoint,
      region: stack.region,
      credentialsFile: resolve(stack.credentialsFile),
      pid: process.pid,
      configFile: resolve(stack.configFile),
      ...(stack.sts && stack.vendorCredentialsFile
        ? { sts: { endpoint: stack.sts.url, credentialsFile: resolve(stack.vendorCredentialsFile) } }
        : {}),
      ...('tableName' in stack.revocations ? { revocations: stack.revocations } : {}),
    });
    const tryLines = stack.emulator
      ? [
          'Try:',
          `  curl -s --aws-sigv4 "aws:amz:${stack.region}:execute-api" --user "${fromFile}" -H 'content-type: application/json' -d '${JSON.stringify(ROUTES.postgres.example)}' ${endpoint}${ROUTES.postgres.path}`,
          `  npx token-vendor get postgres ${credFlag}${endpointFlag} --instance reporting_server --username reporting_user`,
          ...(stack.database && 'port' in stack.database
            ? [
                `  npx token-vendor exec ${credFlag}${endpointFlag} --postgres reporting_server/reporting_user -- psql -c 'select current_user'`,
              ]
            : []),
          `  npx token-vendor get postgres ${credFlag}${endpointFlag} --connection demo-keyless --instance reporting_server --username reporting_user`,
          `  npx token-vendor get snowflake-jwt ${credFlag}${endpointFlag} --connection demo --json`,
          `  npx token-vendor get oauth ${credFlag}${endpointFlag} --integration demo-oauth`,
          `  npx token-vendor rotation-check --config ${shown(stack.configFile)}`,
        ]
      : [
          'Call it with (names from your config):',
          `  npx token-vendor get postgres ${credFlag}${endpointFlag} --instance I --username U`,
          `  npx token-vendor get snowflake-jwt ${credFlag}${endpointFlag} --connection C`,
          `  npx token-vendor get oauth ${credFlag}${endpointFlag} --integration N`,
        ];
    const lines = [
      '',
      'Token Vendor is running locally.',
      `  endpoint     ${endpoint}   (SigV4: region ${stack.region}, service execute-api)`,
      `  principal    ${credential?.principalArn ?? '(from the credentials file)'}`,
      `  config       ${shown(stack.configFile)}`,
      `  credentials  ${shown(stack.credentialsFile)}`,
      stack.emulator
        ? `  snowflake    emulator at ${stack.emulator.url}`
        : '  snowflake    as the config says',
      ...(stack.sts
        ? [`  sts          ${stack.sts.url}   (demo-keyless signs in as ${DEMO_VENDOR_ROLE_ARN})`]
        : []),
      ...(stack.database
        ? 'port' in stack.database
          ? [
              `  postgres     ${stack.database.host}:${stack.database.port}   (a throwaway PostgreSQL behind reporting_server: each token is reporting_user's password until it expires)`,
            ]
          : [`  postgres     none. ${stack.database.missing}`]
        : []),
      '',
      ...tryLines,
      '',
      'Audit records follow, one JSON line per request. Ctrl-C stops.',
      '',
    ];
    io.stderr.write(`${lines.join('\n')}\n`);
    // Tests pass --exit-after so a server they start stops by itself even if they do not.
    if (exitAfter !== undefined) setTimeout(() => stop('exit-after'), exitAfter * 1000).unref();
    const reason = await stopped;
    await stack.close();
    removeStackFile(stackFile);
    io.stderr.write(`Token Vendor stopped (${reason}).\n`);
    // As shells expect of a program stopped by Ctrl-C: 128 + SIGINT.
    return reason === 'SIGINT' ? 130 : 0;
  });
}

/**
 * Run `body` with SIGINT and SIGTERM handled from its first line to its last: a signal while the stack
 * starts, runs or stops resolves `stopped` once, and never kills the process halfway. (Under `npm
 * start`, Ctrl-C reaches this process twice: from the terminal's process group, and forwarded by npm.
 * A signal with no handler installed, before the banner's handlers or after the first signal removed
 * them, killed it mid-way and left its PostgreSQL running.)
 */
async function untilStopped<T>(
  signal: AbortSignal | undefined,
  body: (stopped: Promise<string>, stop: (why: string) => void) => Promise<T>,
): Promise<T> {
  let settle: (why: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => {
    settle = resolve;
  });
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    settle(why);
  };
  const onInterrupt = () => stop('SIGINT');
  const onTerminate = () => stop('SIGTERM');
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onTerminate);
  if (signal?.aborted) stop('stop');
  signal?.addEventListener('abort', () => stop('stop'), { once: true });
  try {
    return await body(stopped, stop);
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onTerminate);
  }
}
