import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import {
  ConfigName,
  InstanceName,
  noControl,
  OAuthScope,
  PostgresUserName,
  SnowflakeName,
} from '../api/names';
import { parseAccountIdentifier } from '../snowflake/account';
import { instanceKey, POSTGRES_TOKEN_LIFETIME_SECONDS } from './instance-key';
import { grantableTargets } from './policy';
import { urlProblem } from './url';

// zod's tree-shakable build, with English messages: the full build would add ~450 KB to every function.
z.config(en());

/** A custom issue at `path` (relative to the checked value). */
type Ctx = { value: unknown; issues: unknown[] };
function issue(ctx: Ctx, message: string, path?: (string | number)[]) {
  ctx.issues.push({ code: 'custom', input: ctx.value, message, ...(path ? { path } : {}) });
}

const Seconds = (min: number, max: number) => z.int().check(z.gte(min), z.lte(max));

const HttpsUrl = z.url().check(
  z.check((ctx) => {
    const problem = urlProblem(ctx.value);
    if (problem) issue(ctx, problem);
  }),
);

/** The customer-managed KMS key a secret is encrypted with (omit for the AWS-managed `aws/secretsmanager`). */
const SecretKmsKey = z.optional(z.string().check(z.minLength(1)));

const SecretsManagerKey = z.strictObject({
  secretId: z.string().check(z.minLength(1)),
  kmsKeyId: SecretKmsKey,
  /** How long the vendor keeps a read key before asking Secrets Manager again. */
  cacheTtlSeconds: z._default(Seconds(0, 3600), 300),
});
const KmsKey = z.strictObject({ keyId: z.string().check(z.minLength(1)) });
const EnvName = z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/));
const FileKey = z.strictObject({
  path: z.string().check(z.minLength(1)),
  /** Name of the environment variable holding the passphrase (never the passphrase itself). */
  passphraseEnv: z.optional(EnvName),
});

export type KeySource =
  | { secretsManager: z.output<typeof SecretsManagerKey> }
  | { kms: z.output<typeof KmsKey> }
  | { file: z.output<typeof FileKey> };

/** Where a connection's private key lives: exactly one of `secretsManager`, `kms`, `file`. */
export const KeySourceSchema = z.pipe(
  z
    .strictObject({
      secretsManager: z.optional(SecretsManagerKey),
      kms: z.optional(KmsKey),
      file: z.optional(FileKey),
    })
    .check(
      z.check((ctx) => {
        const given = Object.values(ctx.value).filter((v) => v !== undefined).length;
        if (given !== 1) {
          issue(
            ctx,
            'give exactly one key source: {"secretsManager": {"secretId": …}}, {"kms": {"keyId": …}} or {"file": {"path": …}}',
          );
        }
      }),
    ),
  z.transform((v): KeySource => {
    if (v.secretsManager) return { secretsManager: v.secretsManager };
    if (v.kms) return { kms: v.kms };
    return { file: v.file! };
  }),
);

/** A secret value other than a private key (an OAuth client secret). Never a literal. */
export const SecretRefSchema = z
  .strictObject({
    secretsManager: z.optional(
      z.strictObject({
        secretId: z.string().check(z.minLength(1)),
        field: z.optional(z.string().check(z.minLength(1))),
        kmsKeyId: SecretKmsKey,
      }),
    ),
    env: z.optional(EnvName),
  })
  .check(
    z.refine(
      (v) => (v.secretsManager ? 1 : 0) + (v.env ? 1 : 0) === 1,
      'give exactly one of {"secretsManager": {"secretId": …, "field": …}} or {"env": "VAR"} (env is for local use)',
    ),
  );

const Days = z.int().check(z.gte(1), z.lte(3650));
const Rotation = z
  .strictObject({
    /** Age after which the rotation check reports ROTATION_DUE. */
    rotateAfterDays: z._default(Days, 90),
    /** Age after which it reports OVERDUE and alarms. */
    overdueAfterDays: z._default(Days, 120),
  })
  .check(
    z.check((ctx) => {
      if (ctx.value.overdueAfterDays <= ctx.value.rotateAfterDays) {
        issue(ctx, 'overdueAfterDays must be greater than rotateAfterDays', ['overdueAfterDays']);
      }
    }),
  );

/** An AWS region name (`eu-west-1`, `us-gov-west-1`, `cn-north-1`). */
const AwsRegion = z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'must be an AWS region name'));

/**
 * Keyless sign-in: the vendor authenticates to Snowflake as its own IAM role (workload identity
 * federation), with the JWT STS `GetWebIdentityToken` issues for audience `snowflakecomputing.com`.
 */
export const WorkloadIdentitySchema = z.strictObject({
  provider: z.literal('AWS'),
  /** The regional STS endpoint to ask (GetWebIdentityToken has no global endpoint); default the function's region. */
  region: z.optional(AwsRegion),
  /** Lifetime of each STS token (STS allows 60-3600 s). */
  tokenLifetimeSeconds: z._default(Seconds(60, 3600), 900),
});
export type WorkloadIdentity = z.output<typeof WorkloadIdentitySchema>;

export const ConnectionSchema = z
  .strictObject({
    /** Account identifier in one of the forms `parseAccountIdentifier` documents. */
    account: z.string().check(
      z.check((ctx) => {
        try {
          parseAccountIdentifier(ctx.value);
        } catch (error) {
          issue(ctx, (error as Error).message);
        }
      }),
    ),
    /** The Snowflake service user the vendor signs in as (its key pair, or its workload identity). */
    user: SnowflakeName,
    role: z.optional(SnowflakeName),
    warehouse: z.optional(SnowflakeName),
    database: z.optional(SnowflakeName),
    schema: z.optional(SnowflakeName),
    /** SQL API base URL; default `https://<account>.snowflakecomputing.com`. Set it for privatelink or the emulator. */
    apiBaseUrl: z.optional(HttpsUrl),
    /** The private key the vendor signs with. Exactly one of `key` and `workloadIdentity`. */
    key: z.optional(KeySourceSchema),
    /** Keyless: sign in as the function's own IAM role. Exactly one of `key` and `workloadIdentity`. */
    workloadIdentity: z.optional(WorkloadIdentitySchema),
    /** Lifetime of the JWTs the vendor signs for this connection (Snowflake caps validity at 3600 s). */
    jwtLifetimeSeconds: z._default(Seconds(60, 3600), 3540),
    /** The SQL API statement `timeout`. */
    statementTimeoutSeconds: z._default(Seconds(1, 3600), 30),
    rotation: z._default(Rotation, { rotateAfterDays: 90, overdueAfterDays: 120 }),
  })
  .check(
    z.check((ctx) => {
      const given = (ctx.value.key ? 1 : 0) + (ctx.value.workloadIdentity ? 1 : 0);
      if (given !== 1) {
        issue(
          ctx,
          'give exactly one of "key" (a key pair: {"secretsManager": …}, {"kms": …} or {"file": …}) or "workloadIdentity" ({"provider": "AWS"}: keyless, as the function\'s IAM role)',
        );
      }
    }),
  );

export const PostgresInstanceSchema = z.strictObject({
  connection: ConfigName,
  /** Instance name as passed to GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER (`"Quoted"` for case-sensitive). */
  instance: InstanceName,
  /** From DESCRIBE POSTGRES INSTANCE; returned to callers so they know where to connect. */
  host: z
    .string()
    .check(z.minLength(1), z.maxLength(253), z.regex(/^[A-Za-z0-9.-]+$/, 'must be a host name')),
  port: z._default(z.int().check(z.gte(1), z.lte(65535)), 5432),
  sslmode: z._default(z.enum(['require', 'verify-ca', 'verify-full']), 'require'),
  /** The only Postgres users the vendor mints for (case-sensitive; Snowflake does not validate them). */
  allowedUsers: z.array(PostgresUserName).check(z.minLength(1)),
});

export const OAuthIntegrationSchema = z
  .strictObject({
    grant: z.enum(['CLIENT_CREDENTIALS', 'JWT_BEARER']),
    tokenEndpoint: HttpsUrl,
    clientAuthMethod: z._default(z.literal('CLIENT_SECRET_POST'), 'CLIENT_SECRET_POST'),
    clientId: z.string().check(z.minLength(1), z.maxLength(512), z.refine(noControl)),
    clientSecret: z.optional(SecretRefSchema),
    /** JWT_BEARER: how the assertion is signed and what it says. */
    assertion: z.optional(
      z.strictObject({
        key: KeySourceSchema,
        issuer: z.string().check(z.minLength(1)),
        subject: z.string().check(z.minLength(1)),
        audience: z.optional(z.string().check(z.minLength(1))),
        lifetimeSeconds: z._default(Seconds(30, 3600), 300),
      }),
    ),
    /** Used when the token response carries no `expires_in`; when both exist the smaller decides. */
    accessTokenValiditySeconds: z.optional(Seconds(1, 86_400 * 90)),
    /**
     * Scopes a request may ask for (requests must ask for a subset). Required and non-empty: the vendor
     * always sends an explicit scope, so a token endpoint's default scopes never reach a caller.
     */
    allowedScopes: z
      .array(OAuthScope)
      .check(z.minLength(1, 'list at least one scope: the vendor always asks for explicit scopes')),
    enabled: z._default(z.boolean(), true),
    /**
     * The Snowflake security integration (TYPE = API_AUTHENTICATION) this integration mirrors: the drift
     * check compares it with this config, and `token-vendor integrations` operates on it through `connection`.
     */
    snowflakeIntegration: z.optional(
      z.strictObject({
        connection: ConfigName,
        /** As Snowflake resolves it: unquoted names are upper-cased, `"Quoted"` names are exact. */
        name: InstanceName,
      }),
    ),
  })
  .check(
    z.check((ctx) => {
      const v = ctx.value;
      if (v.grant === 'CLIENT_CREDENTIALS' && !v.clientSecret)
        issue(ctx, 'CLIENT_CREDENTIALS needs a clientSecret', ['clientSecret']);
      if (v.grant === 'JWT_BEARER' && !v.assertion)
        issue(ctx, 'JWT_BEARER needs an assertion', ['assertion']);
    }),
  );

const PostgresTarget = z.strictObject({
  instance: InstanceName,
  /** Needed only when two connections have an instance of this name. */
  connection: z.optional(ConfigName),
  usernames: z.array(PostgresUserName).check(z.minLength(1)),
});
const OAuthTarget = z.strictObject({
  integration: ConfigName,
  /** The scopes granted; a request asks for a subset, or (naming none) gets exactly these. Never empty. */
  scopes: z
    .array(OAuthScope)
    .check(z.minLength(1, 'grant at least one scope: an empty grant would let the token endpoint choose')),
});
const PatGrant = z.strictObject({
  /** A PAT target (`patTargets`). */
  target: ConfigName,
  /** The role restrictions this grant allows; each must be one of the target's `roles`. Never empty. */
  roles: z
    .array(SnowflakeName)
    .check(z.minLength(1, 'grant at least one role: a PAT is always role-restricted')),
});
const Targets = {
  postgres: z._default(z.array(PostgresTarget), []),
  snowflakeJwt: z._default(z.array(ConfigName), []),
  oauth: z._default(z.array(OAuthTarget), []),
  pat: z._default(z.array(PatGrant), []),
};

/** Snowflake's default `BLOCKED_ROLES_LIST` for PAT role restrictions. */
export const DEFAULT_PAT_BLOCKED_ROLES = ['ACCOUNTADMIN', 'SYSADMIN'];

/**
 * A Snowflake user the vendor makes programmatic access tokens for (one per consuming system), through
 * a connection whose role holds `MODIFY PROGRAMMATIC AUTHENTICATION METHODS` on it. Each token is
 * role-restricted, lives a day in Snowflake (`DAYS_TO_EXPIRY = 1`), and is removed when its lease ends.
 */
export const PatTargetSchema = z.strictObject({
  /** The connection the vendor manages the user's tokens through (never the user itself). */
  connection: ConfigName,
  /** The user, as Snowflake prints it (`SHOW USERS`). */
  user: SnowflakeName,
  /** The role restrictions grants may give; each must be granted to the user in Snowflake. */
  roles: z.array(SnowflakeName).check(z.minLength(1)),
  /** The lease a caller gets unless it asks for another (seconds). */
  leaseSeconds: z._default(Seconds(300, 86_400), 3600),
  /** The longest lease a caller may ask for (at most a day: Snowflake's shortest token). */
  maxLeaseSeconds: z._default(Seconds(300, 86_400), 86_400),
  /** The account's PAT policy `BLOCKED_ROLES_LIST`: a role on it is refused here, before Snowflake refuses it. */
  blockedRoles: z._default(z.array(SnowflakeName), DEFAULT_PAT_BLOCKED_ROLES),
});
export type PatTarget = z.output<typeof PatTargetSchema>;

/** An IAM role or user ARN. A role ARN may carry a path; no wildcards, no STS session ARNs. */
export const PrincipalArn = z.string().check(
  z.check((ctx) => {
    const v = ctx.value;
    const problem =
      v.includes('*') || v.includes('?')
        ? 'must not contain wildcards: name each role or user'
        : /^arn:aws[a-z-]*:sts::\d{12}:assumed-role\//.test(v)
          ? 'is an STS session ARN; name the role instead: arn:aws:iam::<account>:role/<path>/<role-name>'
          : !/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/([\w+=,.@-]+\/)*[\w+=,.@-]+$/.test(v)
            ? 'must be an IAM role or user ARN: arn:aws:iam::<12-digit account>:role/<path>/<name> or …:user/<name>'
            : undefined;
    if (problem) issue(ctx, problem);
  }),
);

export const GrantSchema = z.strictObject({
  principal: PrincipalArn,
  description: z.optional(z.string().check(z.maxLength(256))),
  ...Targets,
});

const VpcEndpointId = z
  .string()
  .check(z.regex(/^vpce-[0-9a-f]{8,17}$/, 'must be a VPC endpoint id (vpce-…)'));
const Cidr = z
  .string()
  .check(
    z.regex(
      /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/,
      'must be an IPv4 or IPv6 CIDR block (203.0.113.0/24)',
    ),
  );

/** How the stack is deployed: who may reach the API and from where, who may use the direct path. */
export const DeploymentSchema = z
  .strictObject({
    /** REGIONAL (public endpoint, IAM + the conditions below) or PRIVATE (only through these VPC endpoints). */
    endpoint: z._default(
      z.strictObject({
        type: z._default(z.enum(['REGIONAL', 'PRIVATE']), 'REGIONAL'),
        vpcEndpointIds: z._default(z.array(VpcEndpointId), []),
      }),
      { type: 'REGIONAL', vpcEndpointIds: [] },
    ),
    /** Deny callers outside this AWS Organization (aws:PrincipalOrgID). */
    principalOrgId: z.optional(
      z.string().check(z.regex(/^o-[a-z0-9]{10,32}$/, 'must be an organization id (o-…)')),
    ),
    /** Deny requests from outside these CIDR blocks (aws:SourceIp; aws:VpcSourceIp for PRIVATE). */
    allowedSourceIps: z._default(z.array(Cidr), []),
    /** Run the functions in these subnets (a NAT gateway's stable egress IP for a Snowflake network policy). */
    vpc: z.optional(
      z.strictObject({
        vpcId: z.string().check(z.regex(/^vpc-[0-9a-f]{8,17}$/, 'must be a VPC id (vpc-…)')),
        subnetIds: z.array(z.string().check(z.regex(/^subnet-[0-9a-f]{8,17}$/))).check(z.minLength(1)),
        securityGroupIds: z.array(z.string().check(z.regex(/^sg-[0-9a-f]{8,17}$/))).check(z.minLength(1)),
        /**
         * Create the interface endpoints the functions then need (Secrets Manager, KMS; STS for keyless
         * connections; DynamoDB for the shared cache) in these subnets, for a VPC without a NAT route to
         * them. Default false: most VPCs already have them, and a second endpoint with private DNS fails.
         */
        createEndpoints: z._default(z.boolean(), false),
        /** The subnets' route tables: with createEndpoints and the shared cache, DynamoDB's gateway endpoint goes there. */
        routeTableIds: z._default(z.array(z.string().check(z.regex(/^rtb-[0-9a-f]{8,17}$/))), []),
      }),
    ),
    /**
     * AWS WAF on the API stage: an existing regional web ACL (`webAclArn`), or one the stack creates with
     * a rate-based rule (`rateLimit` requests per source IP in any 5 minutes; default 1000) and logging
     * (credentials redacted). Off by default: every request is SigV4-signed and the resource policy
     * admits only granted principals.
     */
    waf: z.optional(
      z.strictObject({
        webAclArn: z.optional(
          z
            .string()
            .check(
              z.regex(
                /^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional\/webacl\/[\w-]{1,128}\/[0-9a-f-]{36}$/,
                'must be a regional WAFv2 web ACL ARN',
              ),
            ),
        ),
        rateLimit: z._default(z.int().check(z.gte(10), z.lte(2_000_000_000)), 1000),
      }),
    ),
    /** Roles (state machines' execution roles) the direct-invoke function's resource policy names. */
    directInvokers: z._default(z.array(PrincipalArn), []),
    /** Roles allowed kms:Decrypt on the envelope key (to open sealed tokens); everyone else is denied. */
    envelopeConsumers: z._default(z.array(PrincipalArn), []),
  })
  .check(
    z.check((ctx) => {
      const e = ctx.value.endpoint;
      if (e.type === 'PRIVATE' && e.vpcEndpointIds.length === 0)
        issue(ctx, 'a PRIVATE endpoint needs the VPC endpoint ids that may reach it', [
          'endpoint',
          'vpcEndpointIds',
        ]);
    }),
  );

const DEFAULT_DEPLOYMENT = {
  endpoint: { type: 'REGIONAL' as const, vpcEndpointIds: [] },
  allowedSourceIps: [],
  directInvokers: [],
  envelopeConsumers: [],
};

/** Where a table is, for use without the stack (the stack sets each table's name in the environment). */
const TableLocation = z._default(
  z.strictObject({
    tableName: z.optional(
      z.string().check(z.regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name')),
    ),
    region: z.optional(AwsRegion),
  }),
  {},
);

/**
 * The fleet-wide cache. Deployed by the stack, the table and key come from the function's environment
 * (`TOKEN_VENDOR_CACHE_TABLE`, `TOKEN_VENDOR_CACHE_KEY_ID`); name them here to run anywhere else.
 */
export const SharedCacheSchema = z.strictObject({
  dynamodb: TableLocation,
  /** The KMS key (id, ARN or alias) that seals cached tokens. */
  kmsKeyId: z.optional(z.string().check(z.minLength(1), z.maxLength(2048))),
  /** How long one container may hold a target while it mints; a dead container's lease lapses after it. */
  leaseSeconds: z._default(Seconds(1, 60), 10),
});
export type SharedCacheSettings = z.output<typeof SharedCacheSchema>;

/**
 * The revocation list (incident response): principals and targets cut off fleet-wide without a deploy.
 * Deployed by the stack, the table comes from the function's environment
 * (`TOKEN_VENDOR_REVOCATION_TABLE`); name it here to run anywhere else. Without a table the vendor
 * enforces nothing (the local stack and tests without one).
 */
export const RevocationsSchema = z.strictObject({
  /** The stack deploys the table and enforces it; false deploys neither. */
  enabled: z._default(z.boolean(), true),
  /** Every container applies a new entry within this many seconds (it re-reads the list no less often). */
  refreshSeconds: z._default(Seconds(1, 60), 2),
  dynamodb: TableLocation,
});
export type RevocationSettings = z.output<typeof RevocationsSchema>;

/**
 * Leases (opt-in): a record of who holds what, one item per principal and token, written once per
 * container the first time it serves that token to that principal, gone by itself when the token
 * expires (TTL). Deployed by the stack, the table comes from `TOKEN_VENDOR_LEASE_TABLE`.
 */
export const LeasesSchema = z.strictObject({
  enabled: z._default(z.boolean(), false),
  dynamodb: TableLocation,
});

const TokenPolicy = (minRemaining: number) =>
  z._default(
    z.strictObject({
      /** A cached token is served only while at least this many seconds remain. */
      minRemainingSeconds: z._default(Seconds(0, 86_400), minRemaining),
      /** `refreshAt` = issuedAt + refreshRatio × lifetime. */
      refreshRatio: z._default(z.number().check(z.gt(0), z.lt(1)), 0.8),
    }),
    { minRemainingSeconds: minRemaining, refreshRatio: 0.8 },
  );

export const ConfigSchema = z
  .strictObject({
    $schema: z.optional(z.string()),
    description: z.optional(z.string()),
    connections: z
      .record(ConfigName, ConnectionSchema)
      .check(z.refine((c) => Object.keys(c).length > 0, 'define at least one connection')),
    postgresInstances: z._default(z.array(PostgresInstanceSchema), []),
    oauthIntegrations: z._default(z.record(ConfigName, OAuthIntegrationSchema), {}),
    /** HTTP callers: IAM principal → targets. Deny by default. */
    grants: z._default(z.array(GrantSchema), []),
    /** What a direct Lambda invoke (Step Functions) may vend; separate from HTTP grants. */
    directInvoke: z._default(z.strictObject(Targets), { postgres: [], snowflakeJwt: [], oauth: [], pat: [] }),
    /** Snowflake users the vendor makes programmatic access tokens for, by target name. */
    patTargets: z._default(z.record(ConfigName, PatTargetSchema), {}),
    /** How the vendor removes PATs whose lease ended (the stack schedules its sweeper this often). */
    pats: z._default(
      z.strictObject({
        sweepMinutes: z._default(z.int().check(z.gte(1), z.lte(60)), 5),
        /**
         * The KMS key that seals PAT secrets in their leases. Deployed, the stack sets it
         * (`TOKEN_VENDOR_PAT_KEY_ID`); name it here to run anywhere else. The lease table is `leases.dynamodb`.
         */
        kmsKeyId: z.optional(z.string().check(z.minLength(1), z.maxLength(2048))),
      }),
      { sweepMinutes: 5 },
    ),
    tokens: z._default(
      z.strictObject({
        postgres: TokenPolicy(300),
        snowflakeJwt: TokenPolicy(600),
        oauth: TokenPolicy(60),
        pat: TokenPolicy(60),
      }),
      {
        postgres: { minRemainingSeconds: 300, refreshRatio: 0.8 },
        snowflakeJwt: { minRemainingSeconds: 600, refreshRatio: 0.8 },
        oauth: { minRemainingSeconds: 60, refreshRatio: 0.8 },
        pat: { minRemainingSeconds: 60, refreshRatio: 0.8 },
      },
    ),
    /** Deploy-time settings (the CDK stack reads them; the functions ignore them). */
    deployment: z._default(DeploymentSchema, DEFAULT_DEPLOYMENT),
    cache: z._default(
      z.strictObject({
        enabled: z._default(z.boolean(), true),
        /** Tokens one container keeps; default: sized from the grants (see `cacheEntriesFor`). */
        maxEntries: z.optional(z.int().check(z.gte(1), z.lte(100_000))),
        /** The fleet-wide level on DynamoDB (opt-in): one mint per target for the whole fleet. */
        shared: z.optional(SharedCacheSchema),
      }),
      { enabled: true },
    ),
    revocations: z._default(RevocationsSchema, { enabled: true, refreshSeconds: 2, dynamodb: {} }),
    leases: z._default(LeasesSchema, { enabled: false, dynamodb: {} }),
  })
  .check(
    z.check((ctx) => crossReferences(ctx.value as Config, (path, message) => issue(ctx, message, path))),
  );

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
export type Connection = z.output<typeof ConnectionSchema>;
export type PostgresInstance = z.output<typeof PostgresInstanceSchema>;
export type OAuthIntegration = z.output<typeof OAuthIntegrationSchema>;
export type Grant = z.output<typeof GrantSchema>;
export type Targets = Config['directInvoke'];

export { instanceKey, POSTGRES_TOKEN_LIFETIME_SECONDS } from './instance-key';
export { cacheEntriesFor, grantableTargets } from './policy';

type Report = (path: (string | number)[], message: string) => void;

function crossReferences(config: Config, report: Report): void {
  const vpc = config.deployment.vpc;
  if (
    vpc?.createEndpoints &&
    vpc.routeTableIds.length === 0 &&
    (config.cache.shared || config.revocations.enabled)
  )
    report(
      ['deployment', 'vpc', 'routeTableIds'],
      "createEndpoints with cache.shared or the revocation list needs the subnets' route tables (DynamoDB's gateway endpoint goes there; revocations.enabled: false turns the list off)",
    );
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
    if (!connection.key) continue; // keyless: signs no JWTs
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
      else if (config.connections[name]?.workloadIdentity)
        report(
          [...base, 'snowflakeJwt', j],
          `connection "${name}" is keyless (workloadIdentity): it has no private key to sign a Snowflake JWT with; grant a connection with a "key"`,
        );
    });
    targets.pat.forEach((grant, j) => {
      const target = Object.hasOwn(config.patTargets, grant.target)
        ? config.patTargets[grant.target]
        : undefined;
      if (!target) {
        report([...base, 'pat', j, 'target'], `names PAT target "${grant.target}", which is not defined`);
        return;
      }
      grant.roles.forEach((role, k) => {
        if (!target.roles.includes(role))
          report(
            [...base, 'pat', j, 'roles', k],
            `"${role}" is not one of PAT target "${grant.target}"'s roles`,
          );
      });
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
  const signInUsers = new Set(Object.values(config.connections).map((c) => c.user.toUpperCase()));
  for (const [name, target] of Object.entries(config.patTargets)) {
    const path = ['patTargets', name];
    if (!connections.has(target.connection))
      report([...path, 'connection'], `names connection "${target.connection}", which is not defined`);
    if (signInUsers.has(target.user.toUpperCase()))
      report(
        [...path, 'user'],
        `is a user the vendor signs in as: a PAT of it would hand callers the vendor's own identity (and Snowflake refuses PAT management in a session of the same user)`,
      );
    const blocked = new Set(target.blockedRoles.map((r) => r.toUpperCase()));
    target.roles.forEach((role, k) => {
      if (blocked.has(role.toUpperCase()))
        report(
          [...path, 'roles', k],
          `"${role}" is on the blocked roles list (${target.blockedRoles.join(', ')}): Snowflake refuses it as a PAT role restriction`,
        );
    });
    if (target.maxLeaseSeconds < target.leaseSeconds)
      report([...path, 'maxLeaseSeconds'], `must be at least leaseSeconds (${target.leaseSeconds})`);
    if (config.tokens.pat.minRemainingSeconds >= target.leaseSeconds)
      report(
        ['tokens', 'pat', 'minRemainingSeconds'],
        `must be less than patTargets.${name}.leaseSeconds (${target.leaseSeconds})`,
      );
  }
  config.grants.forEach((grant, i) => {
    checkTargets(grant, ['grants', i]);
  });
  checkTargets(config.directInvoke, ['directInvoke']);

  for (const [name, integration] of Object.entries(config.oauthIntegrations)) {
    const mirrored = integration.snowflakeIntegration;
    if (mirrored && !connections.has(mirrored.connection)) {
      report(
        ['oauthIntegrations', name, 'snowflakeIntegration', 'connection'],
        `names connection "${mirrored.connection}", which is not defined`,
      );
    }
  }

  const targets = grantableTargets(config);
  if (config.cache.maxEntries !== undefined && config.cache.maxEntries < targets) {
    report(
      ['cache', 'maxEntries'],
      `is ${config.cache.maxEntries}, below the ${targets} targets the grants allow: each container would evict tokens it still needs and mint them again; raise it or omit it (it is then sized from the grants)`,
    );
  }
}
