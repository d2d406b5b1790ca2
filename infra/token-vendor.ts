import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aspects, Duration, Names, RemovalPolicy, Stack, Stage, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { apiGatewayModel } from '../lambda/api/openapi';
import { ROUTES, TOKEN_TYPES } from '../lambda/api/routes';
import type { Config, KeySource } from '../lambda/config/schema';
import { kmsKeyResource, secretResource } from './arns';
import { ExampleStateMachine } from './example-state-machine';
import { AcknowledgeExpectedWildcards } from './expected-wildcards';
import { Monitoring, type Trigger } from './monitoring';

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
  /** Email address subscribed to the alarm topic. */
  readonly alarmEmail?: string;
  /** Lambda runtime; default nodejs22.x. */
  readonly runtime?: lambda.Runtime;
}

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
  readonly functions: Record<Trigger, nodejs.NodejsFunction>;
  readonly logGroups: Record<Trigger, logs.LogGroup>;
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: TokenVendorProps) {
    super(scope, id);
    const { config } = props;
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

    const logGroup = (trigger: Trigger) =>
      new logs.LogGroup(this, `${pascal(trigger)}Logs`, {
        retention,
        encryptionKey: this.key,
        removalPolicy: RemovalPolicy.RETAIN,
      });
    this.logGroups = {
      http: logGroup('http'),
      direct: logGroup('direct'),
      'rotation-check': logGroup('rotation-check'),
      'rotate-key': logGroup('rotate-key'),
    };

    // The validated config ships inside each function's code as config.json (no env-var size limit).
    // Bundling copies it into each asset; it lives in the cloud assembly directory (cdk.out), so it goes
    // wherever the synth output goes and leaves nothing in the system temp folder.
    const outdir = Stage.of(this)?.outdir ?? mkdtempSync(join(tmpdir(), 'token-vendor-config-'));
    mkdirSync(outdir, { recursive: true });
    const configFile = join(outdir, `token-vendor-config.${Names.uniqueId(this)}.json`);
    writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
    const fn = (
      trigger: Trigger,
      environment: Record<string, string> = {},
      timeout = Duration.seconds(25),
    ) => {
      const role = new iam.Role(this, `${pascal(trigger)}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Token Vendor ${trigger} function`,
      });
      const group = this.logGroups[trigger];
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [`${group.logGroupArn}:*`],
        }),
      );
      const f = new nodejs.NodejsFunction(this, `${pascal(trigger)}Function`, {
        entry: fileURLToPath(new URL(HANDLERS[trigger], import.meta.url)),
        handler: 'handler',
        runtime: props.runtime ?? lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: 512,
        timeout,
        role,
        logGroup: group,
        description: `Token Vendor: ${trigger}`,
        environment: {
          NODE_OPTIONS: '--enable-source-maps',
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
      return f;
    };

    this.functions = {
      http: fn('http'),
      direct: fn('direct', { TOKEN_VENDOR_ENVELOPE_KEY_ID: this.envelopeKey.keyArn }),
      'rotation-check': fn('rotation-check', {}, Duration.seconds(120)),
      'rotate-key': fn('rotate-key', {}, Duration.seconds(120)),
    };

    // Exactly the key material each function reads.
    const connectionKeys = Object.values(config.connections).map((c) => c.key);
    const assertionKeys = Object.values(config.oauthIntegrations).flatMap((i) =>
      i.assertion ? [i.assertion.key] : [],
    );
    const clientSecrets = Object.values(config.oauthIntegrations).flatMap((i) =>
      i.clientSecret?.secretsManager ? [i.clientSecret.secretsManager.secretId] : [],
    );
    this.#grantKeys(this.functions.http, [...connectionKeys, ...assertionKeys], clientSecrets, false);
    this.#grantKeys(this.functions.direct, [...connectionKeys, ...assertionKeys], clientSecrets, false);
    this.#grantKeys(this.functions['rotation-check'], connectionKeys, [], true);
    this.envelopeKey.grant(this.functions.direct, 'kms:Encrypt');

    // Rotation: the rotate-key function may rewrite exactly the key secrets it rotates.
    const rotated = Object.entries(config.connections).flatMap(([name, c]) =>
      'secretsManager' in c.key ? [{ name, connection: c, secretId: c.key.secretsManager.secretId }] : [],
    );
    if (rotated.length > 0) {
      this.functions['rotate-key'].addToRolePolicy(
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
      this.functions['rotate-key'].addPermission('SecretsManagerInvoke', {
        principal: new iam.ServicePrincipal('secretsmanager.amazonaws.com'),
        sourceAccount: stack.account,
      });
    }
    for (const { name, connection, secretId } of rotated) {
      new secretsmanager.CfnRotationSchedule(this, `Rotate${pascal(name)}`, {
        secretId,
        rotationLambdaArn: this.functions['rotate-key'].functionArn,
        // A day before the check calls the key due, so a healthy schedule never shows ROTATION_DUE.
        rotationRules: { automaticallyAfterDays: Math.max(1, connection.rotation.rotateAfterDays - 1) },
      }).node.addDependency(this.functions['rotate-key']);
    }

    new events.Rule(this, 'RotationCheckSchedule', {
      description: 'Token Vendor: daily check that every connection key is registered and not overdue',
      schedule: props.rotationCheckSchedule ?? events.Schedule.rate(Duration.days(1)),
      targets: [new targets.LambdaFunction(this.functions['rotation-check'], { retryAttempts: 2 })],
    });

    this.api = this.#restApi(props, retention);

    this.monitoring = new Monitoring(this, 'Monitoring', {
      functions: this.functions,
      logGroups: this.logGroups,
      api: this.api,
      key: this.key,
      alarmEmail: props.alarmEmail,
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

    this.#acknowledge();
  }

  /** GetSecretValue on exactly the key (and client) secrets, kms:Sign/GetPublicKey on exactly the KMS keys. */
  #grantKeys(
    f: lambda.Function,
    keys: readonly KeySource[],
    clientSecrets: readonly string[],
    describeKms: boolean,
  ): void {
    const secrets = [
      ...new Set([
        ...keys.flatMap((k) => ('secretsManager' in k ? [k.secretsManager.secretId] : [])),
        ...clientSecrets,
      ]),
    ];
    if (secrets.length > 0) {
      f.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: secrets.map((s) => secretResource(this, s)),
        }),
      );
    }
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

  #restApi(props: TokenVendorProps, retention: logs.RetentionDays): apigw.RestApi {
    const principals = [...new Set(props.config.grants.map((g) => g.principal))];
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention,
      encryptionKey: this.key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const invoke = TOKEN_TYPES.map((type) => `execute-api:/*/${ROUTES[type].method}${ROUTES[type].path}`);
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
            ],
    });
    const api = new apigw.RestApi(this, 'Api', {
      description: 'Token Vendor: short-lived Snowflake credentials for IAM principals',
      policy,
      endpointTypes: [apigw.EndpointType.REGIONAL],
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: 'prod',
        throttlingRateLimit: props.throttle?.rateLimit ?? 50,
        throttlingBurstLimit: props.throttle?.burstLimit ?? 100,
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields({
          caller: true,
          httpMethod: true,
          ip: true,
          protocol: true,
          requestTime: true,
          resourcePath: true,
          responseLength: true,
          status: true,
          user: true,
        }),
      },
      defaultMethodOptions: { authorizationType: apigw.AuthorizationType.IAM },
    });
    const validator = api.addRequestValidator('BodyValidator', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const integration = new apigw.LambdaIntegration(this.functions.http, { proxy: true });
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

  /** Each acknowledged cdk-nag finding, with its reason. */
  #acknowledge(): void {
    const ack = (scope: Construct, id: string, reason: string) =>
      Validations.of(scope).acknowledge({ id, reason });
    for (const f of Object.values(this.functions)) {
      ack(
        f,
        'AwsSolutions-L1',
        'nodejs22.x is the runtime the bundle targets and the tests run on; pass runtime: NODEJS_24_X to move up.',
      );
    }
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

function pascal(value: string): string {
  return value.replace(/(^|[-_.\s]+)(\w)/g, (_m, _s, c: string) => c.toUpperCase());
}
