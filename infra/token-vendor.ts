import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aspects, CfnOutput, Duration, Fn, Names, RemovalPolicy, Stack, Stage } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { apiGatewayModel } from '../lambda/api/openapi';
import { ROUTES, TOKEN_TYPES } from '../lambda/api/routes';
import { ConfigError } from '../lambda/config/errors';
import { parseConfig } from '../lambda/config/load';
import type { Config, KeySource } from '../lambda/config/schema';
import { sealConfig } from '../lambda/config/sealed';
import { SNOWFLAKE_WIF_AUDIENCE } from '../lambda/snowflake/workload-identity';
import { kmsKeyResource, secretResource } from './arns';
import { ExampleStateMachine } from './example-state-machine';
import { AcknowledgeExpectedWildcards, acknowledge } from './expected-wildcards';
import { ManagedPolicyRole } from './managed-policy-role';
import { Monitoring, type PerTrigger, type Trigger } from './monitoring';

export interface TokenVendorProps {
  /** The validated config (`parseConfig`). Bundled into the functions; it holds no secrets. */
  readonly config: Config;
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

/** A secret the functions read, and the customer-managed key it is encrypted with, if any. */
interface SecretRef {
  readonly secretId: string;
  readonly kmsKeyId?: string;
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
};

/** The API's one stage. */
const STAGE = 'prod';

const HANDLERS: Record<Trigger, string> = {
  http: '../lambda/handlers/http.ts',
  direct: '../lambda/handlers/direct.ts',
  'rotation-check': '../lambda/handlers/rotation-check.ts',
  'rotate-key': '../lambda/handlers/rotate-key.ts',
};

/**
 * The Token Vendor: one function per trigger (HTTP API, direct invoke, rotation check, key rotation),
 * each with its own least-privilege role; an `AWS_IAM` REST API whose resource policy admits only the
 * granted principals; a daily rotation check; Secrets Manager rotation schedules; encrypted log groups
 * with retention; alarms, a dashboard and saved Logs Insights queries.
 *
 * @example
 * ```ts
 * new TokenVendor(stack, 'TokenVendor', { config: parseConfig(json) });
 * ```
 */
export class TokenVendor extends Construct {
  readonly key: kms.Key;
  readonly envelopeKey: kms.Key;
  readonly api: apigw.RestApi;
  /** `rotate-key` exists only when a connection's key is in Secrets Manager (keyless connections have none). */
  readonly functions: PerTrigger<nodejs.NodejsFunction>;
  /** The fleet-wide token cache, when the config turns it on. */
  readonly cacheTable?: dynamodb.Table;
  readonly logGroups: PerTrigger<logs.LogGroup>;
  readonly monitoring: Monitoring;
  readonly #config: Config;
  /** The reserved concurrency per function, or undefined when the deployment reserves none. */
  readonly #reserved: Readonly<Record<Trigger, number>> | undefined;
  /** Where failed scheduled rotation checks land. */
  readonly deadLetters: sqs.Queue;
  /** The API's access log group (one JSON line per request, gateway refusals included). */
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: TokenVendorProps) {
    super(scope, id);
    // Validated again here, whoever built it: the functions trust the config this construct seals.
    const config = parseConfig(props.config, 'config given to the TokenVendor construct');
    this.#config = config;
    if (!props.allowLocalKeySources) refuseLocalKeySources(config);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const stack = Stack.of(this);

    this.key = new kms.Key(this, 'Key', {
      description: 'Token Vendor: encrypts its logs and alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchLogs',
        principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:*`,
          },
        },
      }),
    );
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsToEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.envelopeKey = new kms.Key(this, 'EnvelopeKey', {
      description: 'Token Vendor: encrypts tokens returned to Step Functions (consumers need kms:Decrypt)',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Grants only for AWS services acting for a resource (Control Tower CT.KMS.PR.3).
    for (const key of [this.key, this.envelopeKey]) {
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'GrantsOnlyForAwsServices',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['kms:CreateGrant'],
          resources: ['*'],
          conditions: {
            BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
          },
        }),
      );
    }

    const logGroup = (trigger: Trigger) =>
      new logs.LogGroup(this, `${pascal(trigger)}Logs`, {
        retention,
        encryptionKey: this.key,
        removalPolicy: RemovalPolicy.RETAIN,
      });
    // Rotation: the rotate-key function exists to rewrite exactly the key secrets it rotates.
    const rotated = Object.entries(config.connections).flatMap(([name, c]) =>
      c.key && 'secretsManager' in c.key
        ? [
            {
              name,
              connection: c,
              secretId: c.key.secretsManager.secretId,
              kmsKeyId: c.key.secretsManager.kmsKeyId,
            },
          ]
        : [],
    );
    // Client-secret sync: OAuth client secrets whose Snowflake security integration the vendor mirrors.
    const synced = Object.entries(config.oauthIntegrations).flatMap(([name, i]) =>
      i.snowflakeIntegration && i.clientSecret?.secretsManager
        ? [
            {
              name,
              connection: i.snowflakeIntegration.connection,
              secretId: i.clientSecret.secretsManager.secretId,
              kmsKeyId: i.clientSecret.secretsManager.kmsKeyId,
            },
          ]
        : [],
    );
    const rotates = rotated.length > 0 || synced.length > 0;
    this.logGroups = {
      http: logGroup('http'),
      direct: logGroup('direct'),
      'rotation-check': logGroup('rotation-check'),
      ...(rotates ? { 'rotate-key': logGroup('rotate-key') } : {}),
    };

    // The validated config ships inside each function's code as config.json (no env-var size limit),
    // sealed: the functions use it without building the schema at every cold start (config/sealed.ts).
    // Bundling copies it into each asset; it lives in the cloud assembly directory (cdk.out), so it goes
    // wherever the synth output goes and leaves nothing in the system temp folder.
    const outdir = Stage.of(this)?.outdir ?? mkdtempSync(join(tmpdir(), 'token-vendor-config-'));
    mkdirSync(outdir, { recursive: true });
    const configFile = join(outdir, `token-vendor-config.${Names.uniqueId(this)}.json`);
    writeFileSync(configFile, sealConfig(config));
    // Optional VPC placement: the functions reach Snowflake from the VPC's NAT (a stable egress IP that a
    // Snowflake network policy can pin) or through PrivateLink.
    const vpcSettings = config.deployment.vpc;
    // A route table per subnet, when the config names them one for one (CDK warns about subnets without).
    const routeTables =
      vpcSettings && vpcSettings.routeTableIds.length === vpcSettings.subnetIds.length
        ? vpcSettings.routeTableIds
        : undefined;
    const network = vpcSettings
      ? {
          vpc: ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
            vpcId: vpcSettings.vpcId,
            availabilityZones: vpcSettings.subnetIds.map(
              (_, i) => Stack.of(this).availabilityZones[i] ?? `az${i}`,
            ),
            privateSubnetIds: vpcSettings.subnetIds,
            ...(routeTables ? { privateSubnetRouteTableIds: routeTables } : {}),
          }),
          vpcSubnets: {
            subnets: vpcSettings.subnetIds.map((id, i) =>
              ec2.Subnet.fromSubnetAttributes(this, `Subnet${i}`, {
                subnetId: id,
                ...(routeTables ? { routeTableId: routeTables[i] } : {}),
              }),
            ),
          },
          securityGroups: vpcSettings.securityGroupIds.map((id, i) =>
            ec2.SecurityGroup.fromSecurityGroupId(this, `SecurityGroup${i}`, id, { mutable: false }),
          ),
        }
      : undefined;
    if (vpcSettings?.createEndpoints && network)
      this.#endpoints(config, network.vpc, vpcSettings, network.vpcSubnets);
    const reserved =
      props.reservedConcurrency === false
        ? undefined
        : { ...DEFAULT_RESERVED_CONCURRENCY, ...props.reservedConcurrency };
    this.#reserved = reserved;
    for (const [trigger, n] of Object.entries(reserved ?? {}))
      if (!Number.isInteger(n) || n < 1 || n > 10_000)
        throw new ConfigError(
          `reservedConcurrency.${trigger} must be a whole number from 1 to 10000, not ${n}.`,
        );
    const fn = (
      trigger: Trigger,
      environment: Record<string, string> = {},
      timeout = Duration.seconds(25),
    ) => {
      const role = new ManagedPolicyRole(this, `${pascal(trigger)}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Token Vendor ${trigger} function`,
      });
      const group = this.logGroups[trigger]!;
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [`${group.logGroupArn}:*`],
        }),
      );
      const f = new nodejs.NodejsFunction(this, `${pascal(trigger)}Function`, {
        ...(network ?? {}),
        entry: fileURLToPath(new URL(HANDLERS[trigger], import.meta.url)),
        handler: 'handler',
        runtime: props.runtime ?? lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: 512,
        timeout,
        ...(reserved ? { reservedConcurrentExecutions: reserved[trigger] } : {}),
        role,
        logGroup: group,
        description: `Token Vendor: ${trigger}`,
        environment: {
          // No --enable-source-maps: measured, it adds ≈ 60 ms to init and ≈ 9 MiB to every container
          // (bench/cold-path.bench.ts). The map ships in the asset; set the option on a function to debug.
          POWERTOOLS_SERVICE_NAME: 'token-vendor',
          POWERTOOLS_METRICS_NAMESPACE: 'TokenVendor',
          TOKEN_VENDOR_CONFIG_FILE: '/var/task/config.json',
          ...environment,
        },
        bundling: {
          format: nodejs.OutputFormat.ESM,
          target: 'node22',
          minify: true,
          sourceMap: true,
          mainFields: ['module', 'main'],
          // Some dependencies are CommonJS and call require(); give the ESM bundle one.
          banner:
            "import { createRequire as __tvCreateRequire } from 'node:module'; const require = __tvCreateRequire(import.meta.url);",
          // The nodejs22.x runtime provides AWS SDK v3: not bundling it keeps ~450 KB of code out of every
          // cold start. The vendor loads SDK clients on first use (lambda/aws/sdk.ts).
          externalModules: ['@aws-sdk/*', '@smithy/*'],
          // Error classes are matched and reported by name; minification must not rename them.
          keepNames: true,
          commandHooks: {
            beforeBundling: () => [],
            beforeInstall: () => [],
            afterBundling: (_inputDir: string, outputDir: string) => [
              `cp "${configFile}" "${outputDir}/config.json"`,
            ],
          },
        },
      });
      (f.node.defaultChild as lambda.CfnFunction).tracingConfig = { mode: 'Active' };
      role.addManagedPolicy(xray);
      return f;
    };

    // X-Ray on every function. The permission is granted by one policy of its own (X-Ray supports no
    // resource-level permissions), so the one acknowledged `Resource::*` finding is that policy's alone.
    const xray = new iam.ManagedPolicy(this, 'XRayWrite', {
      description: 'Token Vendor functions: send X-Ray traces',
      statements: [
        new iam.PolicyStatement({
          actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
          resources: ['*'],
        }),
      ],
    });
    this.functions = {
      http: fn('http'),
      direct: fn('direct', { TOKEN_VENDOR_ENVELOPE_KEY_ID: this.envelopeKey.keyArn }),
      'rotation-check': fn('rotation-check', {}, Duration.seconds(120)),
      ...(rotates ? { 'rotate-key': fn('rotate-key', {}, Duration.seconds(120)) } : {}),
    };

    // Exactly the key material each function reads.
    const connectionKeys = Object.values(config.connections).flatMap((c) => (c.key ? [c.key] : []));
    const assertionKeys = Object.values(config.oauthIntegrations).flatMap((i) =>
      i.assertion ? [i.assertion.key] : [],
    );
    const clientSecrets: SecretRef[] = Object.values(config.oauthIntegrations).flatMap((i) =>
      i.clientSecret?.secretsManager ? [i.clientSecret.secretsManager] : [],
    );
    this.#grantKeys(this.functions.http, [...connectionKeys, ...assertionKeys], clientSecrets, false);
    this.#grantKeys(this.functions.direct, [...connectionKeys, ...assertionKeys], clientSecrets, false);
    this.#grantKeys(this.functions['rotation-check'], connectionKeys, [], true);
    this.#grantWorkloadIdentity(config);
    this.cacheTable = this.#sharedCache(config);
    this.#secureDirectPath(config);

    const rotateKey = this.functions['rotate-key'];
    if (rotateKey && rotated.length > 0) {
      rotateKey.addToRolePolicy(
        new iam.PolicyStatement({
          actions: [
            'secretsmanager:DescribeSecret',
            'secretsmanager:GetSecretValue',
            'secretsmanager:PutSecretValue',
            'secretsmanager:UpdateSecretVersionStage',
          ],
          resources: rotated.map((r) => secretResource(this, r.secretId)),
        }),
      );
      // Writing a new version of a secret under a customer-managed key needs the key, through Secrets Manager only.
      this.#grantSecretKeys(rotateKey, rotated, ['kms:Decrypt', 'kms:GenerateDataKey']);
      // Secrets Manager may invoke the rotation function for exactly these secrets.
      rotated.forEach((r, i) => {
        rotateKey.addPermission(`SecretsManagerInvoke${i}`, {
          principal: new iam.ServicePrincipal('secretsmanager.amazonaws.com'),
          sourceAccount: stack.account,
          sourceArn: secretResource(this, r.secretId),
        });
      });
    }
    if (rotateKey && synced.length > 0) {
      // Client-secret sync reads the staged secret and moves AWSCURRENT; it never writes a secret value.
      rotateKey.addToRolePolicy(
        new iam.PolicyStatement({
          actions: [
            'secretsmanager:DescribeSecret',
            'secretsmanager:GetSecretValue',
            'secretsmanager:UpdateSecretVersionStage',
          ],
          resources: synced.map((r) => secretResource(this, r.secretId)),
        }),
      );
      this.#grantSecretKeys(rotateKey, synced, ['kms:Decrypt']);
      // It signs in to Snowflake through the integration's connection (its key, or its role: see below).
      const keys = [...new Set(synced.map((r) => r.connection))].flatMap((c) => {
        const key = config.connections[c]?.key;
        return key ? [key] : [];
      });
      if (keys.length > 0) this.#grantKeys(rotateKey, keys, [], false);
      synced.forEach((r, i) => {
        rotateKey.addPermission(`SecretsManagerInvokeClientSecret${i}`, {
          principal: new iam.ServicePrincipal('secretsmanager.amazonaws.com'),
          sourceAccount: stack.account,
          sourceArn: secretResource(this, r.secretId),
        });
        // The new secret comes from the OAuth provider: a scheduled rotation without a staged AWSPENDING
        // version fails (RotateKeyErrorsAlarm), which is the reminder to get one.
        new secretsmanager.CfnRotationSchedule(this, `RotateClientSecret${pascal(r.name)}`, {
          secretId: r.secretId,
          rotationLambdaArn: rotateKey.functionArn,
          rotationRules: { automaticallyAfterDays: 90 },
          rotateImmediatelyOnUpdate: false,
        }).node.addDependency(rotateKey);
      });
    }
    for (const { name, connection, secretId } of rotateKey ? rotated : []) {
      new secretsmanager.CfnRotationSchedule(this, `Rotate${pascal(name)}`, {
        secretId,
        rotationLambdaArn: rotateKey!.functionArn,
        // A day before the check calls the key due, so a healthy schedule never shows ROTATION_DUE.
        rotationRules: { automaticallyAfterDays: Math.max(1, connection.rotation.rotateAfterDays - 1) },
        // The first rotation waits for the schedule: not on the first deploy, nor whenever the schedule changes.
        rotateImmediatelyOnUpdate: false,
      }).node.addDependency(rotateKey!);
    }

    // A scheduled check that cannot be delivered or keeps failing lands here instead of vanishing.
    this.deadLetters = new sqs.Queue(this, 'RotationCheckDeadLetters', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    // EventBridge may use the key to deliver to the encrypted dead-letter queue, for this account only.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeDeadLetters',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    (this.functions['rotation-check'].node.defaultChild as lambda.CfnFunction).deadLetterConfig = {
      targetArn: this.deadLetters.queueArn,
    };
    // Exact actions (grantSendMessages would add kms:GenerateDataKey* and kms:ReEncrypt* wildcards).
    this.functions['rotation-check'].addToRolePolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.deadLetters.queueArn] }),
    );
    this.functions['rotation-check'].addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `sqs.${stack.region}.amazonaws.com` } },
      }),
    );
    new events.Rule(this, 'RotationCheckSchedule', {
      description: 'Token Vendor: daily check that every connection key is registered and not overdue',
      schedule: props.rotationCheckSchedule ?? events.Schedule.rate(Duration.days(1)),
      targets: [
        new targets.LambdaFunction(this.functions['rotation-check'], {
          retryAttempts: 2,
          deadLetterQueue: this.deadLetters,
        }),
      ],
    });

    this.accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention,
      encryptionKey: this.key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.api = this.#restApi(props, this.accessLogs, retention);
    this.#waf(this.api, retention);

    this.monitoring = new Monitoring(this, 'Monitoring', {
      functions: this.functions,
      logGroups: this.logGroups,
      api: this.api,
      accessLogs: this.accessLogs,
      key: this.key,
      sharedCache: this.cacheTable !== undefined,
      ...(props.alarmEmails ? { alarmEmails: props.alarmEmails } : {}),
    });

    const firstDirectPostgres = config.directInvoke.postgres[0];
    if (props.exampleStateMachine ?? firstDirectPostgres !== undefined) {
      new ExampleStateMachine(this, 'ExampleStateMachine', {
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
    // Keyless connections: the roles Snowflake's service users must trust (WORKLOAD_IDENTITY ARN).
    if (Object.values(this.#config.connections).some((c) => c.workloadIdentity)) {
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

  /**
   * The fleet-wide token cache (config `cache.shared`): an on-demand table with a TTL attribute, encrypted
   * with the vendor's key; point-in-time recovery is off because a lost cache costs one mint per target
   * and nothing else. The vending functions may read and write its items (no Scan, no Query, no
   * DeleteItem: the vendor never lists or deletes; expiry is the TTL's job) and seal/open tokens with the
   * vendor's key only under the cache's encryption context.
   */
  #sharedCache(config: Config): dynamodb.Table | undefined {
    if (!config.cache.shared) return undefined;
    const stack = Stack.of(this);
    const table = new dynamodb.Table(this, 'TokenCache', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'ttl',
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: false },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    acknowledge(
      table,
      [
        'AwsSolutions-DDB3',
        'Serverless-DynamoDBPointInTimeRecovery',
        'cdk-validator-cfnguard::dynamodb_table_pitr_enabled_check',
        ...compliance('DynamoDBPITREnabled'),
        ...compliance('DynamoDBInBackupPlan'),
      ],
      'A cache: losing it costs one mint per target (the vendor falls back to minting), so point-in-time recovery and backups buy nothing.',
    );
    for (const f of [this.functions.http, this.functions.direct]) {
      f.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
          resources: [table.tableArn],
        }),
      );
      // Table encryption: DynamoDB uses the key on the function's behalf, and only DynamoDB may.
      f.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
          resources: [this.key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${stack.region}.amazonaws.com` } },
        }),
      );
      // Sealing cached tokens: a data key per entry, bound to the entry by the encryption context.
      f.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [this.key.keyArn],
          conditions: {
            'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['token-vendor:cache'] },
            Null: { 'kms:EncryptionContextKeys': 'false' },
          },
        }),
      );
      f.addEnvironment('TOKEN_VENDOR_CACHE_TABLE', table.tableName);
      f.addEnvironment('TOKEN_VENDOR_CACHE_KEY_ID', this.key.keyArn);
      // Part of every entry's key: this stack's entries are its own, whatever else shares the table.
      f.addEnvironment('TOKEN_VENDOR_CACHE_NAMESPACE', `${stack.stackId}/${this.node.addr}`);
    }
    return table;
  }

  /**
   * Keyless connections: the functions that sign in to Snowflake (http, direct, rotation-check) may ask
   * STS for a web identity token for audience `snowflakecomputing.com` only, no longer-lived than the
   * config asks. The `Null` condition makes the audience check non-vacuous: `ForAllValues` alone is
   * true for a request that carries no audience at all.
   */
  #grantWorkloadIdentity(config: Config): void {
    const lifetimes = Object.values(config.connections).flatMap((c) =>
      c.workloadIdentity ? [c.workloadIdentity.tokenLifetimeSeconds] : [],
    );
    if (lifetimes.length === 0) return;
    const policy = new iam.ManagedPolicy(this, 'WorkloadIdentitySignIn', {
      description: 'Token Vendor functions: sign in to Snowflake as this role (STS GetWebIdentityToken)',
      statements: [
        new iam.PolicyStatement({
          actions: ['sts:GetWebIdentityToken'],
          resources: ['*'],
          conditions: {
            'ForAllValues:StringEquals': { 'sts:IdentityTokenAudience': SNOWFLAKE_WIF_AUDIENCE },
            Null: { 'sts:IdentityTokenAudience': 'false' },
            NumericLessThanEquals: { 'sts:DurationSeconds': Math.max(...lifetimes) },
          },
        }),
      ],
    });
    for (const f of [
      this.functions.http,
      this.functions.direct,
      this.functions['rotation-check'],
      this.functions['rotate-key'], // client-secret sync through a keyless connection
    ])
      f?.role?.addManagedPolicy(policy);
    // The check runs as its own role; it must also know the others to confirm Snowflake trusts each.
    this.functions['rotation-check'].addEnvironment(
      'TOKEN_VENDOR_SIGN_IN_ROLE_ARNS',
      Fn.join(',', [this.functions.http.role!.roleArn, this.functions.direct.role!.roleArn]),
    );
  }

  /** GetSecretValue on exactly the key (and client) secrets, kms:Sign/GetPublicKey on exactly the KMS keys. */
  #grantKeys(
    f: lambda.Function,
    keys: readonly KeySource[],
    clientSecrets: readonly SecretRef[],
    describeKms: boolean,
  ): void {
    const refs: SecretRef[] = [
      ...keys.flatMap((k) => ('secretsManager' in k ? [k.secretsManager] : [])),
      ...clientSecrets,
    ];
    const secrets = [...new Set(refs.map((r) => r.secretId))];
    if (secrets.length > 0) {
      f.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: secrets.map((s) => secretResource(this, s)),
        }),
      );
    }
    this.#grantSecretKeys(f, refs, ['kms:Decrypt']);
    const kmsKeys = [...new Set(keys.flatMap((k) => ('kms' in k ? [k.kms.keyId] : [])))];
    const actions = ['kms:Sign', 'kms:GetPublicKey', ...(describeKms ? ['kms:DescribeKey'] : [])];
    for (const keyId of kmsKeys) {
      const { resource, aliasCondition } = kmsKeyResource(this, keyId);
      f.addToRolePolicy(
        new iam.PolicyStatement({
          actions,
          resources: [resource],
          ...(aliasCondition
            ? { conditions: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': aliasCondition } } }
            : {}),
        }),
      );
    }
  }

  /**
   * What the direct path trusts. Lambda resource policies cannot deny, so any principal of this account
   * with lambda:InvokeFunction on the direct function can invoke it; the tokens it returns are sealed with
   * the envelope key, and that key's policy lets only the named consumers open them (and only for contexts
   * that name a token), denying kms:Decrypt to everyone else. The function's resource policy names the
   * state machines' roles (directInvokers) so cross-account or service callers need nothing else.
   */
  #secureDirectPath(config: Config): void {
    const direct = this.functions.direct;
    const { directInvokers, envelopeConsumers } = config.deployment;
    this.envelopeKey.grant(direct, 'kms:GenerateDataKey');
    directInvokers.forEach((arn, i) => {
      direct.addPermission(`DirectInvoker${i}`, { principal: new iam.ArnPrincipal(arn) });
    });
    const consumers = [...new Set(envelopeConsumers)];
    if (consumers.length > 0) {
      this.envelopeKey.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'NamedConsumersOpenSealedTokens',
          principals: consumers.map((arn) => new iam.ArnPrincipal(arn)),
          actions: ['kms:Decrypt'],
          resources: ['*'],
          conditions: {
            'ForAllValues:StringEquals': {
              'kms:EncryptionContextKeys': [
                'token-vendor:tokenType',
                'token-vendor:tokenId',
                'token-vendor:requestId',
              ],
            },
            Null: { 'kms:EncryptionContext:token-vendor:tokenId': 'false' },
          },
        }),
      );
    }
    this.envelopeKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'NobodyElseOpensSealedTokens',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:Decrypt'],
        resources: ['*'],
        ...(consumers.length > 0 ? { conditions: { ArnNotEquals: { 'aws:PrincipalArn': consumers } } } : {}),
      }),
    );
  }

  /** The customer-managed keys of `secrets`, usable only through Secrets Manager in this region. */
  #grantSecretKeys(f: lambda.Function, secrets: readonly SecretRef[], actions: string[]): void {
    const stack = Stack.of(this);
    const keyIds = [...new Set(secrets.flatMap((s) => (s.kmsKeyId ? [s.kmsKeyId] : [])))];
    for (const keyId of keyIds) {
      const { resource, aliasCondition } = kmsKeyResource(this, keyId);
      f.addToRolePolicy(
        new iam.PolicyStatement({
          actions,
          resources: [resource],
          conditions: {
            StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.amazonaws.com` },
            ...(aliasCondition
              ? { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': aliasCondition } }
              : {}),
          },
        }),
      );
    }
  }

  #restApi(props: TokenVendorProps, accessLogs: logs.LogGroup, retention: logs.RetentionDays): apigw.RestApi {
    const principals = [...new Set(this.#config.grants.map((g) => g.principal))];
    const invoke = TOKEN_TYPES.map((type) => `execute-api:/*/${ROUTES[type].method}${ROUTES[type].path}`);
    const { endpoint, principalOrgId, allowedSourceIps } = this.#config.deployment;
    const privateApi = endpoint.type === 'PRIVATE';
    // The network perimeter: each condition denies every request that does not meet it, whoever signs it,
    // so leaked credentials of a granted role do not work from elsewhere.
    const deny = (sid: string, conditions: Record<string, unknown>) =>
      new iam.PolicyStatement({
        sid,
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: ['execute-api:/*'],
        conditions,
      });
    const perimeter = [
      ...(privateApi
        ? [
            deny('OnlyThroughTheseVpcEndpoints', {
              StringNotEquals: { 'aws:SourceVpce': endpoint.vpcEndpointIds },
            }),
          ]
        : []),
      ...(principalOrgId
        ? [deny('OnlyThisOrganization', { StringNotEquals: { 'aws:PrincipalOrgID': principalOrgId } })]
        : []),
      ...(allowedSourceIps.length > 0
        ? [
            deny('OnlyFromTheseNetworks', {
              NotIpAddress: { [privateApi ? 'aws:VpcSourceIp' : 'aws:SourceIp']: allowedSourceIps },
            }),
          ]
        : []),
    ];
    const policy = new iam.PolicyDocument({
      statements:
        principals.length === 0
          ? [
              new iam.PolicyStatement({
                effect: iam.Effect.DENY,
                principals: [new iam.AnyPrincipal()],
                actions: ['execute-api:Invoke'],
                resources: ['execute-api:/*'],
              }),
            ]
          : [
              // Only the principals named in grants may call; the handler then checks what each may have.
              new iam.PolicyStatement({
                principals: [new iam.AnyPrincipal()],
                actions: ['execute-api:Invoke'],
                resources: invoke,
                conditions: { ArnEquals: { 'aws:PrincipalArn': principals } },
              }),
              new iam.PolicyStatement({
                effect: iam.Effect.DENY,
                principals: [new iam.AnyPrincipal()],
                actions: ['execute-api:Invoke'],
                resources: ['execute-api:/*'],
                conditions: { ArnNotEquals: { 'aws:PrincipalArn': principals } },
              }),
              ...perimeter,
            ],
    });
    const api = new apigw.RestApi(this, 'Api', {
      description: 'Token Vendor: short-lived Snowflake credentials for IAM principals',
      policy,
      endpointTypes: [privateApi ? apigw.EndpointType.PRIVATE : apigw.EndpointType.REGIONAL],
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: STAGE,
        throttlingRateLimit: props.throttle?.rateLimit ?? 50,
        throttlingBurstLimit: props.throttle?.burstLimit ?? 100,
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        // Who asked (userArn), what API Gateway itself said (error message and response type, for refusals
        // the Lambda never sees) and how long it took.
        accessLogFormat: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: apigw.AccessLogField.contextRequestId(),
            requestTime: apigw.AccessLogField.contextRequestTime(),
            ip: apigw.AccessLogField.contextIdentitySourceIp(),
            userArn: apigw.AccessLogField.contextIdentityUserArn(),
            caller: apigw.AccessLogField.contextIdentityCaller(),
            userAgent: apigw.AccessLogField.contextIdentityUserAgent(),
            httpMethod: apigw.AccessLogField.contextHttpMethod(),
            resourcePath: apigw.AccessLogField.contextResourcePath(),
            protocol: apigw.AccessLogField.contextProtocol(),
            status: apigw.AccessLogField.contextStatus(),
            responseLength: apigw.AccessLogField.contextResponseLength(),
            responseLatency: apigw.AccessLogField.contextResponseLatency(),
            integrationStatus: apigw.AccessLogField.contextIntegrationStatus(),
            integrationLatency: apigw.AccessLogField.contextIntegrationLatency(),
            errorMessage: apigw.AccessLogField.contextErrorMessage(),
            errorType: apigw.AccessLogField.contextErrorResponseType(),
            wafStatus: apigw.AccessLogField.contextWafResponseCode(),
            xrayTraceId: apigw.AccessLogField.contextXrayTraceId(),
          }),
        ),
        tracingEnabled: true,
      },
      defaultMethodOptions: { authorizationType: apigw.AuthorizationType.IAM },
    });
    const validator = api.addRequestValidator('BodyValidator', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    // API Gateway's execution log group, managed here (retention, KMS) instead of created on first use.
    const executionLogs = new logs.LogGroup(this, 'ApiExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${api.restApiId}/${STAGE}`,
      retention,
      encryptionKey: this.key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    api.deploymentStage.node.addDependency(executionLogs);
    // No console test-invoke permission: it would let the console invoke the function without the
    // resource policy's principal check.
    const integration = new apigw.LambdaIntegration(this.functions.http, {
      proxy: true,
      allowTestInvoke: false,
    });
    // Resources, methods and request models come from the API contract (lambda/api/), as does openapi.json.
    for (const type of TOKEN_TYPES) {
      const route = ROUTES[type];
      const { $schema: _, ...schema } = apiGatewayModel(route.request);
      const model = api.addModel(`${pascal(type)}Request`, {
        contentType: 'application/json',
        schema: { schema: apigw.JsonSchemaVersion.DRAFT4, ...(schema as apigw.JsonSchema) },
      });
      const resource = route.path
        .split('/')
        .filter(Boolean)
        .reduce<apigw.IResource>(
          (parent, part) => parent.getResource(part) ?? parent.addResource(part),
          api.root,
        );
      resource.addMethod(route.method, integration, {
        authorizationType: apigw.AuthorizationType.IAM,
        requestValidator: validator,
        requestModels: { 'application/json': model },
      });
    }
    return api;
  }

  /**
   * The AWS endpoints the functions need inside a VPC without a NAT route to them (config
   * `deployment.vpc.createEndpoints`): interface endpoints for Secrets Manager and KMS (STS too for
   * keyless connections), HTTPS only from the functions' security groups; DynamoDB's gateway endpoint on
   * the subnets' route tables for the shared cache. Snowflake itself is reached through the VPC's NAT or
   * PrivateLink, which the VPC owner provides.
   */
  #endpoints(
    config: Config,
    vpc: ec2.IVpc,
    settings: NonNullable<Config['deployment']['vpc']>,
    subnets: ec2.SubnetSelection,
  ): void {
    const group = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc,
      description: 'Token Vendor: HTTPS from the functions to the AWS service endpoints',
      allowAllOutbound: false,
    });
    for (const id of settings.securityGroupIds)
      group.addIngressRule(ec2.Peer.securityGroupId(id), ec2.Port.tcp(443), 'Token Vendor functions');
    const keyless = Object.values(config.connections).some((c) => c.workloadIdentity);
    const services: [string, ec2.InterfaceVpcEndpointAwsService][] = [
      ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
      ['Kms', ec2.InterfaceVpcEndpointAwsService.KMS],
      ...(keyless
        ? [['Sts', ec2.InterfaceVpcEndpointAwsService.STS] as [string, ec2.InterfaceVpcEndpointAwsService]]
        : []),
    ];
    for (const [name, service] of services) {
      new ec2.InterfaceVpcEndpoint(this, `${name}Endpoint`, {
        vpc,
        service,
        subnets,
        securityGroups: [group],
        privateDnsEnabled: true,
        open: false,
      });
    }
    if (config.cache.shared) {
      new ec2.CfnVPCEndpoint(this, 'DynamoDbEndpoint', {
        vpcId: vpc.vpcId,
        serviceName: `com.amazonaws.${Stack.of(this).region}.dynamodb`,
        vpcEndpointType: 'Gateway',
        routeTableIds: settings.routeTableIds,
      });
    }
  }

  /**
   * AWS WAF on the stage (config `deployment.waf`): the web ACL named, or one made here that blocks a
   * source IP past `rateLimit` requests in 5 minutes and logs to an encrypted log group with the
   * credentials (Authorization, X-Amz-Security-Token) redacted.
   */
  #waf(api: apigw.RestApi, retention: logs.RetentionDays): void {
    const settings = this.#config.deployment.waf;
    if (!settings) return;
    const stack = Stack.of(this);
    let webAclArn = settings.webAclArn;
    if (!webAclArn) {
      const metric = (name: string) => ({
        cloudWatchMetricsEnabled: true,
        metricName: `TokenVendor${name}`,
        sampledRequestsEnabled: false, // sampled requests would show callers' headers in the console
      });
      const acl = new wafv2.CfnWebACL(this, 'WebAcl', {
        scope: 'REGIONAL',
        description: 'Token Vendor: rate limit per source IP',
        defaultAction: { allow: {} },
        visibilityConfig: metric('WebAcl'),
        rules: [
          {
            name: 'RateLimitPerSourceIp',
            priority: 0,
            action: { block: {} },
            statement: {
              rateBasedStatement: {
                limit: settings.rateLimit,
                aggregateKeyType: 'IP',
                evaluationWindowSec: 300,
              },
            },
            visibilityConfig: metric('RateLimited'),
          },
        ],
      });
      webAclArn = acl.attrArn;
      // WAF delivers only to a log group whose name starts aws-waf-logs-.
      const wafLogs = new logs.LogGroup(this, 'WafLogs', {
        logGroupName: `aws-waf-logs-token-vendor-${Names.uniqueId(this).slice(-24)}`,
        retention,
        encryptionKey: this.key,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      wafLogs.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal('delivery.logs.amazonaws.com')],
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [`${wafLogs.logGroupArn}:*`],
          conditions: {
            StringEquals: { 'aws:SourceAccount': stack.account },
            ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:*` },
          },
        }),
      );
      new wafv2.CfnLoggingConfiguration(this, 'WafLogging', {
        resourceArn: acl.attrArn,
        logDestinationConfigs: [wafLogs.logGroupArn],
        redactedFields: [
          { singleHeader: { Name: 'authorization' } },
          { singleHeader: { Name: 'x-amz-security-token' } },
        ],
      });
    }
    new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', {
      resourceArn: api.deploymentStage.stageArn,
      webAclArn,
    });
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
    if (!this.#reserved) {
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
    if (!this.#config.deployment.vpc) {
      for (const f of Object.values(this.functions))
        ack(
          f,
          ['cdk-validator-cfnguard::lambda_inside_vpc_check', ...compliance('LambdaInsideVPC')],
          'VPC placement is optional (config deployment.vpc): the functions call only HTTPS APIs (Snowflake, Secrets Manager, KMS) and hold no network-reachable resource.',
        );
    }
    if (!this.#config.deployment.waf)
      ack(
        this.api.deploymentStage,
        compliance('APIGWAssociatedWithWAF'),
        'WAF is optional (config deployment.waf): every method requires SigV4, the resource policy admits only granted principals, and the stage is throttled. Turn it on to rate-limit per source IP.',
      );
    ack(
      this.api.deploymentStage,
      compliance('APIGWCacheEnabledAndEncrypted'),
      'Never cache at API Gateway: its cache key is not the caller, so a cache could hand one principal another’s token, and it would hold live tokens outside the vendor’s seal. The vendor caches per target after authorization.',
    );
    ack(
      this.api.deploymentStage,
      compliance('APIGWSSLEnabled'),
      'Backend client certificates authenticate API Gateway to an HTTP backend; the only integration is a Lambda proxy, which API Gateway invokes through IAM, not over a TLS connection it could present a certificate on.',
    );
    ack(
      this.deadLetters,
      ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy', 'cdk-validator-cfnguard::sqs_dlq_check'],
      'This queue is itself the dead-letter queue of the scheduled rotation check.',
    );
    Aspects.of(this).add(new AcknowledgeExpectedWildcards());
    ack(
      this.api,
      'AwsSolutions-APIG3',
      'Every method requires SigV4 (AWS_IAM) and the resource policy admits only granted principals; attach a WAF web ACL when exposing the API beyond AWS callers.',
    );
    ack(
      this.api,
      'AwsSolutions-COG4',
      'Callers are AWS IAM principals, authorized with AWS_IAM; Cognito user pools do not apply.',
    );
    ack(
      this.api,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      'The API Gateway account-level CloudWatch role uses the AWS-managed AmazonAPIGatewayPushToCloudWatchLogs policy, as API Gateway requires for execution logs.',
    );
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

/**
 * A rule's ids in the regulated teams' cdk-nag packs (NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1),
 * which share their rules: one acknowledgement, one reason, in all three.
 */
function compliance(rule: string): string[] {
  return ['NIST.800.53.R5', 'HIPAA.Security', 'PCI.DSS.321'].map((pack) => `${pack}-${rule}`);
}

function pascal(value: string): string {
  return value.replace(/(^|[-_.\s]+)(\w)/g, (_m, _s, c: string) => c.toUpperCase());
}
