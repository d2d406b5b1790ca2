import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Context } from 'aws-lambda';
import { AuditLog, type AuditSink } from '../../lambda/audit/audit-log';
import { loadConfigFile, parseConfig } from '../../lambda/config/load';
import type { Config } from '../../lambda/config/schema';
import { createHttpHandler } from '../../lambda/handlers/http';
import { createPatSweeperHandler } from '../../lambda/handlers/pat-sweeper';
import { createRevocationAuditHandler } from '../../lambda/handlers/revocation-audit';
import { createRuntime } from '../../lambda/runtime';
import { type SnowflakeEmulator, startSnowflakeEmulator } from '../emulator/server';
import type { IssuedPostgresToken } from '../emulator/state';
import { type LocalGateway, startLocalGateway } from './gateway';
import { type KmsServer, startKmsServer } from './kms';
import {
  POSTGRES_INSTALL_HINT,
  postgresBinDir,
  startThrowawayCluster,
  type ThrowawayCluster,
} from './postgres';
import { type LocalRevocationTable, startLocalRevocationTable } from './revocation-table';
import type { LocalCredential } from './sigv4';
import { type LocalSts, startLocalSts } from './sts';
import { localStsClient } from './sts-client';
import { startTokenLdap, type TokenLdap } from './token-ldap';

export const DEMO_ACCOUNT_ID = '123456789012';
export const DEMO_ROLE_ARN = `arn:aws:iam::${DEMO_ACCOUNT_ID}:role/token-vendor-demo`;
export const DEMO_PRINCIPAL_ARN = `arn:aws:sts::${DEMO_ACCOUNT_ID}:assumed-role/token-vendor-demo/local-developer`;
/** The vendor function's own role in the demo: `demo-keyless` signs in to the emulator as it. */
export const DEMO_VENDOR_ROLE_ARN = `arn:aws:iam::${DEMO_ACCOUNT_ID}:role/token-vendor-local`;
const DEMO_VENDOR_SESSION_ARN = `arn:aws:sts::${DEMO_ACCOUNT_ID}:assumed-role/token-vendor-local/token-vendor-http`;

export interface LocalStackOptions {
  /** Run against this config (a real account, or any apiBaseUrl); without it, the generated demo. */
  readonly configFile?: string;
  /** With `configFile`: the credentials the gateway accepts, and the file they came from (shown in the banner). */
  readonly credentials?: { readonly file: string; readonly list: readonly LocalCredential[] };
  /** Where the demo writes its key, config and credentials; default `.local`. */
  readonly dir?: string;
  /** Gateway port; default 8787 (0 picks a free one). */
  readonly port?: number;
  readonly region?: string;
  /** Demo only: called for every Postgres token the emulator issues (the e2e test backs it with PostgreSQL). */
  readonly onPostgresToken?: (token: IssuedPostgresToken) => void | Promise<void>;
  /** Demo only: where the demo's Postgres instance listens (returned to callers). */
  readonly postgres?: {
    readonly host: string;
    readonly port: number;
    readonly sslmode?: 'require' | 'verify-ca' | 'verify-full';
  };
  /**
   * Demo only: a throwaway PostgreSQL behind `reporting_server` (`auto`: when PostgreSQL is installed).
   * Every vended token logs in as its Postgres user until the token's `expiresAt`, as Snowflake Postgres
   * takes tokens (see token-ldap.ts). Not with `postgres` or `onPostgresToken` (the caller brings its own).
   */
  readonly database?: 'auto' | false;
  /** With `database: 'auto'`: PostgreSQL's server binaries (default: found as `postgresBinDir` finds them); null: none. */
  readonly postgresBin?: string | null;
  /** The revocation list on dynalite, when dynalite is installed (default); false: none. */
  readonly revocations?: false;
  /** Clock of the vendor and the emulator (tests run them behind real time); the gateway keeps real time. */
  readonly now?: () => number;
  /** Audit lines; default Powertools Logger on stdout. */
  readonly auditSink?: AuditSink;
}

export interface LocalStack {
  readonly gateway: LocalGateway;
  readonly emulator?: SnowflakeEmulator;
  /** Demo only: the local STS the vendor's role asks for its workload identity token. */
  readonly sts?: LocalSts;
  /** Demo only: the vendor role's own credential for the local STS (mode 600). */
  readonly vendorCredentialsFile?: string;
  readonly config: Config;
  readonly configFile: string;
  readonly credentialsFile: string;
  readonly credentials: readonly LocalCredential[];
  readonly region: string;
  /** The revocation list on dynalite (the runbook's `revoke` writes there), or why there is none. */
  readonly revocations:
    | { readonly endpoint: string; readonly tableName: string; readonly leaseTableName: string }
    | { readonly missing: string };
  /** Demo with `database: 'auto'`: the PostgreSQL behind the instance, or why there is none. */
  readonly database?:
    | { readonly host: string; readonly port: number; readonly sslmode: 'require'; readonly database: string }
    | { readonly missing: string };
  close(): Promise<void>;
}

/** The Postgres users of the demo's instance: each exists in the local database, and logs in with tokens. */
const DEMO_POSTGRES_USERS = ['reporting_user'];

/** The demo's PAT target: a service user under a network policy that lets this machine in. */
export const DEMO_PAT = { target: 'demo-bi', user: 'DEMO_BI', role: 'DEMO_READER' } as const;
/** Locally the sweeper runs this often (the deployed one every `pats.sweepMinutes`). */
const LOCAL_SWEEP_MS = 10_000;

/**
 * The whole service on this machine: the SigV4-verifying gateway in front of the real HTTP handler,
 * and (for the demo) the Snowflake emulator with a generated key pair, a Postgres instance
 * `reporting_server` reachable through connection `demo` (key pair) and `demo-keyless` (workload
 * identity, through a local STS), demo credentials mapped to a demo principal, and a grant for
 * `reporting_user` on both, the JWT of connection `demo` and an OAuth integration.
 *
 * @example
 * ```ts
 * const stack = await startLocalStack({ port: 8787 });
 * ```
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const region = options.region ?? 'us-east-1';
  let emulator: SnowflakeEmulator | undefined;
  let sts: LocalSts | undefined;
  let vendorCredential: LocalCredential | undefined;
  let vendorCredentialsFile: string | undefined;
  let config: Config;
  let cluster: ThrowawayCluster | undefined;
  let ldap: TokenLdap | undefined;
  let database: LocalStack['database'];
  let onPostgresToken = options.onPostgresToken;
  let postgres = options.postgres;
  let configFile: string;
  let credentialsFile: string;
  let credentials: LocalCredential[];

  if (options.configFile) {
    configFile = options.configFile;
    config = await loadConfigFile(configFile);
    if (!options.credentials) throw new Error('startLocalStack: a config file needs its credentials.');
    credentialsFile = options.credentials.file;
    credentials = [...options.credentials.list];
  } else {
    if (options.database === 'auto' && !options.postgres && !options.onPostgresToken) {
      const bin = options.postgresBin === undefined ? postgresBinDir() : (options.postgresBin ?? undefined);
      if (!bin) database = { missing: POSTGRES_INSTALL_HINT };
      else {
        try {
          ldap = await startTokenLdap(options.now);
          cluster = await startThrowawayCluster(bin, { ldap: ldap.hbaOptions });
        } catch (error) {
          await ldap?.close();
          ldap = undefined;
          const why = (error as Error).message.split('\n')[0]!.slice(0, 300);
          database = {
            missing: `PostgreSQL did not start (${why}); the local stack runs without a database.`,
          };
        }
      }
    }
    if (cluster && ldap) {
      const admin = cluster.admin;
      const tokens = ldap;
      for (const user of DEMO_POSTGRES_USERS)
        await admin.query(`CREATE ROLE ${admin.escapeIdentifier(user)} LOGIN`);
      database = { host: '127.0.0.1', port: cluster.port, sslmode: 'require', database: 'postgres' };
      // As Snowflake Postgres takes tokens: every token issued for the user logs in until it expires.
      onPostgresToken = (token) => {
        if (DEMO_POSTGRES_USERS.includes(token.username))
          tokens.accept(token.username, token.token, token.expiresAt);
      };
      postgres = { host: '127.0.0.1', port: cluster.port, sslmode: 'require' };
    }
    const dir = resolve(options.dir ?? '.local');
    makePrivateDirectory(join(dir, 'keys'));
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyFile = join(dir, 'keys', 'demo.p8');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const oauthSecret = randomBytes(24).toString('base64url');
    process.env.TOKEN_VENDOR_DEMO_OAUTH_SECRET = oauthSecret;
    // The vendor's own role: what Lambda's execution role would be. It signs STS calls, nothing else.
    vendorCredential = {
      accessKeyId: `ASIALOCAL${randomBytes(6).toString('hex').toUpperCase().slice(0, 11)}`,
      secretAccessKey: randomBytes(30).toString('base64url'),
      sessionToken: randomBytes(40).toString('base64url'),
      principalArn: DEMO_VENDOR_SESSION_ARN,
    };
    sts = await startLocalSts({
      credentials: [vendorCredential],
      region,
      ...(options.now ? { now: options.now } : {}),
    });
    emulator = await startSnowflakeEmulator({
      accountName: 'DEMOORG-DEMOACCOUNT',
      users: [
        { name: 'TOKEN_VENDOR_DEMO', roles: ['TOKEN_VENDOR'], publicKey },
        {
          name: 'TOKEN_VENDOR_KEYLESS',
          roles: ['TOKEN_VENDOR'],
          workloadIdentity: { arn: DEMO_VENDOR_ROLE_ARN, issuer: sts.issuer },
        },
        // What docs/pat.md's administrator SQL makes: a service user, its role, the vendor's privilege on it.
        {
          name: DEMO_PAT.user,
          type: 'SERVICE',
          roles: [DEMO_PAT.role],
          keyAdminRoles: ['TOKEN_VENDOR'],
        },
      ],
      postgresInstances: [
        { name: 'reporting_server', ownerRole: 'ACCOUNTADMIN', usageRoles: ['TOKEN_VENDOR'] },
      ],
      oauthClients: [
        {
          clientId: 'token-vendor-demo',
          clientSecret: oauthSecret,
          allowedScopes: ['read', 'write'],
          expiresIn: 3600,
        },
      ],
      ...(onPostgresToken ? { onPostgresToken } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
    // …and a network policy that lets this machine use the demo user's PATs.
    emulator.account.databases.set('SECURITY', new Set(['PUBLIC', 'NETWORK']));
    emulator.account.networkRules.set('SECURITY.NETWORK.LOOPBACK', {
      qualifiedName: 'SECURITY.NETWORK.LOOPBACK',
      type: 'IPV4',
      mode: 'INGRESS',
      values: ['127.0.0.1/32'],
    });
    emulator.account.networkPolicies.set('LOOPBACK', {
      name: 'LOOPBACK',
      allowedRules: ['SECURITY.NETWORK.LOOPBACK'],
      blockedRules: [],
    });
    emulator.users.get(DEMO_PAT.user)!.networkPolicy = 'LOOPBACK';
    config = parseConfig({
      // Who holds what: `revoke` shows the demo principal's live tokens (the table is on dynalite).
      leases: { enabled: true },
      description: 'Generated by `npm start`: the local demo against the Snowflake emulator.',
      connections: {
        demo: {
          account: 'demoorg-demoaccount',
          user: 'TOKEN_VENDOR_DEMO',
          role: 'TOKEN_VENDOR',
          apiBaseUrl: emulator.url,
          key: { file: { path: keyFile } },
        },
        'demo-keyless': {
          account: 'demoorg-demoaccount',
          user: 'TOKEN_VENDOR_KEYLESS',
          role: 'TOKEN_VENDOR',
          apiBaseUrl: emulator.url,
          workloadIdentity: { provider: 'AWS', region },
        },
      },
      postgresInstances: ['demo', 'demo-keyless'].map((connection) => ({
        connection,
        instance: 'reporting_server',
        host: postgres?.host ?? 'localhost',
        port: postgres?.port ?? 5432,
        sslmode: postgres?.sslmode ?? 'require',
        allowedUsers: DEMO_POSTGRES_USERS,
      })),
      oauthIntegrations: {
        'demo-oauth': {
          grant: 'CLIENT_CREDENTIALS',
          tokenEndpoint: emulator.tokenEndpoint,
          clientId: 'token-vendor-demo',
          clientSecret: { env: 'TOKEN_VENDOR_DEMO_OAUTH_SECRET' },
          allowedScopes: ['read'],
        },
      },
      grants: [
        {
          principal: DEMO_ROLE_ARN,
          description: 'The demo developer',
          postgres: [
            { instance: 'reporting_server', connection: 'demo', usernames: ['reporting_user'] },
            { instance: 'reporting_server', connection: 'demo-keyless', usernames: ['reporting_user'] },
          ],
          snowflakeJwt: ['demo'],
          oauth: [{ integration: 'demo-oauth', scopes: ['read'] }],
          pat: [{ target: DEMO_PAT.target, roles: [DEMO_PAT.role] }],
        },
      ],
      patTargets: {
        [DEMO_PAT.target]: { connection: 'demo', user: DEMO_PAT.user, roles: [DEMO_PAT.role] },
      },
    });
    configFile = join(dir, 'config.json');
    writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
    credentials = [
      {
        accessKeyId: `AKIALOCAL${randomBytes(6).toString('hex').toUpperCase().slice(0, 11)}`,
        secretAccessKey: randomBytes(30).toString('base64url'),
        principalArn: DEMO_PRINCIPAL_ARN,
      },
    ];
    credentialsFile = join(dir, 'demo-credentials.json');
    writeFileSync(credentialsFile, `${JSON.stringify(credentials[0], null, 2)}\n`, { mode: 0o600 });
    vendorCredentialsFile = join(dir, 'vendor-credentials.json');
    writeFileSync(vendorCredentialsFile, `${JSON.stringify(vendorCredential, null, 2)}\n`, { mode: 0o600 });
  }

  // Locally: the same audit records as JSON lines on stdout, and no EMF metrics (there is no CloudWatch).
  const audit = new AuditLog(options.auditSink ?? jsonLines());
  // Changes to the list are audited as the deployed revocation-audit function audits its stream.
  const listAudit = createRevocationAuditHandler({ audit });
  // The PAT sweeper also wakes on a change to the list (set below, once it exists).
  let onListChange: (() => void) | undefined;
  const revocationTable =
    options.revocations === false
      ? { missing: 'off' }
      : await startLocalRevocationTable({
          onChange: (records) => {
            void listAudit({ Records: records }, LOCAL_CONTEXT);
            onListChange?.();
          },
        });
  const table = 'tableName' in revocationTable ? (revocationTable as LocalRevocationTable) : undefined;
  // PATs keep their leases in the lease table, sealed under a key: locally, a KMS stand-in on loopback.
  const pats = Object.keys(config.patTargets).length > 0 && table !== undefined;
  let kms: KmsServer | undefined;
  if (pats) kms = await startKmsServer();
  const runtime = await createRuntime({
    config,
    ...(sts && vendorCredential ? { sts: localStsClient(sts.url, region, vendorCredential) } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(kms ? { kms: localKmsClient(kms.url, region) } : {}),
    ...(table
      ? {
          env: {
            ...process.env,
            TOKEN_VENDOR_REVOCATION_TABLE: table.tableName,
            TOKEN_VENDOR_LEASE_TABLE: table.leaseTableName,
            ...(kms
              ? { TOKEN_VENDOR_PAT_KEY_ID: 'local-pat-key', TOKEN_VENDOR_CACHE_NAMESPACE: 'local' }
              : {}),
          },
          revocationsDynamodb: table.client,
        }
      : {}),
  });
  // The sweeper, as deployed: on a timer, and at once when the revocation list changes.
  const sweep = pats
    ? (() => {
        const handler = createPatSweeperHandler({
          runtime: () => runtime,
          audit,
          ...(options.now ? { now: options.now } : {}),
          env: { TOKEN_VENDOR_CACHE_NAMESPACE: 'local' },
        });
        let running: Promise<unknown> | undefined;
        return (event: unknown = {}) => {
          running ??= handler(event, {
            ...LOCAL_CONTEXT,
            functionName: 'pat-sweeper',
            getRemainingTimeInMillis: () => 60_000,
          } as Context)
            .catch(() => {})
            .finally(() => {
              running = undefined;
            });
          return running;
        };
      })()
    : undefined;
  const sweeping = sweep ? setInterval(() => void sweep(), LOCAL_SWEEP_MS) : undefined;
  sweeping?.unref();
  onListChange = sweep ? () => void sweep({ Records: [{ eventSource: 'aws:dynamodb' }] }) : undefined;
  const handler = createHttpHandler({
    vendor: () => runtime.vendor,
    audit,
    ...(options.now ? { now: options.now } : {}),
  });
  let gateway: LocalGateway;
  try {
    // The gateway keeps the real clock (SigV4 windows); `now` moves only the vendor and the emulator.
    gateway = await startLocalGateway({ handler, credentials, region, port: options.port ?? 8787 });
  } catch (error) {
    await emulator?.close();
    await sts?.close();
    await cluster?.stop();
    await ldap?.close();
    await table?.close();
    if (sweeping) clearInterval(sweeping);
    await kms?.close();
    throw error;
  }
  return {
    gateway,
    emulator,
    ...(sts ? { sts } : {}),
    ...(vendorCredentialsFile ? { vendorCredentialsFile } : {}),
    config,
    configFile,
    credentialsFile,
    credentials,
    region,
    ...(database ? { database } : {}),
    revocations: table
      ? { endpoint: table.endpoint, tableName: table.tableName, leaseTableName: table.leaseTableName }
      : (revocationTable as { missing: string }),
    close: async () => {
      if (sweeping) clearInterval(sweeping);
      await gateway.close();
      await emulator?.close();
      await kms?.close();
      await sts?.close();
      await cluster?.stop().catch(() => {});
      await ldap?.close();
      await table?.close();
    },
  };
}

/** A KMS client for the local stand-in (it takes any credentials). */
function localKmsClient(url: string, region: string) {
  let client: Promise<import('@aws-sdk/client-kms').KMSClient> | undefined;
  return () => {
    client ??= import('@aws-sdk/client-kms').then(
      ({ KMSClient }) =>
        new KMSClient({
          region,
          endpoint: url,
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }),
    );
    return client;
  };
}

/** The Lambda context the local stream handler runs with (it reads none of it). */
const LOCAL_CONTEXT = { awsRequestId: 'local', functionName: 'revocation-audit' } as Context;

/** One JSON line per audit record on stdout, shaped like the Powertools lines in CloudWatch. */
function jsonLines(): AuditSink {
  return {
    info: (message, ...attributes) => {
      process.stdout.write(
        `${JSON.stringify({ level: 'INFO', message, timestamp: new Date().toISOString(), service: 'token-vendor-local', ...Object.assign({}, ...attributes) })}\n`,
      );
    },
  };
}

/**
 * Create `path` and its missing parents (mode 0700), one level at a time. Node's recursive `mkdir`
 * spins forever under `/proc` (`serve --dir /proc/x`); this fails at once with the OS error.
 *
 * @example
 * ```ts
 * makePrivateDirectory('.local/keys');
 * ```
 */
export function makePrivateDirectory(path: string): void {
  const missing: string[] = [];
  let at = resolve(path);
  for (;;) {
    try {
      if (!statSync(at).isDirectory()) throw new Error(`${at} is not a directory`);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    missing.unshift(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const dir of missing) mkdirSync(dir, { mode: 0o700 });
}
