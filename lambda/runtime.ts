import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { STSClient } from '@aws-sdk/client-sts';
import { AuditLog } from './audit/audit-log';
import { AWS_CLIENT_DEFAULTS, loadDynamoDb, loadKms, loadSecretsManager, loadSts } from './aws/sdk';
import { readConfigText } from './config/deployed';
import { ConfigError } from './config/errors';
import type { Config, WorkloadIdentity } from './config/schema';
import { loadSigners, type SignerClients } from './keys/create-signer';
import type { Signer } from './keys/signer';
import type { OAuthTokenSource } from './oauth/access-token';
import type { PatIssuer } from './pat/issuer';
import type { PatLeaseStore } from './pat/lease-store';
import { defaultSqlApiBaseUrl } from './snowflake/account';
import { SqlApiClient, type SqlApiRetryPolicy, type SqlApiSettings } from './snowflake/sql-api';
import type { GetWebIdentityToken } from './snowflake/workload-identity';
import type { LeaseRecorder } from './vending/leases';
import type { Revocations } from './vending/revocations';
import type { SharedCacheLimits, SharedTokenCache } from './vending/shared-cache';
import { type SnowflakeConnection, TokenVendor } from './vending/vendor';
import { warmFetch } from './warm';

export interface RuntimeOptions {
  readonly config: Config;
  readonly secretsManager?: () => SecretsManagerClient | Promise<SecretsManagerClient>;
  readonly kms?: () => KMSClient | Promise<KMSClient>;
  /** The STS client for a keyless connection's region (undefined: the function's own region). */
  readonly sts?: (region: string | undefined) => STSClient | Promise<STSClient>;
  /** The DynamoDB client of the shared cache (default: made on first use, in the table's region). */
  readonly dynamodb?: () => DynamoDBClient | Promise<DynamoDBClient>;
  /** The DynamoDB client of the revocation list (default: `dynamodb`, or one made in the table's region). */
  readonly revocationsDynamodb?: () => DynamoDBClient | Promise<DynamoDBClient>;
  /** Told each failed read of the revocation list. */
  readonly onRevocationReadError?: (error: unknown) => void;
  /** Told each failed lease write. */
  readonly onLeaseWriteError?: (error: unknown) => void;
  /** Told why the shared cache was bypassed (`dynamodb:GetItem`, `kms:Decrypt`, `lease-wait`, …). */
  readonly onSharedCacheFallback?: (reason: string, error?: unknown) => void;
  /** The shared cache's bounds (default SHARED_CACHE_LIMITS); a test on a slow table widens them. */
  readonly sharedCacheLimits?: Partial<SharedCacheLimits>;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly retry?: Partial<SqlApiRetryPolicy>;
}

/** Everything a handler needs, built from one config. Connections and AWS clients are created on first use. */
export interface Runtime {
  readonly config: Config;
  readonly vendor: TokenVendor;
  connection(name: string): SnowflakeConnection;
  /**
   * A SQL API client for connection `name` that signs with `signer` (the rotation's test step signs
   * with the pending key), with every setting the connection's own client has.
   */
  sqlClient(name: string, signer: Signer): SqlApiClient;
  readonly secretsManager: () => SecretsManagerClient | Promise<SecretsManagerClient>;
  readonly kms: () => KMSClient | Promise<KMSClient>;
  /** The PAT lease store, when the config has PAT targets (the sweeper reads and ends leases through it). */
  readonly patLeases?: () => Promise<PatLeaseStore>;
  /** The revocation list's table, when there is one (the rotate-key function writes `rekey` entries). */
  readonly revocationTable?: {
    readonly tableName: string;
    readonly client: () => DynamoDBClient | Promise<DynamoDBClient>;
  };
  /**
   * Do at init what the first request would otherwise do: build every connection, load and construct
   * the AWS SDK clients the config uses, warm the fetch engine, read the revocation list, load the PAT
   * modules. Never reads a secret; the list's read is its only AWS call.
   */
  prepare(): Promise<void>;
}

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}

/** `make()` once it has succeeded; a rejected attempt is forgotten, so the next call makes it again. */
function lazyRetrying<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= make().catch((error: unknown) => {
      value = undefined;
      throw error;
    });
    return value;
  };
}

/**
 * The composition root: config → signers → SQL API clients → OAuth source → vendor. Nothing here
 * touches the network; the first request does. What only some configs use (keyless sign-in, the shared
 * cache, the revocation list, leases, PATs) is loaded here or on first use, and only when the config
 * uses it: a function pays no cold-start time for a feature it is not configured with.
 *
 * @example
 * ```ts
 * const runtime = await createRuntime({ config, secretsManager: () => new SecretsManagerClient({}) });
 * ```
 */
export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { config } = options;
  const keyless = Object.values(config.connections).some((c) => c.workloadIdentity);
  const listClient = listClients(options);
  const listTable = revocationTableOf(config, options, 'TOKEN_VENDOR_REVOCATION_TABLE', listClient);
  const leaseTable = leaseTableOf(config, options);
  const keySources = [
    ...Object.values(config.connections).flatMap((c) => (c.key ? [c.key] : [])),
    ...Object.values(config.oauthIntegrations).flatMap((i) => (i.assertion ? [i.assertion.key] : [])),
  ];
  const [createSigner, oauthModule, workloadIdentity, revocationsModule, leasesModule, sharedCacheModule] =
    await Promise.all([
      loadSigners(keySources),
      Object.keys(config.oauthIntegrations).length > 0 ? import('./oauth/token-source') : undefined,
      keyless ? import('./snowflake/workload-identity') : undefined,
      listTable ? import('./vending/revocations') : undefined,
      leaseTable ? import('./vending/leases') : undefined,
      config.cache.shared ? import('./vending/shared-cache') : undefined,
    ]);
  const secretsManager =
    options.secretsManager ??
    lazy(async () => new (await loadSecretsManager()).SecretsManagerClient({ ...AWS_CLIENT_DEFAULTS }));
  const kms = options.kms ?? lazy(async () => new (await loadKms()).KMSClient({ ...AWS_CLIENT_DEFAULTS }));
  const clients: SignerClients = { secretsManager, kms, env: options.env, now: options.now };
  const connections = new Map<string, SnowflakeConnection>();
  const assertionSigners = new Map<string, Signer>();
  // One STS client per region, made on first use; a failed attempt is not kept.
  const stsClients = new Map<string, () => Promise<STSClient>>();
  const stsFor = (region: string | undefined): Promise<STSClient> => {
    const key = region ?? '';
    let client = stsClients.get(key);
    if (!client) {
      client = lazyRetrying(async () => {
        if (options.sts) return options.sts(region);
        const { STSClient } = await loadSts();
        // A hung STS call must not hold a vend until the function times out.
        return new STSClient({ ...AWS_CLIENT_DEFAULTS, ...(region ? { region } : {}) });
      });
      stsClients.set(key, client);
    }
    return client();
  };
  const webIdentityToken =
    (identity: WorkloadIdentity): GetWebIdentityToken =>
    async (input) => {
      const [client, { GetWebIdentityTokenCommand }] = await Promise.all([
        stsFor(identity.region),
        loadSts(),
      ]);
      // The Lambda runtime provides the AWS SDK; one older than GetWebIdentityToken (late 2025) cannot sign in.
      if (typeof GetWebIdentityTokenCommand !== 'function') {
        throw new workloadIdentity!.WorkloadIdentityError(
          'WIF_REQUEST_INVALID',
          "This runtime's @aws-sdk/client-sts has no GetWebIdentityToken; use a newer Lambda runtime or bundle the SDK.",
        );
      }
      return client.send(new GetWebIdentityTokenCommand(input));
    };

  const settingsOf = (name: string) => {
    const settings = config.connections[name];
    if (!settings || !Object.hasOwn(config.connections, name))
      throw new ConfigError(`No connection named "${name}".`);
    return settings;
  };

  const sessionOf = (name: string): SqlApiSettings => {
    const settings = settingsOf(name);
    return {
      baseUrl: settings.apiBaseUrl ?? defaultSqlApiBaseUrl(settings.account),
      role: settings.role,
      warehouse: settings.warehouse,
      database: settings.database,
      schema: settings.schema,
      statementTimeoutSeconds: settings.statementTimeoutSeconds,
      fetch: options.fetch,
      now: options.now,
      retry: options.retry,
    };
  };

  const sqlClient = (name: string, signer: Signer): SqlApiClient => {
    const settings = settingsOf(name);
    return new SqlApiClient({
      ...sessionOf(name),
      account: settings.account,
      user: settings.user,
      signer,
      jwtLifetimeSeconds: settings.jwtLifetimeSeconds,
    });
  };

  const connection = (name: string): SnowflakeConnection => {
    let runtime = connections.get(name);
    if (!runtime) {
      const settings = settingsOf(name);
      if (settings.workloadIdentity) {
        const authenticator = new workloadIdentity!.WorkloadIdentityAuthenticator({
          getWebIdentityToken: webIdentityToken(settings.workloadIdentity),
          lifetimeSeconds: settings.workloadIdentity.tokenLifetimeSeconds,
          now: options.now,
        });
        runtime = { name, config: settings, sql: new SqlApiClient({ ...sessionOf(name), authenticator }) };
      } else {
        if (!settings.key)
          throw new ConfigError(`Connection "${name}" has neither a key nor a workload identity.`);
        const signer = createSigner(settings.key, clients);
        runtime = { name, config: settings, signer, sql: sqlClient(name, signer) };
      }
      connections.set(name, runtime);
    }
    return runtime;
  };

  const oauth: OAuthTokenSource = oauthModule
    ? oauthModule.oauthTokenSource(config, {
        secretsManager,
        env: options.env,
        fetch: options.fetch,
        now: options.now,
        assertionSigner: (name) => {
          let signer = assertionSigners.get(name);
          if (!signer) {
            const assertion = config.oauthIntegrations[name]?.assertion;
            if (!assertion) throw new ConfigError(`Integration "${name}" has no assertion key.`);
            signer = createSigner(assertion.key, clients);
            assertionSigners.set(name, signer);
          }
          return signer;
        },
      })
    : async (name) => {
        throw new ConfigError(`No OAuth integration named "${name}".`);
      };

  // The rotate-key function writes rekey entries but never reads the list (the stack sets this instead).
  const rekeyTable = listTable ?? revocationTableOf(config, options, 'TOKEN_VENDOR_REKEY_TABLE', listClient);
  const revocations = revocationsModule
    ? revocationList(revocationsModule, config, options, listTable, (name, loadedBefore) => {
        // A key read before the rekey may be the one rotate-now is about to remove from Snowflake.
        if (Object.hasOwn(config.connections, name)) connection(name).signer?.refresh({ loadedBefore });
      })
    : undefined;
  const leases =
    leasesModule && leaseTable
      ? leaseRecorder(leasesModule, config, options, listClient, leaseTable)
      : undefined;
  const patLeases = patLeaseStore(config, options, kms, listClient);
  const patIssuer: (() => Promise<PatIssuer>) | undefined = patLeases
    ? lazyRetrying(async () => {
        const [{ PatIssuer }, { stackTag }, store] = await Promise.all([
          import('./pat/issuer'),
          import('./pat/names'),
          patLeases(),
        ]);
        return new PatIssuer({
          leases: store,
          sql: (name) => connection(name).sql,
          tag: stackTag(patNamespace(options)),
          sweepMs: config.pats.sweepMinutes * 60_000,
          ...(options.now ? { now: options.now } : {}),
        });
      })
    : undefined;
  const prepare = async (): Promise<void> => {
    const connectionSettings = Object.values(config.connections);
    const secretsUsed =
      keySources.some((k) => 'secretsManager' in k) ||
      Object.values(config.oauthIntegrations).some((i) => i.clientSecret?.secretsManager);
    const kmsUsed = keySources.some((k) => 'kms' in k) || config.cache.shared !== undefined;
    const stsRegions = [
      ...new Set(connectionSettings.flatMap((c) => (c.workloadIdentity ? [c.workloadIdentity.region] : []))),
    ];
    await Promise.all([
      warmFetch(),
      ...(secretsUsed ? [secretsManager()] : []),
      ...(kmsUsed ? [kms()] : []),
      ...(stsRegions.length > 0 ? [loadSts(), ...stsRegions.map(stsFor)] : []),
      ...(config.cache.shared || revocations ? [loadDynamoDb()] : []),
    ]);
    for (const name of Object.keys(config.connections)) connection(name);
    await Promise.all([
      // The first read of the revocation list, at init: the first vend need not wait for it.
      revocations?.current().catch(() => {}),
      // The PAT modules and lease store (no AWS call); a missing table or key is the first PAT request's to report.
      patIssuer?.().catch(() => {}),
    ]);
  };

  return {
    config,
    connection,
    sqlClient,
    secretsManager,
    kms,
    ...(rekeyTable ? { revocationTable: rekeyTable } : {}),
    ...(patLeases ? { patLeases } : {}),
    prepare,
    vendor: new TokenVendor({
      config,
      connection,
      oauth,
      now: options.now,
      ...(sharedCacheModule ? { shared: sharedCache(sharedCacheModule, config, options, kms) } : {}),
      ...(revocations ? { revocations } : {}),
      ...(leases ? { leases } : {}),
      ...(patIssuer ? { pat: patIssuer } : {}),
    }),
  };
}

/** The stack's identity in PAT names and seals (the construct sets it; one value for the whole stack). */
export function patNamespace(options: Pick<RuntimeOptions, 'env'>): string {
  return (options.env ?? process.env).TOKEN_VENDOR_CACHE_NAMESPACE ?? '';
}

/**
 * The PAT lease store of a config with PAT targets: the lease table (`TOKEN_VENDOR_LEASE_TABLE`, else
 * `leases.dynamodb.tableName`) and the key that seals secrets (`TOKEN_VENDOR_PAT_KEY_ID`, else
 * `pats.kmsKeyId`). Loaded on first use: a function whose config has no PAT target never loads it.
 */
function patLeaseStore(
  config: Config,
  options: RuntimeOptions,
  kms: () => KMSClient | Promise<KMSClient>,
  listClient: ListClient,
): (() => Promise<PatLeaseStore>) | undefined {
  if (Object.keys(config.patTargets).length === 0) return undefined;
  const tableName = leaseTableName(config, options);
  const kmsKeyId = (options.env ?? process.env).TOKEN_VENDOR_PAT_KEY_ID || config.pats.kmsKeyId;
  const client = listClient(config.leases.dynamodb.region);
  return lazyRetrying(async () => {
    if (!tableName || !kmsKeyId)
      throw new ConfigError(
        'PAT targets need the lease table and a KMS key: deploy with the stack (it sets TOKEN_VENDOR_LEASE_TABLE and TOKEN_VENDOR_PAT_KEY_ID) or name leases.dynamodb.tableName and pats.kmsKeyId.',
      );
    const { PatLeaseStore } = await import('./pat/lease-store');
    return new PatLeaseStore({
      client,
      tableName,
      kms,
      kmsKeyId,
      namespace: patNamespace(options),
      ...(options.now ? { now: options.now } : {}),
    });
  });
}

/** The DynamoDB client of the lists in a region (the revocation list, leases and PAT leases share it). */
type ListClient = (region: string | undefined) => () => DynamoDBClient | Promise<DynamoDBClient>;

/** The lists' DynamoDB client: given, or one per region, made on first use. */
function listClients(options: RuntimeOptions): ListClient {
  const given = options.revocationsDynamodb ?? options.dynamodb;
  const byRegion = new Map<string, () => Promise<DynamoDBClient>>();
  return (region) => {
    if (given) return given;
    let client = byRegion.get(region ?? '');
    if (!client) {
      client = lazy(async () => {
        const { DynamoDBClient } = await loadDynamoDb();
        return new DynamoDBClient({ ...AWS_CLIENT_DEFAULTS, ...(region ? { region } : {}) });
      });
      byRegion.set(region ?? '', client);
    }
    return client;
  };
}

/** The lease table's name: `TOKEN_VENDOR_LEASE_TABLE` (the stack sets it), else `leases.dynamodb.tableName`. */
function leaseTableName(config: Config, options: RuntimeOptions): string | undefined {
  return (options.env ?? process.env).TOKEN_VENDOR_LEASE_TABLE || config.leases.dynamodb.tableName;
}

/** The lease table, when the config turns leases on and names one. */
function leaseTableOf(config: Config, options: RuntimeOptions): string | undefined {
  return config.leases.enabled ? leaseTableName(config, options) : undefined;
}

/** Leases, in `tableName`. */
function leaseRecorder(
  { LeaseRecorder }: typeof import('./vending/leases'),
  config: Config,
  options: RuntimeOptions,
  listClient: ListClient,
  tableName: string,
): LeaseRecorder {
  const client = listClient(config.leases.dynamodb.region);
  return new LeaseRecorder({
    client,
    tableName,
    ...(options.onLeaseWriteError ? { onWriteError: options.onLeaseWriteError } : {}),
  });
}

/**
 * The revocation list, when there is a table: `TOKEN_VENDOR_REVOCATION_TABLE` (the stack sets it), else
 * `revocations.dynamodb.tableName`. Without one (the local stack without dynalite, a test), nothing is
 * enforced; `revocations.enabled: false` turns it off even with one.
 */
function revocationTableOf(
  config: Config,
  options: RuntimeOptions,
  variable: 'TOKEN_VENDOR_REVOCATION_TABLE' | 'TOKEN_VENDOR_REKEY_TABLE',
  listClient: ListClient,
): { tableName: string; client: () => DynamoDBClient | Promise<DynamoDBClient> } | undefined {
  const settings = config.revocations;
  const env = options.env ?? process.env;
  const tableName = env[variable] || settings.dynamodb.tableName;
  if (!settings.enabled || !tableName) return undefined;
  return { tableName, client: listClient(settings.dynamodb.region) };
}

function revocationList(
  { Revocations, readRevocationTable }: typeof import('./vending/revocations'),
  config: Config,
  options: RuntimeOptions,
  table: ReturnType<typeof revocationTableOf>,
  onRekey: (connection: string, loadedBefore: number) => void,
): Revocations {
  const { tableName, client } = table!;
  const settings = config.revocations;
  return new Revocations({
    config,
    refreshMs: settings.refreshSeconds * 1000,
    read: async () => readRevocationTable(await client(), tableName, options.now),
    ...(options.now ? { now: options.now } : {}),
    ...(options.onRevocationReadError ? { onReadError: options.onRevocationReadError } : {}),
    onRekey,
  });
}

/**
 * The shared cache of a config that turns it on: the table and key from the environment the stack sets
 * (`TOKEN_VENDOR_CACHE_TABLE`, `TOKEN_VENDOR_CACHE_KEY_ID`), else from the config; the namespace of its
 * entries from `TOKEN_VENDOR_CACHE_NAMESPACE` (the stack's id and the construct's address).
 */
function sharedCache(
  { SharedTokenCache }: typeof import('./vending/shared-cache'),
  config: Config,
  options: RuntimeOptions,
  kms: () => KMSClient | Promise<KMSClient>,
): SharedTokenCache {
  const settings = config.cache.shared!;
  const env = options.env ?? process.env;
  const tableName = env.TOKEN_VENDOR_CACHE_TABLE || settings.dynamodb.tableName;
  const kmsKeyId = env.TOKEN_VENDOR_CACHE_KEY_ID || settings.kmsKeyId;
  if (!tableName || !kmsKeyId) {
    throw new ConfigError(
      'cache.shared needs a table and a KMS key: deploy with the stack (it sets TOKEN_VENDOR_CACHE_TABLE and TOKEN_VENDOR_CACHE_KEY_ID) or name cache.shared.dynamodb.tableName and cache.shared.kmsKeyId.',
    );
  }
  const region = settings.dynamodb.region;
  return new SharedTokenCache({
    tableName,
    kmsKeyId,
    // The stack's identity (set by the construct): two stacks that share a table never share entries.
    namespace: env.TOKEN_VENDOR_CACHE_NAMESPACE ?? '',
    leaseMs: settings.leaseSeconds * 1000,
    kms,
    dynamodb:
      options.dynamodb ??
      lazy(async () => {
        const { DynamoDBClient } = await loadDynamoDb();
        // The cache also bounds each of its calls itself (SHARED_CACHE_LIMITS), whatever client it is given.
        return new DynamoDBClient({ ...AWS_CLIENT_DEFAULTS, ...(region ? { region } : {}) });
      }),
    ...(options.now ? { now: options.now } : {}),
    ...(options.onSharedCacheFallback ? { onFallback: options.onSharedCacheFallback } : {}),
    ...(options.sharedCacheLimits ? { limits: options.sharedCacheLimits } : {}),
  });
}

/**
 * Read the config the function was deployed with: `TOKEN_VENDOR_CONFIG_FILE` (the CDK stack ships the
 * config it validated at synth as `config.json` in the function's code, so it has no size limit and a
 * change deploys a new version; see config/sealed.ts) or `TOKEN_VENDOR_CONFIG` (JSON, for local use).
 */
export async function configFromEnvironment(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<Config> {
  if (env.TOKEN_VENDOR_CONFIG) return readConfigText(env.TOKEN_VENDOR_CONFIG, 'TOKEN_VENDOR_CONFIG');
  if (env.TOKEN_VENDOR_CONFIG_FILE) {
    let text: string;
    try {
      text = readFileSync(env.TOKEN_VENDOR_CONFIG_FILE, 'utf8');
    } catch (error) {
      throw new ConfigError(`Cannot read the config file ${env.TOKEN_VENDOR_CONFIG_FILE}.`, { cause: error });
    }
    return readConfigText(text, env.TOKEN_VENDOR_CONFIG_FILE);
  }
  throw new ConfigError('No config: set TOKEN_VENDOR_CONFIG (JSON) or TOKEN_VENDOR_CONFIG_FILE.');
}

// Cold-start wiring for the Lambda entries: cheap objects only; the config is read by the init below.
export const logger = new Logger({ serviceName: 'token-vendor' });
export const metrics = new Metrics({ namespace: 'TokenVendor', serviceName: 'token-vendor' });
export const auditLog = new AuditLog(logger);
// A failed build (a bad config) is not kept: the next call tries again and reports it again.
export const defaultRuntime = lazyRetrying(async () =>
  createRuntime({
    config: await configFromEnvironment(),
    // The container serves on its last list (or refuses without one); the operator should know.
    onRevocationReadError: (error) =>
      logger.warn('The revocation list could not be read', {
        errorName: (error as Error)?.name,
        errorMessage: String((error as Error)?.message).slice(0, 300),
      }),
    onLeaseWriteError: (error) =>
      logger.warn('A lease could not be recorded', {
        errorName: (error as Error)?.name,
        errorMessage: String((error as Error)?.message).slice(0, 300),
      }),
  }),
);

/**
 * The Lambda entries' init, awaited at module top level (outside the handler, so provisioned
 * concurrency absorbs it): parse the config, build the runtime, construct its SDK clients, warm fetch.
 * It never throws: a bad or missing config is reported by the first request (CONFIG_ERROR, audited),
 * exactly as without it.
 *
 * @example
 * ```ts
 * await prepareDefaultRuntime(); // top level of a handler module
 * ```
 */
export async function prepareDefaultRuntime(): Promise<void> {
  try {
    await (await defaultRuntime()).prepare();
  } catch {
    // the first request tells
  }
}
