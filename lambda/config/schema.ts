import { z } from 'zod';
import { parseAccountIdentifier } from '../snowflake/account';
import { instanceKey, POSTGRES_TOKEN_LIFETIME_SECONDS } from './instance-key';

/** No control characters: they would corrupt SQL literals, log lines and HTTP headers. */
const noControl = (value: string) => !/\p{Cc}/u.test(value);

/** Names the config itself defines (connections, integrations): safe in URLs, logs and metric dimensions. */
const ConfigName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
    'must be 1–64 letters, digits, _, . or -, starting with a letter or digit',
  );

/** A Snowflake object name as SHOW prints it (case-sensitive in the SQL API body). */
const SnowflakeName = z.string().min(1).max(255).refine(noControl, 'must not contain control characters');

/** A Postgres role name: case-sensitive, at most 63 bytes (NAMEDATALEN - 1). */
export const PostgresUserName = z
  .string()
  .min(1)
  .refine((v) => Buffer.byteLength(v, 'utf8') <= 63, 'must be at most 63 bytes (a PostgreSQL role name)')
  .refine(noControl, 'must not contain control characters');

/** A Snowflake Postgres instance name; case-insensitive unless written in double quotes. */
export const InstanceName = z
  .string()
  .min(1)
  .max(255)
  .refine(noControl, 'must not contain control characters');

const Seconds = (min: number, max: number) => z.int().min(min).max(max);

const HttpsUrl = z.url().refine((value) => {
  const url = new URL(value);
  return url.protocol === 'https:' || isLoopback(url.hostname);
}, 'must be an https:// URL (plain http is allowed only for 127.0.0.1 / localhost)');

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

const SecretsManagerKey = z.strictObject({
  secretId: z.string().min(1),
  /** How long the vendor keeps a read key before asking Secrets Manager again. */
  cacheTtlSeconds: Seconds(0, 3600).default(300),
});
const KmsKey = z.strictObject({ keyId: z.string().min(1) });
const FileKey = z.strictObject({
  path: z.string().min(1),
  /** Name of the environment variable holding the passphrase (never the passphrase itself). */
  passphraseEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .optional(),
});

/** Where a connection's private key lives: exactly one of `secretsManager`, `kms`, `file`. */
export const KeySourceSchema = z
  .strictObject({
    secretsManager: SecretsManagerKey.optional(),
    kms: KmsKey.optional(),
    file: FileKey.optional(),
  })
  .check((ctx) => {
    const given = Object.values(ctx.value).filter((v) => v !== undefined).length;
    if (given !== 1) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message:
          'give exactly one key source: {"secretsManager": {"secretId": …}}, {"kms": {"keyId": …}} or {"file": {"path": …}}',
      });
    }
  })
  .transform((v): KeySource => {
    if (v.secretsManager) return { secretsManager: v.secretsManager };
    if (v.kms) return { kms: v.kms };
    return { file: v.file! };
  });
export type KeySource =
  | { secretsManager: z.infer<typeof SecretsManagerKey> }
  | { kms: z.infer<typeof KmsKey> }
  | { file: z.infer<typeof FileKey> };

/** A secret value other than a private key (an OAuth client secret). Never a literal. */
export const SecretRefSchema = z
  .strictObject({
    secretsManager: z
      .strictObject({ secretId: z.string().min(1), field: z.string().min(1).optional() })
      .optional(),
    env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional(),
  })
  .refine(
    (v) => (v.secretsManager ? 1 : 0) + (v.env ? 1 : 0) === 1,
    'give exactly one of {"secretsManager": {"secretId": …, "field": …}} or {"env": "VAR"} (env is for local use)',
  );

const Rotation = z
  .strictObject({
    /** Age after which the rotation check reports ROTATION_DUE. */
    rotateAfterDays: z.int().min(1).max(3650).default(90),
    /** Age after which it reports OVERDUE and alarms. */
    overdueAfterDays: z.int().min(1).max(3650).default(120),
  })
  .refine((r) => r.overdueAfterDays > r.rotateAfterDays, {
    message: 'overdueAfterDays must be greater than rotateAfterDays',
    path: ['overdueAfterDays'],
  });

export const ConnectionSchema = z.strictObject({
  /** Account identifier in one of the forms `parseAccountIdentifier` documents. */
  account: z.string().check((ctx) => {
    try {
      parseAccountIdentifier(ctx.value);
    } catch (error) {
      ctx.issues.push({ code: 'custom', input: ctx.value, message: (error as Error).message });
    }
  }),
  /** The Snowflake service user the vendor signs JWTs for. */
  user: SnowflakeName,
  role: SnowflakeName.optional(),
  warehouse: SnowflakeName.optional(),
  database: SnowflakeName.optional(),
  schema: SnowflakeName.optional(),
  /** SQL API base URL; default `https://<account>.snowflakecomputing.com`. Set it for privatelink or the emulator. */
  apiBaseUrl: HttpsUrl.optional(),
  key: KeySourceSchema,
  /** Lifetime of the JWTs the vendor signs for this connection (Snowflake caps validity at 3600 s). */
  jwtLifetimeSeconds: Seconds(60, 3600).default(3540),
  /** The SQL API statement `timeout`. */
  statementTimeoutSeconds: Seconds(1, 3600).default(30),
  rotation: Rotation.default({ rotateAfterDays: 90, overdueAfterDays: 120 }),
});

export const PostgresInstanceSchema = z.strictObject({
  connection: ConfigName,
  /** Instance name as passed to GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER (`"Quoted"` for case-sensitive). */
  instance: InstanceName,
  /** From DESCRIBE POSTGRES INSTANCE; returned to callers so they know where to connect. */
  host: z
    .string()
    .min(1)
    .max(253)
    .regex(/^[A-Za-z0-9.-]+$/, 'must be a host name'),
  port: z.int().min(1).max(65535).default(5432),
  sslmode: z.enum(['require', 'verify-ca', 'verify-full']).default('require'),
  /** The only Postgres users the vendor mints for (case-sensitive; Snowflake does not validate them). */
  allowedUsers: z.array(PostgresUserName).min(1),
});

export const OAuthIntegrationSchema = z
  .strictObject({
    grant: z.enum(['CLIENT_CREDENTIALS', 'JWT_BEARER']),
    tokenEndpoint: HttpsUrl,
    clientAuthMethod: z.literal('CLIENT_SECRET_POST').default('CLIENT_SECRET_POST'),
    clientId: z.string().min(1).max(512).refine(noControl),
    clientSecret: SecretRefSchema.optional(),
    /** JWT_BEARER: how the assertion is signed and what it says. */
    assertion: z
      .strictObject({
        key: KeySourceSchema,
        issuer: z.string().min(1),
        subject: z.string().min(1),
        audience: z.string().min(1).optional(),
        lifetimeSeconds: Seconds(30, 3600).default(300),
      })
      .optional(),
    /** Used when the token response carries no `expires_in`; when both exist the smaller decides. */
    accessTokenValiditySeconds: Seconds(1, 86_400 * 90).optional(),
    /** Scopes a request may ask for (requests must ask for a subset). */
    allowedScopes: z
      .array(
        z
          .string()
          .min(1)
          .regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'is not a valid OAuth scope'),
      )
      .default([]),
    enabled: z.boolean().default(true),
  })
  .check((ctx) => {
    const v = ctx.value;
    if (v.grant === 'CLIENT_CREDENTIALS' && !v.clientSecret) {
      ctx.issues.push({
        code: 'custom',
        input: v,
        path: ['clientSecret'],
        message: 'CLIENT_CREDENTIALS needs a clientSecret',
      });
    }
    if (v.grant === 'JWT_BEARER' && !v.assertion) {
      ctx.issues.push({
        code: 'custom',
        input: v,
        path: ['assertion'],
        message: 'JWT_BEARER needs an assertion',
      });
    }
  });

const PostgresTarget = z.strictObject({
  instance: InstanceName,
  /** Needed only when two connections have an instance of this name. */
  connection: ConfigName.optional(),
  usernames: z.array(PostgresUserName).min(1),
});
const OAuthTarget = z.strictObject({
  integration: ConfigName,
  scopes: z.array(z.string().min(1)).default([]),
});
const Targets = {
  postgres: z.array(PostgresTarget).default([]),
  snowflakeJwt: z.array(ConfigName).default([]),
  oauth: z.array(OAuthTarget).default([]),
};

/** An IAM role or user ARN. A role ARN may carry a path; no wildcards, no STS session ARNs. */
export const PrincipalArn = z.string().check((ctx) => {
  const v = ctx.value;
  const problem =
    v.includes('*') || v.includes('?')
      ? 'must not contain wildcards: name each role or user'
      : /^arn:aws[a-z-]*:sts::\d{12}:assumed-role\//.test(v)
        ? 'is an STS session ARN; name the role instead: arn:aws:iam::<account>:role/<path>/<role-name>'
        : !/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/([\w+=,.@-]+\/)*[\w+=,.@-]+$/.test(v)
          ? 'must be an IAM role or user ARN: arn:aws:iam::<12-digit account>:role/<path>/<name> or …:user/<name>'
          : undefined;
  if (problem) ctx.issues.push({ code: 'custom', input: v, message: problem });
});

export const GrantSchema = z.strictObject({
  principal: PrincipalArn,
  description: z.string().max(256).optional(),
  ...Targets,
});

const TokenPolicy = (minRemaining: number) =>
  z.strictObject({
    /** A cached token is served only while at least this many seconds remain. */
    minRemainingSeconds: Seconds(0, 86_400).default(minRemaining),
    /** `refreshAt` = issuedAt + refreshRatio × lifetime. */
    refreshRatio: z.number().gt(0).lt(1).default(0.8),
  });

export const ConfigSchema = z
  .strictObject({
    $schema: z.string().optional(),
    description: z.string().optional(),
    connections: z
      .record(ConfigName, ConnectionSchema)
      .refine((c) => Object.keys(c).length > 0, 'define at least one connection'),
    postgresInstances: z.array(PostgresInstanceSchema).default([]),
    oauthIntegrations: z.record(ConfigName, OAuthIntegrationSchema).default({}),
    /** HTTP callers: IAM principal → targets. Deny by default. */
    grants: z.array(GrantSchema).default([]),
    /** What a direct Lambda invoke (Step Functions) may vend; separate from HTTP grants. */
    directInvoke: z.strictObject(Targets).default({ postgres: [], snowflakeJwt: [], oauth: [] }),
    tokens: z
      .strictObject({
        postgres: TokenPolicy(600).default({ minRemainingSeconds: 600, refreshRatio: 0.8 }),
        snowflakeJwt: TokenPolicy(600).default({ minRemainingSeconds: 600, refreshRatio: 0.8 }),
        oauth: TokenPolicy(60).default({ minRemainingSeconds: 60, refreshRatio: 0.8 }),
      })
      .default({
        postgres: { minRemainingSeconds: 600, refreshRatio: 0.8 },
        snowflakeJwt: { minRemainingSeconds: 600, refreshRatio: 0.8 },
        oauth: { minRemainingSeconds: 60, refreshRatio: 0.8 },
      }),
    cache: z
      .strictObject({
        enabled: z.boolean().default(true),
        maxEntries: z.int().min(1).max(100_000).default(1000),
      })
      .default({ enabled: true, maxEntries: 1000 }),
  })
  .check((ctx) =>
    crossReferences(ctx.value, (path, message) =>
      ctx.issues.push({ code: 'custom', input: ctx.value, path, message }),
    ),
  );

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
export type Connection = z.output<typeof ConnectionSchema>;
export type PostgresInstance = z.output<typeof PostgresInstanceSchema>;
export type OAuthIntegration = z.output<typeof OAuthIntegrationSchema>;
export type Grant = z.output<typeof GrantSchema>;
export type Targets = Config['directInvoke'];

export { instanceKey, POSTGRES_TOKEN_LIFETIME_SECONDS } from './instance-key';

type Report = (path: (string | number)[], message: string) => void;

function crossReferences(config: Config, report: Report): void {
  const connections = new Set(Object.keys(config.connections));
  const seen = new Map<string, number>();
  config.postgresInstances.forEach((instance, i) => {
    if (!connections.has(instance.connection)) {
      report(
        ['postgresInstances', i, 'connection'],
        `names connection "${instance.connection}", which is not defined`,
      );
    }
    const key = `${instance.connection}\u0000${instanceKey(instance.instance)}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      report(
        ['postgresInstances', i, 'instance'],
        `duplicates postgresInstances[${earlier}] (same connection and instance)`,
      );
    }
    seen.set(key, i);
  });

  for (const [name, connection] of Object.entries(config.connections)) {
    if (config.tokens.snowflakeJwt.minRemainingSeconds >= connection.jwtLifetimeSeconds) {
      report(
        ['tokens', 'snowflakeJwt', 'minRemainingSeconds'],
        `must be less than connections.${name}.jwtLifetimeSeconds (${connection.jwtLifetimeSeconds})`,
      );
    }
  }
  if (config.tokens.postgres.minRemainingSeconds >= POSTGRES_TOKEN_LIFETIME_SECONDS) {
    report(
      ['tokens', 'postgres', 'minRemainingSeconds'],
      `must be less than ${POSTGRES_TOKEN_LIFETIME_SECONDS} (a Postgres token lives 15 minutes)`,
    );
  }

  const checkTargets = (targets: Targets, base: (string | number)[]) => {
    targets.postgres.forEach((target, j) => {
      const path = [...base, 'postgres', j];
      const matches = config.postgresInstances.filter(
        (p) =>
          instanceKey(p.instance) === instanceKey(target.instance) &&
          (!target.connection || p.connection === target.connection),
      );
      if (matches.length === 0) {
        report(
          [...path, 'instance'],
          `"${target.instance}" is not in postgresInstances${target.connection ? ` for connection "${target.connection}"` : ''}`,
        );
        return;
      }
      if (matches.length > 1) {
        report(
          [...path, 'connection'],
          `instance "${target.instance}" exists in several connections; name the connection`,
        );
        return;
      }
      const allowed = new Set(matches[0]!.allowedUsers);
      target.usernames.forEach((user, k) => {
        if (!allowed.has(user)) {
          report(
            [...path, 'usernames', k],
            `"${user}" is not in that instance's allowedUsers (names are case-sensitive)`,
          );
        }
      });
    });
    targets.snowflakeJwt.forEach((name, j) => {
      if (!connections.has(name))
        report([...base, 'snowflakeJwt', j], `names connection "${name}", which is not defined`);
    });
    targets.oauth.forEach((target, j) => {
      const integration = config.oauthIntegrations[target.integration];
      if (!integration) {
        report(
          [...base, 'oauth', j, 'integration'],
          `names integration "${target.integration}", which is not defined`,
        );
        return;
      }
      const allowed = new Set(integration.allowedScopes);
      target.scopes.forEach((scope, k) => {
        if (!allowed.has(scope))
          report([...base, 'oauth', j, 'scopes', k], `"${scope}" is not in the integration's allowedScopes`);
      });
    });
  };
  config.grants.forEach((grant, i) => {
    checkTargets(grant, ['grants', i]);
  });
  checkTargets(config.directInvoke, ['directInvoke']);
}
