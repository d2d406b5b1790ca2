import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/build-app';
import { TokenVendor } from '../../infra/token-vendor';
import { TOKEN_TYPES } from '../../lambda/api/routes';
import { parseConfig } from '../../lambda/config/load';
import type { Config } from '../../lambda/config/schema';
import { tempDir, writeTempFile } from '../support/keys';
import { rolePolicies } from '../support/template';

/** The app, synthesizing into a temp directory the test run removes. */
const appWith = (context: Record<string, unknown>) =>
  buildApp(context, new App({ context, outdir: tempDir('cdk-out-') }));

/** Template tests: real synth (cdk-nag AwsSolutions included), bundling skipped. */
const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

function exampleWithKms(): string {
  const config = JSON.parse(readFileSync('config/example.json', 'utf8'));
  config.connections.signing = {
    account: 'myorg-analytics',
    user: 'KMS_SVC',
    key: { kms: { keyId: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' } },
  };
  config.grants[1].snowflakeJwt.push('signing');
  return writeTempFile('config.json', JSON.stringify(config));
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

describe('TokenVendorStack template', () => {
  let template: Template;
  let app: ReturnType<typeof buildApp>['app'];
  let statementsOf: (role: string) => Statement[];

  beforeAll(() => {
    const built = appWith({ ...SKIP_BUNDLING, config: exampleWithKms() });
    app = built.app;
    app.synth(); // throws "Validation failed" on any unacknowledged cdk-nag finding
    template = Template.fromStack(built.stack);
    const policies = rolePolicies(template);
    statementsOf = (rolePrefix: string) =>
      Object.values(policies)
        .filter((p) => JSON.stringify(p.Properties.Roles).includes(rolePrefix))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
  }, 120_000); // a real synth: slow when the machine is busy (the fleet test's processes)

  const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
  const resources = (s: Statement) => JSON.stringify(s.Resource);

  it('passes cdk-nag AwsSolutions with every acknowledgement giving its reason', () => {
    const acknowledged: [string, string][] = [];
    for (const node of app.node.findAll()) {
      for (const entry of node.node.metadata) {
        if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          acknowledged.push(
            ...Object.entries(entry.data as Record<string, string>).map(
              ([id, reason]) => [id.replace(/^Annotation::/, ''), reason] as [string, string],
            ),
          );
      }
    }
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const [id, reason] of acknowledged) {
      expect(id).toMatch(
        /^(AwsSolutions-|Serverless-|NIST\.800\.53\.R5-|HIPAA\.Security-|PCI\.DSS\.321-|cdk-validator-cfnguard::)/,
      );
      expect(reason.length).toBeGreaterThan(30);
    }
    // Every acknowledgement is also recorded in the template, on the resource it applies to.
    const recorded = Object.values(template.toJSON().Resources as Record<string, any>).flatMap(
      (r) => (r.Metadata?.cdk_nag?.rules_to_suppress ?? []) as { id: string; reason: string }[],
    );
    expect(recorded.map((r) => r.id).sort()).toEqual(acknowledged.map(([id]) => id).sort());
  });

  it('has no inline policy: every role’s permissions are in a managed policy of its own', () => {
    expect(Object.keys(template.findResources('AWS::IAM::Policy'))).toEqual([]);
    expect(Object.keys(rolePolicies(template)).length).toBeGreaterThanOrEqual(4);
  });

  it('meets every AWS Control Tower proactive control cfn-guard checks, or acknowledges it', () => {
    const report = JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8'));
    const guard = report.pluginReports.find((p: any) => p.pluginName === 'cdk-validator-cfnguard');
    expect(guard).toBeDefined();
    expect(guard.violations.map((v: any) => v.ruleName)).toEqual([]);
    // Not vacuous: the rules did run, and found exactly what is acknowledged, each on its resource.
    expect([...new Set(guard.suppressedViolations.map((v: any) => v.ruleName))].sort()).toEqual([
      'lambda_function_public_access_prohibited_check',
      'lambda_inside_vpc_check',
      'sqs_dlq_check',
    ]);
  });

  it('requires AWS_IAM on every API method and validates bodies', () => {
    const methods = template.findResources('AWS::ApiGateway::Method');
    expect(Object.keys(methods)).toHaveLength(TOKEN_TYPES.length); // one per route of the contract
    for (const method of Object.values(methods)) {
      expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
      expect(method.Properties.HttpMethod).toBe('POST');
      expect(method.Properties.RequestValidatorId).toBeDefined();
    }
  });

  it('admits only the granted principals in the API resource policy', () => {
    const api = Object.values(template.findResources('AWS::ApiGateway::RestApi'))[0]!;
    const statements = api.Properties.Policy.Statement as (Statement & {
      Condition: Record<string, Record<string, string[]>>;
    })[];
    const principals = [
      'arn:aws:iam::111122223333:role/services/reporting-api',
      'arn:aws:iam::111122223333:role/data-platform/etl-runner',
    ];
    expect(statements.find((s) => s.Effect === 'Allow')!.Condition.ArnEquals!['aws:PrincipalArn']).toEqual(
      principals,
    );
    expect(statements.find((s) => s.Effect === 'Deny')!.Condition.ArnNotEquals!['aws:PrincipalArn']).toEqual(
      principals,
    );
  });

  it('throttles the stage and writes access logs', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
      MethodSettings: Match.arrayWith([
        Match.objectLike({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100, LoggingLevel: 'ERROR' }),
      ]),
    });
  });

  it('gives no IAM statement a bare * resource for Secrets Manager or KMS', () => {
    const all = Object.values(rolePolicies(template)).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Statement[],
    );
    const offending = all.filter(
      (s) =>
        actions(s).some((a) => /^(secretsmanager|kms):/.test(a)) &&
        (s.Resource === '*' || (Array.isArray(s.Resource) && s.Resource.includes('*'))),
    );
    expect(offending).toEqual([]);
  });

  it('gives each function only its own permissions', () => {
    const allowed: Record<string, RegExp> = {
      // dynamodb:Scan and kms:Decrypt (through DynamoDB only): reading the revocation list.
      HttpRole:
        /^(logs:(CreateLogStream|PutLogEvents)|secretsmanager:GetSecretValue|kms:(Sign|GetPublicKey|Decrypt)|dynamodb:Scan)$/,
      DirectRole:
        /^(logs:(CreateLogStream|PutLogEvents)|secretsmanager:GetSecretValue|kms:(Sign|GetPublicKey|GenerateDataKey|Decrypt)|dynamodb:Scan)$/,
      RotationCheckRole:
        /^(logs:(CreateLogStream|PutLogEvents)|secretsmanager:GetSecretValue|kms:(Sign|GetPublicKey|DescribeKey|GenerateDataKey|Decrypt)|sqs:SendMessage)$/,
      // dynamodb and kms (through DynamoDB only): rotate-now's rekey entries in the revocation list.
      RotateKeyRole:
        /^(logs:(CreateLogStream|PutLogEvents)|secretsmanager:(DescribeSecret|GetSecretValue|PutSecretValue|UpdateSecretVersionStage)|dynamodb:(GetItem|PutItem|UpdateItem)|kms:(Decrypt|Encrypt|GenerateDataKey))$/,
    };
    for (const [role, pattern] of Object.entries(allowed)) {
      const granted = statementsOf(`TokenVendorFunctions${role}`).flatMap(actions);
      expect(granted.length).toBeGreaterThan(1);
      expect(granted.filter((a) => !pattern.test(a))).toEqual([]);
    }
    // Secrets: the vending functions read the key secret and the OAuth client secret; the check only the key.
    const secretsRead = (role: string) =>
      statementsOf(role)
        .filter((s) => actions(s).includes('secretsmanager:GetSecretValue'))
        .map(resources)
        .join(' ');
    expect(secretsRead('TokenVendorFunctionsHttpRole')).toContain(
      'secret:token-vendor/snowflake/analytics-??????',
    );
    expect(secretsRead('TokenVendorFunctionsHttpRole')).toContain(
      'secret:token-vendor/oauth/servicenow-??????',
    );
    expect(secretsRead('TokenVendorFunctionsRotationCheckRole')).not.toContain('oauth');
    // KMS signing is scoped to exactly the configured key; encryption to exactly the envelope key.
    const kmsSign = statementsOf('TokenVendorFunctionsHttpRole').filter((s) =>
      actions(s).includes('kms:Sign'),
    );
    expect(kmsSign.map(resources)).toEqual([
      '"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"',
    ]);
    const encrypt = statementsOf('TokenVendorFunctionsDirectRole').filter((s) =>
      actions(s).includes('kms:GenerateDataKey'),
    );
    expect(encrypt.map(resources).join()).toMatch(/EnvelopeKey/);
    // Rotation rewrites only the key secret.
    const rotation = statementsOf('TokenVendorFunctionsRotateKeyRole').filter((s) =>
      actions(s).includes('secretsmanager:PutSecretValue'),
    );
    expect(rotation.map(resources)).toEqual([
      expect.stringContaining('secret:token-vendor/snowflake/analytics-??????'),
    ]);
  });

  it('runs nodejs22.x on arm64, one function per trigger, each with its own role and log group', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(5);
    for (const f of functions) {
      expect(f.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
      });
      expect(f.Properties.Environment.Variables.TOKEN_VENDOR_CONFIG_FILE).toBe('/var/task/config.json');
      expect(f.Properties.LoggingConfig.LogGroup).toBeDefined();
    }
    expect(new Set(functions.map((f) => JSON.stringify(f.Properties.Role))).size).toBe(5);
  });

  it('gives every log group a retention and KMS encryption', () => {
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup'));
    expect(groups.length).toBeGreaterThanOrEqual(6);
    for (const group of groups) {
      expect(group.Properties.RetentionInDays).toBe(365);
      expect(group.Properties.KmsKeyId).toBeDefined();
    }
  });

  it('uses customer-managed KMS keys with rotation', () => {
    const keys = Object.values(template.findResources('AWS::KMS::Key'));
    expect(keys).toHaveLength(2);
    for (const key of keys) expect(key.Properties.EnableKeyRotation).toBe(true);
    // Grants only for AWS services acting for a resource (Control Tower CT.KMS.PR.3)
    for (const key of keys)
      expect(key.Properties.KeyPolicy.Statement.map((s: any) => s.Sid)).toContain('GrantsOnlyForAwsServices');
  });

  it('schedules the rotation check daily and the key rotation in Secrets Manager', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 day)',
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('RotationCheckFunction'), 'Arn'] } }),
      ],
    });
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: 'token-vendor/snowflake/analytics',
      RotationLambdaARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('RotateKeyFunction'), 'Arn'] },
      RotationRules: { AutomaticallyAfterDays: 89 },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'secretsmanager.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [Match.stringLikeRegexp('RotateKeyFunction'), 'Arn'] },
    });
  });

  it('has the alarms, metric filters, a dashboard and saved audit queries', () => {
    const alarms = Object.keys(template.findResources('AWS::CloudWatch::Alarm')).map((id) =>
      id.replace(/^TokenVendorMonitoring/, '').replace(/[0-9A-F]{8}$/, ''),
    );
    for (const name of [
      'DenialsAlarm',
      'FailuresAlarm',
      'UpstreamUnavailableAlarm',
      'KeyNotRegisteredAlarm',
      'KeyOverdueAlarm',
      'KeyCheckFailedAlarm',
      'RotationCheckSilentAlarm',
      'httpErrorsAlarm',
      'directErrorsAlarm',
      'rotationCheckErrorsAlarm',
      'rotateKeyErrorsAlarm',
    ]) {
      expect(alarms).toContain(name);
    }
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toHaveLength(1);
      expect(alarm.Properties.AlarmDescription.length).toBeGreaterThan(20);
    }
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '{ $.event = "token.denied" }',
      MetricTransformations: [Match.objectLike({ MetricName: 'Denials' })],
    });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::Logs::QueryDefinition', {
      Name: 'token-vendor/who-got-tokens-for-user',
      QueryString: Match.stringLikeRegexp('target.username'),
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  });

  it('runs the example state machine with logging ALL and no execution data', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false, Destinations: [Match.anyValue()] },
      TracingConfiguration: { Enabled: true },
    });
  });
});

describe('an invalid config', () => {
  it('fails the synth with the zod message naming the field', () => {
    const config = JSON.parse(readFileSync('config/example.json', 'utf8'));
    config.connections.analytics.account = 'xy12345.aws';
    config.grants[0].postgres[0].usernames = ['REPORTING_USER'];
    expect(() =>
      appWith({ ...SKIP_BUNDLING, config: writeTempFile('bad.json', JSON.stringify(config)) }),
    ).toThrow(/connections\.analytics\.account: Cannot interpret Snowflake account/);
  });

  it('is refused by the construct itself, whoever built it: the functions trust the config it seals', () => {
    // A config built in code and typed as Config, never parsed: a grant for a user the instance does not
    // allow. The functions do not validate what the construct seals, so the construct must.
    const config = parseConfig(JSON.parse(readFileSync('config/example.json', 'utf8')));
    const forged = structuredClone(config) as Config;
    (forged.grants[0]!.postgres[0]!.usernames as string[]).push('admin');
    const stack = new Stack(new App({ outdir: tempDir('cdk-out-') }), 'Forged');
    expect(() => new TokenVendor(stack, 'TokenVendor', { config: forged })).toThrow(
      /Invalid token vendor config given to the TokenVendor construct:\n.*grants\[0\]\.postgres\[0\]\.usernames\[\d\]: "admin"/,
    );
  });

  it('names the missing file', () => {
    expect(() => appWith({ ...SKIP_BUNDLING, config: '/nonexistent/config.json' })).toThrow(
      /Cannot read the config file \/nonexistent\/config.json/,
    );
  });
});
