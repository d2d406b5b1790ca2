import { readFileSync } from 'node:fs';
import { App, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/build-app';
import { tempDir, writeTempFile } from '../support/keys';
import { rolePolicies } from '../support/template';

/**
 * Production hardening (issue 12): each assertion here fails on the template before it. Real synth,
 * cdk-nag AwsSolutions and Serverless included, bundling skipped.
 */
const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };
// Control Tower's cfn-guard rules run on the template tests' synth (stack.test.ts); here they would add ~7 s a synth.
const appWith = (context: Record<string, unknown>) => {
  const all = { ...SKIP_BUNDLING, controlTowerChecks: 'false', ...context };
  return buildApp(all, new App({ context: all, outdir: tempDir('cdk-out-') }));
};

/** The example config, with its key secret and client secret encrypted by customer-managed keys. */
function hardenedConfig(edit: (c: any) => void = () => {}): string {
  const config = JSON.parse(readFileSync('config/example.json', 'utf8'));
  config.connections.analytics.key.secretsManager.kmsKeyId =
    'arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-1111-2222-3333-444444444444';
  config.oauthIntegrations.servicenow.clientSecret.secretsManager.kmsKeyId = 'alias/oauth-secrets';
  edit(config);
  return writeTempFile('config.json', JSON.stringify(config));
}

const resourcesOf = (template: Template, type: string) =>
  Object.values(template.findResources(type)) as { Properties: any; Metadata?: any }[];

const STATE_MACHINE_ROLE = 'arn:aws:iam::111122223333:role/etl-state-machine';
const CONSUMER = 'arn:aws:iam::111122223333:role/etl-worker';

describe('production hardening of the synthesized stack', () => {
  let template: Template;
  let stack: Stack;
  /** A second synth, with every deployment setting: the direct path, the perimeter, the VPC. */
  let direct: Template;
  beforeAll(() => {
    const deployed = appWith({
      config: hardenedConfig((c) => {
        c.deployment = {
          directInvokers: [STATE_MACHINE_ROLE],
          envelopeConsumers: [CONSUMER, STATE_MACHINE_ROLE],
          endpoint: { type: 'PRIVATE', vpcEndpointIds: ['vpce-0123456789abcdef0'] },
          principalOrgId: 'o-abc123def456',
          allowedSourceIps: ['10.20.0.0/16'],
          vpc: {
            vpcId: 'vpc-0123456789abcdef0',
            subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
            securityGroupIds: ['sg-0123456789abcdef0'],
          },
        };
      }),
    });
    deployed.app.synth();
    direct = Template.fromStack(deployed.stack);

    const built = appWith({
      config: hardenedConfig(),
      alarmEmail: 'oncall@example.com, security@example.com',
      throttleRateLimit: '20',
      throttleBurstLimit: '40',
      logRetentionDays: '731',
      rotationCheckSchedule: 'cron(0 6 * * ? *)',
      exampleStateMachine: 'false',
      tags: '{"team":"data-platform","cost-center":"42"}',
    });
    built.app.synth();
    stack = built.stack;
    template = Template.fromStack(built.stack);
  }, 120_000); // a real synth: slow when the machine is busy (the fleet test's processes)

  describe('rotation wiring', () => {
    it('does not rotate on deploy or when the schedule changes', () => {
      for (const s of resourcesOf(template, 'AWS::SecretsManager::RotationSchedule'))
        expect(s.Properties.RotateImmediatelyOnUpdate).toBe(false);
    });

    it('lets Secrets Manager invoke the rotation function for exactly the rotated secrets', () => {
      const permissions = resourcesOf(template, 'AWS::Lambda::Permission').filter(
        (p) => p.Properties.Principal === 'secretsmanager.amazonaws.com',
      );
      expect(permissions).toHaveLength(1);
      expect(JSON.stringify(permissions[0]!.Properties.SourceArn)).toContain(
        'secret:token-vendor/snowflake/analytics-??????',
      );
      expect(permissions[0]!.Properties.SourceAccount).toBeDefined();
    });

    it('grants kms:Decrypt on the secrets’ customer-managed keys, only through Secrets Manager', () => {
      const statements = Object.values(rolePolicies(template)).flatMap(
        (p) => p.Properties.PolicyDocument.Statement as any[],
      );
      const viaSecretsManager = statements.filter((s) =>
        JSON.stringify(s.Condition ?? {}).includes('secretsmanager.'),
      );
      // http, direct, rotation-check read (Decrypt); rotate-key also writes (GenerateDataKey)
      expect(viaSecretsManager.length).toBeGreaterThanOrEqual(4);
      expect(JSON.stringify(viaSecretsManager)).toContain('key/aaaaaaaa-1111-2222-3333-444444444444');
      expect(JSON.stringify(viaSecretsManager)).toContain('alias/oauth-secrets');
      expect(viaSecretsManager.some((s) => [s.Action].flat().includes('kms:GenerateDataKey'))).toBe(true);
    });

    it('refuses key sources that cannot work in Lambda, naming each', () => {
      const local = hardenedConfig((c) => {
        c.connections.analytics.key = { file: { path: 'rsa_key.p8' } };
        c.oauthIntegrations.servicenow.clientSecret = { env: 'SECRET' };
      });
      expect(() => appWith({ config: local })).toThrow(
        /connections\.analytics\.key\.file[\s\S]*oauthIntegrations\.servicenow\.clientSecret\.env/,
      );
    });
  });

  describe('detection', () => {
    it('lets CloudWatch alarms of this account publish to the encrypted alarm topic', () => {
      const [policy] = resourcesOf(template, 'AWS::SNS::TopicPolicy');
      const statements = policy!.Properties.PolicyDocument.Statement as any[];
      const publish = statements.find((s) => s.Principal?.Service === 'cloudwatch.amazonaws.com');
      expect(publish).toMatchObject({ Effect: 'Allow', Action: 'sns:Publish' });
      expect(publish.Condition.StringEquals['aws:SourceAccount']).toBeDefined();
    });

    it('subscribes every address given in the alarmEmail context', () => {
      const endpoints = resourcesOf(template, 'AWS::SNS::Subscription').map((s) => s.Properties.Endpoint);
      expect(endpoints.sort()).toEqual(['oncall@example.com', 'security@example.com']);
    });

    it('alarms on API 4XX, 5XX and gateway-level denials', () => {
      const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm');
      const metric = (name: string) => alarms.filter((a) => a.Properties.MetricName === name);
      expect(metric('4XXError')).toHaveLength(1);
      expect(metric('5XXError')).toHaveLength(1);
      expect(metric('GatewayDenials')).toHaveLength(1);
      template.hasResourceProperties('AWS::Logs::MetricFilter', {
        MetricTransformations: [Match.objectLike({ MetricName: 'GatewayDenials' })],
        FilterPattern: Match.stringLikeRegexp('status = "403"'),
      });
    });

    it('logs who asked, what the gateway said and how long it took', () => {
      const [stage] = resourcesOf(template, 'AWS::ApiGateway::Stage');
      const format = stage!.Properties.AccessLogSetting.Format as string;
      for (const field of [
        '$context.identity.userArn',
        '$context.error.message',
        '$context.error.responseType',
        '$context.responseLatency',
        '$context.integrationStatus',
      ])
        expect(format).toContain(field);
      expect(stage!.Properties.TracingEnabled).toBe(true);
    });

    it('manages the execution-log group: name, retention, KMS', () => {
      const groups = resourcesOf(template, 'AWS::Logs::LogGroup').filter((g) =>
        JSON.stringify(g.Properties.LogGroupName ?? '').includes('API-Gateway-Execution-Logs_'),
      );
      expect(groups).toHaveLength(1);
      expect(groups[0]!.Properties).toMatchObject({ RetentionInDays: 731, KmsKeyId: expect.anything() });
    });

    it('traces every function with X-Ray, its permission in one policy of its own', () => {
      const functions = resourcesOf(template, 'AWS::Lambda::Function').filter((f) =>
        String(f.Properties.Description ?? '').startsWith('Token Vendor:'),
      );
      expect(functions).toHaveLength(5);
      for (const f of functions) expect(f.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      const own = Object.values(rolePolicies(template)).flatMap((p) => p.Properties.PolicyDocument.Statement);
      expect(JSON.stringify(own)).not.toContain('xray:');
    });

    it('sends a scheduled check that fails to an encrypted dead-letter queue', () => {
      const [queue] = resourcesOf(template, 'AWS::SQS::Queue');
      expect(queue!.Properties.KmsMasterKeyId).toBeDefined();
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'cron(0 6 * * ? *)',
        Targets: [Match.objectLike({ DeadLetterConfig: Match.objectLike({ Arn: Match.anyValue() }) })],
      });
    });
  });

  describe('cdk-nag acknowledgements', () => {
    it('records each one in the template on the resource it applies to, with its reason', () => {
      const recorded = Object.values(template.toJSON().Resources as Record<string, any>).flatMap(
        (r) => r.Metadata?.cdk_nag?.rules_to_suppress ?? [],
      );
      expect(recorded.length).toBeGreaterThan(10);
      for (const r of recorded) expect(r.reason.length).toBeGreaterThan(30);
      // IAM5 is acknowledged finding by finding, never as a whole rule
      expect(recorded.filter((r: any) => r.id === 'AwsSolutions-IAM5')).toEqual([]);
    });

    it('fails the synth when a wildcard is added where none is acknowledged', () => {
      const built = appWith({ config: hardenedConfig() });
      built.stack.vendor.functions.http.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: ['*'] }),
      );
      expect(() => built.app.synth()).toThrow(/wildcard permissions/);
    });
  });

  describe('deploy UX', () => {
    it('has no default config: a forgotten -c config= is an error naming it', () => {
      expect(JSON.parse(readFileSync('cdk.json', 'utf8')).context.config).toBeUndefined();
      expect(() => appWith({})).toThrow(/-c config=/);
    });

    it('takes the operational settings from context, and refuses bad ones', () => {
      const [stage] = resourcesOf(template, 'AWS::ApiGateway::Stage');
      expect(stage!.Properties.MethodSettings[0]).toMatchObject({
        ThrottlingRateLimit: 20,
        ThrottlingBurstLimit: 40,
      });
      expect(resourcesOf(template, 'AWS::StepFunctions::StateMachine')).toHaveLength(0);
      for (const [key, value] of [
        ['throttleRateLimit', 'fast'],
        ['logRetentionDays', '100'],
        ['rotationCheckSchedule', 'daily'],
        ['exampleStateMachine', 'yes'],
        ['tags', '[1]'],
        ['alarmEmail', 'not-an-address'],
      ])
        expect(() => appWith({ config: hardenedConfig(), [key!]: value }), key).toThrow(new RegExp(key!));
    });

    it('tags every taggable resource and protects the stack from deletion', () => {
      expect(stack.terminationProtection).toBe(true);
      const [key] = resourcesOf(template, 'AWS::KMS::Key');
      expect(key!.Properties.Tags).toEqual(
        expect.arrayContaining([
          { Key: 'team', Value: 'data-platform' },
          { Key: 'application', Value: 'token-vendor' },
        ]),
      );
    });

    it('gives the console no test-invoke permission around the resource policy', () => {
      const permissions = resourcesOf(template, 'AWS::Lambda::Permission').filter(
        (p) => p.Properties.Principal === 'apigateway.amazonaws.com',
      );
      expect(permissions.length).toBeGreaterThan(0);
      for (const p of permissions)
        expect(JSON.stringify(p.Properties.SourceArn)).not.toContain('test-invoke-stage');
    });
  });

  describe('the direct path and the envelope key', () => {
    const envelopeKeyPolicy = (t: Template) =>
      resourcesOf(t, 'AWS::KMS::Key').find((k) =>
        String(k.Properties.Description).includes('encrypts tokens returned to Step Functions'),
      )!.Properties.KeyPolicy.Statement as any[];

    it('lets only the named consumers open sealed tokens, only for contexts naming a token, and denies the rest', () => {
      const statements = envelopeKeyPolicy(direct);
      const allow = statements.find((s) => s.Sid === 'NamedConsumersOpenSealedTokens');
      expect(allow.Principal.AWS.sort()).toEqual([CONSUMER, STATE_MACHINE_ROLE].sort());
      expect(allow.Condition['ForAllValues:StringEquals']['kms:EncryptionContextKeys']).toContain(
        'token-vendor:tokenId',
      );
      const deny = statements.find((s) => s.Sid === 'NobodyElseOpensSealedTokens');
      expect(deny).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:Decrypt' });
      expect(deny.Condition.ArnNotEquals['aws:PrincipalArn'].sort()).toEqual(
        [CONSUMER, STATE_MACHINE_ROLE].sort(),
      );
    });

    it('denies everyone kms:Decrypt when no consumer is named', () => {
      const deny = envelopeKeyPolicy(template).find((s) => s.Sid === 'NobodyElseOpensSealedTokens');
      expect(deny).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' } });
      expect(deny.Condition).toBeUndefined();
    });

    it('seals with data keys (any token size): the direct role may GenerateDataKey, not Encrypt', () => {
      const statements = Object.values(rolePolicies(direct))
        .filter((p) => JSON.stringify(p.Properties.Roles).includes('DirectRole'))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
      const kmsActions = statements
        .flatMap((s) => [s.Action].flat())
        .filter((a: string) => a.startsWith('kms:'));
      expect(kmsActions).toContain('kms:GenerateDataKey');
      expect(kmsActions).not.toContain('kms:Encrypt');
    });

    it("names the state machines' roles in the direct function's resource policy", () => {
      const invokers = resourcesOf(direct, 'AWS::Lambda::Permission').filter(
        (p) => p.Properties.Principal === STATE_MACHINE_ROLE,
      );
      expect(invokers).toHaveLength(1);
      expect(invokers[0]!.Properties.Action).toBe('lambda:InvokeFunction');
    });
  });

  describe('network perimeter', () => {
    const policyOf = (t: Template) =>
      resourcesOf(t, 'AWS::ApiGateway::RestApi')[0]!.Properties.Policy.Statement as any[];

    it('is REGIONAL without conditions beyond the principals by default', () => {
      expect(
        resourcesOf(template, 'AWS::ApiGateway::RestApi')[0]!.Properties.EndpointConfiguration.Types,
      ).toEqual(['REGIONAL']);
      expect(policyOf(template).filter((s) => s.Sid)).toEqual([]);
    });

    it('denies requests from outside the organization, the networks, or the VPC endpoints of a PRIVATE API', () => {
      const t = direct;
      expect(resourcesOf(t, 'AWS::ApiGateway::RestApi')[0]!.Properties.EndpointConfiguration.Types).toEqual([
        'PRIVATE',
      ]);
      const bySid = Object.fromEntries(
        policyOf(t)
          .filter((s) => s.Sid)
          .map((s) => [s.Sid, s]),
      );
      expect(bySid.OnlyThroughTheseVpcEndpoints).toMatchObject({
        Effect: 'Deny',
        Condition: { StringNotEquals: { 'aws:SourceVpce': ['vpce-0123456789abcdef0'] } },
      });
      expect(bySid.OnlyThisOrganization.Condition).toEqual({
        StringNotEquals: { 'aws:PrincipalOrgID': 'o-abc123def456' },
      });
      expect(bySid.OnlyFromTheseNetworks.Condition).toEqual({
        NotIpAddress: { 'aws:VpcSourceIp': ['10.20.0.0/16'] },
      });
    });

    it('refuses a PRIVATE endpoint without VPC endpoints, naming the field', () => {
      const bad = hardenedConfig((c) => {
        c.deployment = { endpoint: { type: 'PRIVATE' } };
      });
      expect(() => appWith({ config: bad })).toThrow(/deployment\.endpoint\.vpcEndpointIds/);
    });

    it('places the functions in the given subnets and security groups', () => {
      const functions = resourcesOf(direct, 'AWS::Lambda::Function').filter((f) =>
        String(f.Properties.Description ?? '').startsWith('Token Vendor:'),
      );
      for (const f of functions)
        expect(f.Properties.VpcConfig).toEqual({
          SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
          SecurityGroupIds: ['sg-0123456789abcdef0'],
        });
    });
  });
});
