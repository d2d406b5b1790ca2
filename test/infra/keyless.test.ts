import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/build-app';
import { tempDir, writeTempFile } from '../support/keys';
import { rolePolicies } from '../support/template';

/** Keyless connections (issue 17): real synth, cdk-nag AwsSolutions and Serverless included, bundling skipped. */
const context = (config: unknown) => {
  const all = {
    'aws:cdk:bundling-stacks': [],
    controlTowerChecks: 'false',
    config: writeTempFile('config.json', JSON.stringify(config)),
  };
  return buildApp(all, new App({ context: all, outdir: tempDir('cdk-out-') }));
};

const ROLE = 'arn:aws:iam::111122223333:role/services/reporting-api';
const keyless = {
  connections: {
    analytics: {
      account: 'myorg-analytics',
      user: 'TOKEN_VENDOR_KEYLESS',
      role: 'TOKEN_VENDOR',
      workloadIdentity: { provider: 'AWS', tokenLifetimeSeconds: 600 },
    },
  },
  postgresInstances: [
    {
      connection: 'analytics',
      instance: 'reporting_server',
      host: 'abc.us-east-1.postgres.snowflake.app',
      allowedUsers: ['reporting_user'],
    },
  ],
  grants: [{ principal: ROLE, postgres: [{ instance: 'reporting_server', usernames: ['reporting_user'] }] }],
};

describe('a keyless-only config synthesizes a stack with no secret and no rotation', () => {
  let template: Template;
  let json: string;
  beforeAll(() => {
    const built = context(keyless);
    built.app.synth(); // throws on any unacknowledged cdk-nag finding
    template = Template.fromStack(built.stack);
    json = JSON.stringify(template.toJSON());
  }, 120_000); // a real synth: slow when the machine is busy (the fleet test's processes)

  it('has no secret, no rotation schedule, no rotate-key function and no Secrets Manager permission', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
    expect(
      Object.keys(template.findResources('AWS::Lambda::Function')).some((id) => /RotateKey/.test(id)),
    ).toBe(false);
    expect(json).not.toMatch(/secretsmanager:/);
    expect(json).not.toMatch(/kms:Sign/);
  });

  it('lets exactly the functions that sign in ask STS for a token for Snowflake, non-vacuously and time-bounded', () => {
    const policies = Object.values(template.findResources('AWS::IAM::ManagedPolicy')).filter((p) =>
      JSON.stringify(p).includes('sts:GetWebIdentityToken'),
    );
    expect(policies).toHaveLength(1);
    const [policy] = policies as { Properties: { PolicyDocument: { Statement: unknown[] } } }[];
    expect(policy!.Properties.PolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 'sts:GetWebIdentityToken',
        Resource: '*',
        Condition: {
          'ForAllValues:StringEquals': { 'sts:IdentityTokenAudience': 'snowflakecomputing.com' },
          Null: { 'sts:IdentityTokenAudience': 'false' },
          NumericLessThanEquals: { 'sts:DurationSeconds': 600 },
        },
      },
    ]);
    const policyId = Object.entries(template.findResources('AWS::IAM::ManagedPolicy')).find(([, p]) =>
      JSON.stringify(p).includes('sts:GetWebIdentityToken'),
    )![0];
    const holders = Object.entries(template.findResources('AWS::IAM::Role'))
      .filter(([, r]) => JSON.stringify(r.Properties.ManagedPolicyArns ?? []).includes(policyId))
      .map(([id]) => id.replace(/[0-9A-F]{8}$/, ''));
    expect(holders.sort()).toEqual([
      'TokenVendorFunctionsDirectRole',
      'TokenVendorFunctionsHttpRole',
      'TokenVendorFunctionsRotationCheckRole',
    ]);
    // Nothing else may: no role's own policy grants it
    const own = Object.values(rolePolicies(template));
    expect(JSON.stringify(own)).not.toContain('sts:');
  });

  it('outputs the role ARNs to register in Snowflake, and keeps the rotation check (it reports WIF_MISMATCH)', () => {
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining(['HttpRoleArn', 'DirectRoleArn', 'RotationCheckRoleArn']),
    );
    expect(JSON.stringify(outputs.HttpRoleArn!.Value)).toMatch(/HttpRole.*Arn/);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 day)' });
    // The check runs as its own role and is told the other two, to confirm Snowflake trusts each
    const check = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) =>
      id.includes('RotationCheckFunction'),
    )![1];
    const roles = JSON.stringify(check.Properties.Environment.Variables.TOKEN_VENDOR_SIGN_IN_ROLE_ARNS);
    expect(roles).toMatch(/HttpRole.*Arn.*DirectRole.*Arn/);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'WorkloadIdentityMismatches' });
  });

  it('a key-pair config has no STS permission and no role outputs', () => {
    const withKey = structuredClone(keyless) as any;
    withKey.connections.analytics = {
      account: 'myorg-analytics',
      user: 'SVC',
      key: { secretsManager: { secretId: 'tv/analytics' } },
    };
    const built = context(withKey);
    const t = Template.fromStack(built.stack);
    expect(JSON.stringify(t.toJSON())).not.toContain('sts:GetWebIdentityToken');
    expect(Object.keys(t.findOutputs('*'))).not.toContain('HttpRoleArn');
    t.resourceCountIs('AWS::SecretsManager::RotationSchedule', 1);
  });
});
