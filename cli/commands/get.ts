import type { PostgresToken, VendedToken } from '../../client/types';
import { parseCommand, required } from '../args';
import { UsageError } from '../errors';
import type { CliIo } from '../io';
import { postgresEnvironment } from '../postgres-env';
import { vendorClient } from '../vendor-client';

const FORMATS = ['token', 'env', 'uri', 'json'] as const;
type Format = (typeof FORMATS)[number];

/**
 * `token-vendor get …`: a SigV4-signed call to a deployed or local Token Vendor through the client
 * library. Credentials: `--credentials F` (a JSON file with accessKeyId/secretAccessKey[/sessionToken],
 * such as `.local/demo-credentials.json`), or the AWS default chain. A Postgres token can come as the
 * bare token, shell `export` lines, a connection URI or JSON (`--format`).
 */
export async function get(args: string[], io: CliIo): Promise<void> {
  const [kind, ...rest] = args;
  if (kind !== 'postgres' && kind !== 'snowflake-jwt' && kind !== 'oauth' && kind !== 'pat') {
    throw new UsageError('get: say what to get: postgres, snowflake-jwt, oauth or pat.');
  }
  const { values } = parseCommand('get', rest);
  const format = formatOf(values.format, values.json === true, kind);
  const { client, call } = vendorClient(`get ${kind}`, values, io);
  const token = await call(
    (): Promise<VendedToken> =>
      kind === 'postgres'
        ? client.postgres({
            instance: required(values.instance, 'instance', 'get postgres'),
            username: required(values.username, 'username', 'get postgres'),
            ...(values.connection ? { connection: values.connection } : {}),
          })
        : kind === 'snowflake-jwt'
          ? client.snowflakeJwt({
              connection: required(values.connection, 'connection', 'get snowflake-jwt'),
            })
          : kind === 'oauth'
            ? client.oauth({
                integration: required(values.integration, 'integration', 'get oauth'),
                ...(values.scope ? { scopes: values.scope } : {}),
              })
            : client.pat({
                target: required(values.target, 'target', 'get pat'),
                role: required(values.role, 'role', 'get pat'),
                ...(values.lifetime !== undefined ? { lifetimeSeconds: lifetimeOf(values.lifetime) } : {}),
              }),
  );
  if (format === 'json') io.stdout.write(`${JSON.stringify(token, null, 2)}\n`);
  else if (format === 'env') {
    const env = postgresEnvironment(token as PostgresToken, io.env);
    io.stdout.write(
      Object.entries(env)
        .map(([name, value]) => `export ${name}=${shellQuote(value)}\n`)
        .join(''),
    );
  } else if (format === 'uri') io.stdout.write(`${postgresUri(token as PostgresToken, io.env)}\n`);
  else io.stdout.write(`${token.token}\n`);
}

function formatOf(value: string | undefined, json: boolean, kind: string): Format {
  if (value === undefined) return json ? 'json' : 'token';
  if (!(FORMATS as readonly string[]).includes(value))
    throw new UsageError(`get: --format must be one of ${FORMATS.join(', ')}, not "${value}".`);
  if ((value === 'env' || value === 'uri') && kind !== 'postgres')
    throw new UsageError(`get ${kind}: --format ${value} is for Postgres tokens; use token or json.`);
  if (json && value !== 'json') throw new UsageError(`get: --json and --format ${value} disagree.`);
  return value as Format;
}

/** `--lifetime S`: whole seconds, as the route takes them (the vendor checks the range). */
function lifetimeOf(value: string): number {
  if (!/^\d{1,6}$/.test(value))
    throw new UsageError(`get pat: --lifetime must be whole seconds, not "${value}".`);
  return Number(value);
}

/** `postgresql://user:token@host:port/db?sslmode=…`, every part percent-encoded. */
function postgresUri(token: PostgresToken, env: Readonly<Record<string, string | undefined>>): string {
  const e = postgresEnvironment(token, env);
  const host = e.PGHOST.includes(':') ? `[${e.PGHOST}]` : e.PGHOST;
  return `postgresql://${encodeURIComponent(e.PGUSER)}:${encodeURIComponent(e.PGPASSWORD)}@${host}:${e.PGPORT}/${encodeURIComponent(e.PGDATABASE)}?sslmode=${encodeURIComponent(e.PGSSLMODE)}`;
}

/** A POSIX shell single-quoted word: nothing inside is expanded. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
