/**
 * Every command's flags, once: the parser reads them (`parseCommand`), `--help` is generated from them,
 * and `main.ts` lists them without loading any command's code (so `--help` starts fast).
 */
export interface Flag {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  /** The value's placeholder in usage lines (`F`, `URL`, …); string flags only. */
  readonly value?: string;
  readonly required?: boolean;
  readonly help: string;
}

export interface CommandSpec {
  readonly summary: string;
  /** What comes before the flags (`postgres|snowflake-jwt|oauth`, `<token | ->`). */
  readonly positionals?: string;
  readonly flags: Readonly<Record<string, Flag>>;
  /** A line after the flags in `--help`. */
  readonly note?: string;
}

const KEY_FLAGS = {
  'private-key-file': {
    type: 'string',
    value: 'F',
    required: true,
    help: 'PKCS#8 PEM private key (mode 600: a file others can read is refused)',
  },
  'passphrase-env': {
    type: 'string',
    value: 'VAR',
    help: 'environment variable holding the key passphrase (never the passphrase itself)',
  },
} as const satisfies Record<string, Flag>;

/** Where a call to the vendor goes, and as whom: `get` and `exec`. */
const VENDOR_FLAGS = {
  endpoint: {
    type: 'string',
    value: 'URL',
    help: 'API base URL (default TOKEN_VENDOR_ENDPOINT, else the local stack)',
  },
  region: { type: 'string', value: 'R', help: 'SigV4 region (default AWS_REGION, else us-east-1)' },
  credentials: {
    type: 'string',
    value: 'F',
    help: 'credentials file (default: the local stack’s, else the AWS default chain)',
  },
} as const satisfies Record<string, Flag>;

/** Where the revocation list is: a deployed stack's table, or the local stack's. */
const REVOCATION_TABLE_FLAGS = {
  table: {
    type: 'string',
    value: 'T',
    help: "the stack's RevocationTableName output (default TOKEN_VENDOR_REVOCATION_TABLE, else the local stack's)",
  },
  region: { type: 'string', value: 'R', help: 'the table’s region (default AWS_REGION)' },
} as const satisfies Record<string, Flag>;

const SCOPE_FLAGS = {
  principal: { type: 'string', value: 'ARN', help: 'an IAM role or user (all its sessions; any path)' },
  account: { type: 'string', value: 'ID', help: 'every principal of a 12-digit AWS account' },
  target: {
    type: 'string',
    value: 'T',
    help: 'postgres:INSTANCE[/USER], snowflake-jwt:CONNECTION or oauth:INTEGRATION (with --principal: that principal on it)',
  },
} as const satisfies Record<string, Flag>;

const JSON_FLAG = {
  type: 'boolean',
  help: 'print JSON with TTL metadata instead of the bare value',
} as const;

export const SPECS = {
  fingerprint: {
    summary: "print the key's SHA256:… fingerprint, as Snowflake shows RSA_PUBLIC_KEY_FP",
    flags: { ...KEY_FLAGS },
  },
  jwt: {
    summary: 'mint a Snowflake key-pair JWT for the SQL API',
    flags: {
      account: {
        type: 'string',
        value: 'A',
        required: true,
        help: 'account identifier (any documented form)',
      },
      user: { type: 'string', value: 'U', required: true, help: 'Snowflake user' },
      ...KEY_FLAGS,
      lifetime: { type: 'string', value: 'S', help: 'lifetime in seconds, 60–3600 (default 3540)' },
      json: JSON_FLAG,
    },
  },
  'postgres-token': {
    summary: 'mint a Snowflake Postgres access token through the SQL API',
    flags: {
      account: { type: 'string', value: 'A', required: true, help: 'account identifier' },
      user: { type: 'string', value: 'U', required: true, help: 'the Snowflake service user' },
      ...KEY_FLAGS,
      instance: { type: 'string', value: 'I', required: true, help: 'Postgres instance name' },
      'pg-user': { type: 'string', value: 'P', required: true, help: 'Postgres user (case-sensitive)' },
      'api-url': {
        type: 'string',
        value: 'URL',
        help: 'SQL API base URL (https, or http to this machine); default https://<account>.snowflakecomputing.com',
      },
      role: { type: 'string', value: 'R', help: 'Snowflake role' },
      warehouse: { type: 'string', value: 'W', help: 'Snowflake warehouse' },
      json: JSON_FLAG,
    },
  },
  'rotation-check': {
    summary: "check each connection's key against DESC USER; exit 0 only when all are OK",
    flags: {
      config: {
        type: 'string',
        value: 'F',
        help: 'config file (default: the local stack’s, .local/config.json or under TOKEN_VENDOR_LOCAL_DIR)',
      },
      json: { type: 'boolean', help: 'print the report as JSON' },
    },
  },
  integrations: {
    summary:
      'the Snowflake security integrations the OAuth integrations mirror: check drift, describe, enable or disable (incident response)',
    positionals: 'check [NAME] | describe NAME | enable NAME | disable NAME',
    flags: {
      config: {
        type: 'string',
        value: 'F',
        help: 'config file (default: the local stack’s, .local/config.json or under TOKEN_VENDOR_LOCAL_DIR)',
      },
      json: { type: 'boolean', help: 'print the result as JSON' },
    },
    note: 'NAME is the OAuth integration’s name in the config. check exits 0 only when all are OK, 1 for drift, 4 when a check could not run.',
  },
  serve: {
    summary: 'run the local stack (what npm start runs); without --config, the demo',
    flags: {
      config: { type: 'string', value: 'F', help: 'run against this config instead of the demo' },
      credentials: {
        type: 'string',
        value: 'F',
        help: 'with --config: credentials file (accessKeyId, secretAccessKey, principalArn, or a list)',
      },
      port: {
        type: 'string',
        value: 'N',
        help: 'gateway port on 127.0.0.1 (default 8787, or PORT; 0: any free port)',
      },
      region: { type: 'string', value: 'R', help: 'SigV4 region (default us-east-1)' },
      dir: {
        type: 'string',
        value: 'D',
        help: 'where the stack writes its key, config, credentials and stack.json (default .local, or TOKEN_VENDOR_LOCAL_DIR)',
      },
      'exit-after': { type: 'string', value: 'S', help: 'stop by itself after S seconds' },
      'no-database': {
        type: 'boolean',
        help: 'demo: no throwaway PostgreSQL behind reporting_server, even when PostgreSQL is installed',
      },
    },
  },
  get: {
    summary: 'a SigV4-signed call to a deployed or local Token Vendor',
    positionals: 'postgres|snowflake-jwt|oauth|pat',
    flags: {
      ...VENDOR_FLAGS,
      instance: { type: 'string', value: 'I', help: 'postgres: the instance' },
      username: { type: 'string', value: 'U', help: 'postgres: the Postgres user' },
      connection: {
        type: 'string',
        value: 'C',
        help: 'snowflake-jwt: the connection (postgres: when ambiguous)',
      },
      integration: { type: 'string', value: 'N', help: 'oauth: the integration' },
      target: { type: 'string', value: 'T', help: 'pat: the PAT target' },
      role: { type: 'string', value: 'R', help: 'pat: the role the token is restricted to' },
      lifetime: { type: 'string', value: 'S', help: "pat: the lease in seconds (default: the target's)" },
      scope: {
        type: 'string',
        value: 'S',
        multiple: true,
        help: 'oauth: a scope (repeat; default: the granted ones)',
      },
      json: JSON_FLAG,
      format: {
        type: 'string',
        value: 'F',
        help: 'postgres: token (default), env (export PGHOST=… lines for eval), uri (postgresql://…), json',
      },
    },
  },
  exec: {
    summary:
      'run a command with a vended token in its environment, never in its arguments (psql, pg_dump, dbt, scripts)',
    positionals: '-- CMD [ARG …]',
    flags: {
      ...VENDOR_FLAGS,
      postgres: {
        type: 'string',
        value: 'INSTANCE/USER',
        help: 'set PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE (and PGDATABASE=postgres unless set)',
      },
      connection: { type: 'string', value: 'C', help: 'with --postgres: the connection, when ambiguous' },
      'snowflake-jwt': {
        type: 'string',
        value: 'CONNECTION',
        help: 'set SNOWFLAKE_JWT, SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER (a key-pair JWT for the SQL API)',
      },
    },
    note: "CMD's exit code is exec's; Ctrl-C and other signals go to CMD. The token is in CMD's environment only.",
  },
  revoke: {
    summary:
      'cut a principal or a target off, fleet-wide, within seconds and without a deploy (incident response)',
    flags: {
      ...SCOPE_FLAGS,
      reason: { type: 'string', value: 'TEXT', required: true, help: 'why: the refused caller reads it' },
      for: { type: 'string', value: 'D', help: 'end by itself after D (90s, 30m, 12h, 7d); default never' },
      ...REVOCATION_TABLE_FLAGS,
      'leases-table': {
        type: 'string',
        value: 'T',
        help: "with --principal: the stack's LeaseTableName output, to print what it holds (default TOKEN_VENDOR_LEASE_TABLE, else the local stack's)",
      },
      json: { type: 'boolean', help: 'print the entry as JSON' },
    },
    note: 'Tokens already vended for what it covers are not served again from any cache; a Postgres token already handed out works until it expires (Snowflake cannot revoke one before its 15 minutes).',
  },
  unrevoke: {
    summary: 'lift a revocation (the tokens it tainted stay tainted)',
    flags: {
      ...SCOPE_FLAGS,
      ...REVOCATION_TABLE_FLAGS,
      json: { type: 'boolean', help: 'print the entry as JSON' },
    },
  },
  leases: {
    summary: 'who holds which live token (config leases): principal, target, token id, expiry',
    positionals: 'list',
    flags: {
      principal: { type: 'string', value: 'ARN', help: 'only this principal’s (a role: all its sessions)' },
      target: { type: 'string', value: 'T', help: 'only this target’s (postgres:INSTANCE[/USER], …)' },
      table: {
        type: 'string',
        value: 'T',
        help: "the stack's LeaseTableName output (default TOKEN_VENDOR_LEASE_TABLE, else the local stack's)",
      },
      region: { type: 'string', value: 'R', help: 'the table’s region (default AWS_REGION)' },
      json: { type: 'boolean', help: 'print the leases as JSON' },
    },
  },
  revocations: {
    summary: 'list the revocation list’s entries, newest first',
    positionals: 'list',
    flags: { ...REVOCATION_TABLE_FLAGS, json: { type: 'boolean', help: 'print the entries as JSON' } },
  },
  'rotate-now': {
    summary:
      'rotate a connection’s key now and remove the old one from Snowflake, so JWTs signed with it stop working (incident response)',
    flags: {
      connection: { type: 'string', value: 'C', required: true, help: 'the connection whose key to replace' },
      config: {
        type: 'string',
        value: 'F',
        help: "the deployed config (it names the key's secret); default the local stack's",
      },
      ...REVOCATION_TABLE_FLAGS,
      timeout: { type: 'string', value: 'D', help: 'give up waiting after D (default 240s)' },
      json: { type: 'boolean', help: 'print the outcome as JSON' },
    },
    note: "Deployed: Secrets Manager runs the rotation (the stack's rotate-key function), which tells every container through the revocation list before it removes the old key. Needs secretsmanager:RotateSecret (the OperatorRole has it).",
  },
  'token-id': {
    summary: "print the audit trail's one-way id of a token",
    positionals: '<token | ->',
    flags: {},
    note: '- reads the token from stdin, keeping it out of the process list',
  },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof SPECS;

/** Is `name` a command (own property only: `constructor` is not)? */
export function isCommand(name: string | undefined): name is CommandName {
  return name !== undefined && Object.hasOwn(SPECS, name);
}

/**
 * The one-line usage of a command, generated from its flags.
 *
 * @example
 * ```ts
 * usageOf('fingerprint'); // 'fingerprint --private-key-file F [--passphrase-env VAR]'
 * ```
 */
export function usageOf(name: CommandName): string {
  const spec: CommandSpec = SPECS[name];
  const flags = Object.entries(spec.flags).map(([flag, f]) => {
    const text = `${flagText(flag, f)}${f.multiple ? ' …' : ''}`;
    return f.required ? text : `[${text}]`;
  });
  return [name, spec.positionals, ...flags].filter(Boolean).join(' ');
}

/** `--flag VALUE` (or `--flag` for a boolean). */
function flagText(flag: string, f: Flag): string {
  return `--${flag}${f.type === 'string' ? ` ${f.value ?? 'X'}` : ''}`;
}

/** `token-vendor <command> --help`: usage, summary, one line per flag. */
export function helpOf(name: CommandName): string {
  const spec: CommandSpec = SPECS[name];
  const rows = Object.entries(spec.flags).map(
    ([flag, f]) => `  ${flagText(flag, f).padEnd(24)} ${f.help}${f.required ? ' (required)' : ''}`,
  );
  return [
    `Usage: token-vendor ${usageOf(name)}`,
    '',
    `${spec.summary[0]!.toUpperCase()}${spec.summary.slice(1)}.`,
    ...(rows.length ? ['', 'Options:', ...rows] : []),
    ...(spec.note ? ['', spec.note] : []),
    '',
  ].join('\n');
}

/** The `node:util` `parseArgs` options of a command. */
export function parseOptions(
  name: CommandName,
): Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> {
  const spec: CommandSpec = SPECS[name];
  return Object.fromEntries(
    Object.entries(spec.flags).map(([flag, f]) => [
      flag,
      { type: f.type, ...(f.multiple ? { multiple: true } : {}) },
    ]),
  );
}
