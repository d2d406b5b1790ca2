import { readFileSync } from 'node:fs';
import { Aspects, CfnOutput, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ROUTES } from '../lambda/api/routes';
import { ConfigError } from '../lambda/config/errors';
import { parseConfig, parseConfigText } from '../lambda/config/load';
import type { Config, ConfigInput } from '../lambda/config/schema';
import { VendorApi } from './api';
import { secretResource } from './arns';
import { DirectPath } from './direct-path';
import { ExampleStateMachine } from './example-state-machine';
import { AcknowledgeExpectedWildcards, acknowledge, compliance } from './expected-wildcards';
import { VendorFunctions } from './functions';
import { VendorKeys } from './keys';
import { LeaseRecord } from './leases';
import { Monitoring, type PerTrigger, type Trigger } from './monitoring';
import { VendorNetwork } from './network';
import { PatLeases } from './pats';
import { RevocationList } from './revocations';
import { KeyRotation, rotationTargets } from './rotation';
import { SharedCache } from './shared-cache';

export interface TokenVendorProps {
  /**
   * The config (see docs/deploy.md), as an object or from {@link readConfigFile}. Validated here by the
   * same schema the functions use; an invalid one fails the synth naming every bad field. It holds no
   * secrets (only where they are) and ships sealed inside each function.
   */
  readonly config: ConfigInput;
  /** Audit and function log retention; default one year. */
  readonly logRetention?: logs.RetentionDays;
  /** When the rotation check runs; default once a day. */
  readonly rotationCheckSchedule?: events.Schedule;
  /** Stage throttling (requests per second, burst); default 50 / 100. */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
  /** Deploy the example Step Functions state machine; default true when the config has direct-invoke Postgres targets. */
  readonly exampleStateMachine?: boolean;
  /** Email addresses subscribed to the alarm topic. */
  readonly alarmEmails?: readonly string[];
  /**
   * Reserved concurrency per function: a ceiling (a flood of callers cannot take the account's whole
   * concurrency, nor run up Snowflake and KMS without bound) and a floor (other functions cannot starve
   * the vendor). Default {@link DEFAULT_RESERVED_CONCURRENCY}; `false` reserves none (an account whose
   * concurrency quota is too low to reserve any).
   */
  readonly reservedConcurrency?: Partial<Record<Trigger, number>> | false;
  /**
   * Stack outputs: `ApiUrl`, `DirectFunctionArn`, `EnvelopeKeyArn`, and for keyless connections the roles
   * Snowflake must trust (`HttpRoleArn`, `DirectRoleArn`, `RotationCheckRoleArn`). Default on, named as
   * listed; `outputPrefix` prefixes each name (two vendors in one stack need different ones).
   */
  readonly outputs?: boolean;
  readonly outputPrefix?: string;
  /** Lambda runtime; default nodejs22.x. */
  readonly runtime?: lambda.Runtime;
  /**
   * Allow `file` key sources and `env` client secrets, which cannot work in Lambda (nothing ships the
   * file or sets the variable). Only for tests that import a synthesized bundle locally; default false.
   */
  readonly allowLocalKeySources?: boolean;
}

/**
 * Reserved concurrency by default: the HTTP function matches the stage's default burst (100), the direct
 * path half that, the scheduled and rotation functions two (one run at a time, and a retry).
 */
export const DEFAULT_RESERVED_CONCURRENCY: Readonly<Record<Trigger, number>> = {
  http: 100,
  direct: 50,
  'rotation-check': 2,
  'rotate-key': 2,
  'revocation-audit': 2,
  'pat-sweeper': 2,
};

/**
 * Read and validate a config file (JSON) for {@link TokenVendor}; an unreadable or invalid file throws
 * a `ConfigError` that names the file and every bad field.
 *
 * @example
 * ```ts
 * new TokenVendor(stack, 'TokenVendor', { config: readConfigFile('token-vendor.json') });
 * ```
 */
export function readConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`Cannot read the config file ${path}.`);
  }
  return parseConfigText(text, path);
}

/**
 * The Token Vendor, composed of parts an adopter can read, reach and extend, each its own construct:
 *
 * | property | construct | what it holds |
 * |---|---|---|
 * | `keys` | {@link VendorKeys} | the vendor's KMS key and the envelope key |
 * | `compute` | {@link VendorFunctions} | one function per trigger, roles, log groups |
 * | `gateway` | {@link VendorApi} | the `AWS_IAM` REST API, its logs and WAF |
 * | `sharedCache` | {@link SharedCache} | the fleet-wide token cache, when the config turns it on |
 * | `directPath` | {@link DirectPath} | who may invoke the direct path and open its sealed tokens |
 * | `revocations` | {@link RevocationList} | the revocation list's table and the operator role |
 * | `leases` | {@link LeaseRecord} | who holds which live token, when the config turns leases on or has PAT targets |
 * | `pats` | {@link PatLeases} | the PAT leases' grants and the sweeper's schedule and triggers, with PAT targets |
 * | `rotation` | {@link KeyRotation} | rotation schedules, the daily check, its dead letters |
 * | `network` | {@link VendorNetwork} | VPC placement and endpoints, when the config asks |
 * | `monitoring` | {@link Monitoring} | alarms, dashboard, saved queries |
 *
 * It adds stack outputs (`ApiUrl`, `DirectFunctionArn`, `EnvelopeKeyArn`, and the roles keyless
 * connections need) and acknowledges, on each resource with its reason, the rule-set findings that do
 * not apply ({@link applyRuleSets} runs the rule sets on your app).
 *
 * @example
 * ```ts
 * const vendor = new TokenVendor(stack, 'TokenVendor', { config: readConfigFile('token-vendor.json') });
 * vendor.functions.http.addEnvironment('POWERTOOLS_LOG_LEVEL', 'DEBUG');
 * ```
 */
export class TokenVendor extends Construct {
  readonly keys: VendorKeys;
  readonly compute: VendorFunctions;
  readonly gateway: VendorApi;
  /** The fleet-wide token cache, when the config turns it on. */
  readonly sharedCache?: SharedCache;
  readonly directPath: DirectPath;
  /** The revocation list, unless the config turns it off (`revocations.enabled: false`). */
  readonly revocations?: RevocationList;
  /** Who holds what, when the config turns leases on (and the PAT leases, with PAT targets). */
  readonly leases?: LeaseRecord;
  /** Programmatic access tokens: grants and the sweeper's schedule, when the config has PAT targets. */
  readonly pats?: PatLeases;
  readonly rotation: KeyRotation;
  /** VPC placement, when the config has `deployment.vpc`. */
  readonly network?: VendorNetwork;
  readonly monitoring: Monitoring;
  /** The example Step Functions state machine, when deployed. */
  readonly exampleStateMachine?: ExampleStateMachine;
  /** The config as validated (defaults applied). */
  readonly config: Config;
  /** The reserved concurrency per function, or undefined when the deployment reserves none. */
  readonly reservedConcurrency?: Readonly<Record<Trigger, number>>;

  /** Shortcuts to the parts' resources. */
  get key(): kms.Key {
    return this.keys.key;
  }
  get envelopeKey(): kms.Key {
    return this.keys.envelopeKey;
  }
  get api(): apigw.RestApi {
    return this.gateway.api;
  }
  get accessLogs(): logs.LogGroup {
    return this.gateway.accessLogs;
  }
  /** `rotate-key` exists only when the config has a key or client secret to rotate. */
  get functions(): PerTrigger<lambda.Function> {
    return this.compute.functions;
  }
  get logGroups(): PerTrigger<logs.LogGroup> {
    return this.compute.logGroups;
  }
  get cacheTable(): dynamodb.Table | undefined {
    return this.sharedCache?.table;
  }
  get deadLetters(): sqs.Queue {
    return this.rotation.deadLetters;
  }

  constructor(scope: Construct, id: string, props: TokenVendorProps) {
    super(scope, id);
    // Validated again here, whoever built it: the functions trust the config this construct seals.
    const config = parseConfig(props.config, 'config given to the TokenVendor construct');
    this.config = config;
    if (!props.allowLocalKeySources) refuseLocalKeySources(config);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const reserved =
      props.reservedConcurrency === false
        ? undefined
        : { ...DEFAULT_RESERVED_CONCURRENCY, ...props.reservedConcurrency };
    for (const [trigger, n] of Object.entries(reserved ?? {}))
      if (!Number.isInteger(n) || n < 1 || n > 10_000)
        throw new ConfigError(
          `reservedConcurrency.${trigger} must be a whole number from 1 to 10000, not ${n}.`,
        );
    if (reserved) this.reservedConcurrency = reserved;

    this.keys = new VendorKeys(this, 'Keys');
    if (config.deployment.vpc) this.network = new VendorNetwork(this, 'Network', { config });
    this.compute = new VendorFunctions(this, 'Functions', {
      config,
      key: this.key,
      logRetention: retention,
      ...(reserved ? { reservedConcurrency: reserved } : {}),
      ...(props.runtime ? { runtime: props.runtime } : {}),
      ...(this.network ? { placement: this.network.placement } : {}),
    });
    // This vendor's identity: its cache entries and its PATs are its own, whatever else shares a table or a user.
    const namespace = `${Stack.of(this).stackId}/${this.node.addr}`;
    if (config.cache.shared) {
      this.sharedCache = new SharedCache(this, 'SharedCache', {
        key: this.key,
        vending: [this.functions.http, this.functions.direct],
        namespace,
      });
    }
    if (config.revocations.enabled) {
      this.revocations = new RevocationList(this, 'Revocations', {
        key: this.key,
        vending: [this.functions.http, this.functions.direct],
        ...(this.functions['revocation-audit'] ? { auditor: this.functions['revocation-audit'] } : {}),
      });
    }
    const sweeper = this.functions['pat-sweeper'];
    // PATs keep their leases in the lease table, whether or not the other leases are recorded.
    if (config.leases.enabled || sweeper) {
      this.leases = new LeaseRecord(this, 'Leases', {
        key: this.key,
        vending: [this.functions.http, this.functions.direct],
        readers: this.revocations ? [this.revocations.operatorRole] : [],
      });
    }
    this.directPath = new DirectPath(this, 'DirectPath', {
      config,
      direct: this.functions.direct,
      envelopeKey: this.envelopeKey,
    });
    this.rotation = new KeyRotation(this, 'Rotation', {
      config,
      functions: this.functions,
      key: this.key,
      ...(props.rotationCheckSchedule ? { schedule: props.rotationCheckSchedule } : {}),
    });
    if (sweeper && this.leases)
      this.pats = new PatLeases(this, 'Pats', {
        config,
        key: this.key,
        table: this.leases.table,
        vending: [this.functions.http, this.functions.direct],
        sweeper,
        ...(this.revocations ? { revocations: this.revocations } : {}),
        deadLetters: this.rotation.deadLetters,
        namespace,
      });
    const rotateKey = this.functions['rotate-key'];
    if (this.revocations && rotateKey)
      this.revocations.allowRotateNow(
        rotateKey,
        rotationTargets(config).rotated.map((r) => secretResource(this, r.secretId)),
      );
    this.gateway = new VendorApi(this, 'Gateway', {
      config,
      handler: this.functions.http,
      key: this.key,
      logRetention: retention,
      ...(props.throttle ? { throttle: props.throttle } : {}),
    });
    this.monitoring = new Monitoring(this, 'Monitoring', {
      functions: this.functions,
      logGroups: this.logGroups,
      api: this.api,
      accessLogs: this.accessLogs,
      key: this.key,
      sharedCache: this.sharedCache !== undefined,
      revocations: this.revocations !== undefined,
      ...(this.revocations?.auditFailures ? { revocationAuditFailures: this.revocations.auditFailures } : {}),
      ...(props.alarmEmails ? { alarmEmails: props.alarmEmails } : {}),
    });

    const firstDirectPostgres = config.directInvoke.postgres[0];
    if (props.exampleStateMachine ?? firstDirectPostgres !== undefined) {
      this.exampleStateMachine = new ExampleStateMachine(this, 'ExampleStateMachine', {
        direct: this.functions.direct,
        key: this.key,
        retention,
        target: firstDirectPostgres
          ? { instance: firstDirectPostgres.instance, username: firstDirectPostgres.usernames[0]! }
          : { instance: 'reporting_server', username: 'reporting_user' },
      });
    }

    if (props.outputs !== false) this.#outputs(props.outputPrefix ?? '');
    this.#acknowledge();
  }

  /** What an operator or a pipeline reads after the deploy (see `TokenVendorProps.outputs`). */
  #outputs(prefix: string): void {
    const stack = Stack.of(this);
    const output = (id: string, value: string, description: string) =>
      new CfnOutput(stack, `${prefix}${id}`, { value, description });
    output(
      'ApiUrl',
      this.api.url,
      `Base URL; ${ROUTES.postgres.method} {ApiUrl}${ROUTES.postgres.path.slice(1)}`,
    );
    output(
      'DirectFunctionArn',
      this.functions.direct.functionArn,
      'For Step Functions: lambda:InvokeFunction',
    );
    output('EnvelopeKeyArn', this.envelopeKey.keyArn, 'kms:Decrypt on this key opens encryptedToken');
    if (this.leases)
      output('LeaseTableName', this.leases.table.tableName, 'token-vendor leases list --table <this>');
    if (this.revocations) {
      output(
        'RevocationTableName',
        this.revocations.table.tableName,
        'token-vendor revoke|unrevoke|revocations list --table <this>',
      );
      output(
        'OperatorRoleArn',
        this.revocations.operatorRole.roleArn,
        'Assume this role to revoke (docs/runbook.md)',
      );
    }
    // Keyless connections: the roles Snowflake's service users must trust (WORKLOAD_IDENTITY ARN).
    if (Object.values(this.config.connections).some((c) => c.workloadIdentity)) {
      for (const [id, trigger] of [
        ['HttpRoleArn', 'http'],
        ['DirectRoleArn', 'direct'],
        ['RotationCheckRoleArn', 'rotation-check'],
      ] as const) {
        output(
          id,
          this.functions[trigger].role!.roleArn,
          `Keyless connections: register this role in Snowflake (WORKLOAD_IDENTITY / ADD WORKLOAD IDENTITY; ${trigger} function)`,
        );
      }
    }
  }

  /** Each acknowledged cdk-nag finding, with its reason. */
  #acknowledge(): void {
    const ack = acknowledge;
    for (const f of Object.values(this.functions)) {
      const runtime =
        'nodejs22.x is the runtime the bundle targets and the tests run on (Node 22 LTS); pass runtime: NODEJS_24_X to move up.';
      ack(f, 'AwsSolutions-L1', runtime);
      ack(f, 'Serverless-LambdaLatestVersion', runtime);
    }
    for (const f of [this.functions.http, this.functions.direct, this.functions['rotate-key']]) {
      if (!f) continue;
      ack(
        f,
        ['Serverless-LambdaDLQ', ...compliance('LambdaDLQ')],
        'Invoked synchronously only (API Gateway, Step Functions, Secrets Manager rotation): a failure returns to the caller, which retries; there is no event to keep.',
      );
    }
    const auditor = this.functions['revocation-audit'];
    if (auditor)
      ack(
        auditor,
        ['Serverless-LambdaDLQ', ...compliance('LambdaDLQ')],
        "Invoked by its event source mapping (the revocation table's stream), whose on-failure destination is a queue (RevocationList.auditFailures); a function DLQ applies to asynchronous invokes only.",
      );
    if (!this.reservedConcurrency) {
      for (const f of Object.values(this.functions))
        ack(
          f,
          compliance('LambdaConcurrency'),
          'reservedConcurrency: false was chosen for this deployment (an account whose concurrency quota is too low to reserve any); the stage throttle still bounds the HTTP function.',
        );
    }
    // Control Tower rules (cdk-validator-cfnguard), where the template is right and the rule cannot tell.
    for (const permission of this.node.findAll().filter((c) => c instanceof lambda.CfnPermission)) {
      const p = permission as lambda.CfnPermission;
      if (p.sourceArn !== undefined)
        ack(
          p,
          'cdk-validator-cfnguard::lambda_function_public_access_prohibited_check',
          'The permission names a service principal and a SourceArn (an Fn::Join of this stack’s API or secret ARN, which the rule cannot evaluate), or a named role.',
        );
    }
    if (!this.config.deployment.vpc) {
      for (const f of Object.values(this.functions))
        ack(
          f,
          ['cdk-validator-cfnguard::lambda_inside_vpc_check', ...compliance('LambdaInsideVPC')],
          'VPC placement is optional (config deployment.vpc): the functions call only HTTPS APIs (Snowflake, Secrets Manager, KMS) and hold no network-reachable resource.',
        );
    }
    Aspects.of(this).add(new AcknowledgeExpectedWildcards());
  }
}

/**
 * Key sources that cannot work in Lambda fail the synth, naming each: a `file` key (nothing ships the
 * file) or an `env` client secret (nothing sets the variable).
 */
function refuseLocalKeySources(config: Config): void {
  const problems = [
    ...Object.entries(config.connections).flatMap(([name, c]) =>
      c.key && 'file' in c.key ? [`connections.${name}.key.file`] : [],
    ),
    ...Object.entries(config.oauthIntegrations).flatMap(([name, i]) => [
      ...(i.clientSecret?.env ? [`oauthIntegrations.${name}.clientSecret.env`] : []),
      ...(i.assertion && 'file' in i.assertion.key ? [`oauthIntegrations.${name}.assertion.key.file`] : []),
    ]),
  ];
  if (problems.length > 0) {
    throw new ConfigError(
      `Invalid token vendor config for AWS: these sources work only on a developer's machine (use secretsManager or kms):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
}
