import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/build-app';
import { tempDir, writeTempFile } from '../support/keys';
import { rolePolicies } from '../support/template';

/** PAT targets (issue 26): real synth with cdk-nag and Control Tower's controls, bundling skipped. */
describe('a config with PAT targets deploys the sweeper, its triggers and least-privilege grants', () => {
  let template: Template;
  const policyOf = (role: string) =>
    Object.entries(rolePolicies(template))
      .filter(([id]) => id.includes(`Functions${role}RolePolicy`))
      .flatMap(
        ([, p]) =>
          p.Properties.PolicyDocument.Statement as {
            Action: unknown;
            Resource: unknown;
            Condition?: unknown;
          }[],
      );
  const actions = (s: { Action: unknown }) => (Array.isArray(s.Action) ? s.Action : [s.Action]) as string[];

  beforeAll(() => {
    const config = JSON.parse(readFileSync('config/example.json', 'utf8'));
    config.patTargets = {
      tableau: { connection: 'analytics', user: 'TABLEAU_SVC', roles: ['REPORTING_READER'] },
    };
    config.pats = { sweepMinutes: 3 };
    config.grants[0].pat = [{ target: 'tableau', roles: ['REPORTING_READER'] }];
    const context = {
      'aws:cdk:bundling-stacks': [],
      config: writeTempFile('config.json', JSON.stringify(config)),
    };
    const built = buildApp(context, new App({ context, outdir: tempDir('cdk-out-') }));
    built.app.synth(); // throws on any unacknowledged finding of the cdk-nag packs
    template = Template.fromStack(built.stack);
  }, 120_000);

  it('a pat-sweeper function on a schedule of pats.sweepMinutes, with retries and a dead-letter queue', () => {
    const sweepers = template.findResources('AWS::Lambda::Function', {
      Properties: { Description: 'Token Vendor: pat-sweeper' },
    });
    expect(Object.keys(sweepers)).toHaveLength(1);
    const [id, sweeper] = Object.entries(sweepers)[0]!;
    expect(sweeper.Properties).toMatchObject({ Timeout: 120, ReservedConcurrentExecutions: 2 });
    expect(sweeper.Properties.DeadLetterConfig.TargetArn).toBeDefined();
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(3 minutes)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [id, 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 2 },
          DeadLetterConfig: Match.anyValue(),
        }),
      ],
    });
  });

  it("wakes on the revocation table's stream, next to the audit function, with a failure destination", () => {
    const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'));
    const sweeperId = Object.keys(
      template.findResources('AWS::Lambda::Function', {
        Properties: { Description: 'Token Vendor: pat-sweeper' },
      }),
    )[0]!;
    const wake = mappings.find((m) => JSON.stringify(m.Properties.FunctionName).includes(sweeperId))!;
    expect(wake.Properties).toMatchObject({
      StartingPosition: 'LATEST',
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [expect.stringMatching(/DeadLetters/), 'Arn'] } },
      },
    });
    expect(JSON.stringify(wake.Properties.EventSourceArn)).toMatch(
      /RevocationsTable\w*", "StreamArn"|RevocationsTable\w*","StreamArn"/,
    );
    expect(mappings).toHaveLength(2);
  });

  it('creates the lease table (leases are off in this config) and tells the functions where it and the key are', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 2); // the revocation list's and the leases'
    const env = (description: string) =>
      Object.values(
        template.findResources('AWS::Lambda::Function', { Properties: { Description: description } }),
      )[0]!.Properties.Environment.Variables;
    for (const fn of ['http', 'direct'])
      expect(Object.keys(env(`Token Vendor: ${fn}`))).toEqual(
        expect.arrayContaining([
          'TOKEN_VENDOR_LEASE_TABLE',
          'TOKEN_VENDOR_PAT_KEY_ID',
          'TOKEN_VENDOR_CACHE_NAMESPACE',
        ]),
      );
    expect(Object.keys(env('Token Vendor: pat-sweeper'))).toEqual(
      expect.arrayContaining([
        'TOKEN_VENDOR_LEASE_TABLE',
        'TOKEN_VENDOR_REVOCATION_TABLE',
        'TOKEN_VENDOR_CACHE_NAMESPACE',
      ]),
    );
    expect(env('Token Vendor: pat-sweeper').TOKEN_VENDOR_CACHE_NAMESPACE).toEqual(
      env('Token Vendor: http').TOKEN_VENDOR_CACHE_NAMESPACE,
    );
    expect(env('Token Vendor: pat-sweeper').TOKEN_VENDOR_PAT_KEY_ID).toBeUndefined();
  });

  it('seals PAT secrets with the vendor key only under the PAT context, non-vacuously; the sweeper cannot open them', () => {
    for (const role of ['Http', 'Direct']) {
      const sealing = policyOf(role).filter((s) =>
        JSON.stringify(s.Condition ?? {}).includes('token-vendor:pat'),
      );
      expect(sealing).toHaveLength(1);
      expect(sealing[0]!.Condition).toEqual({
        'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['token-vendor:pat'] },
        Null: { 'kms:EncryptionContextKeys': 'false' },
      });
      expect(actions(sealing[0]!).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
      const leaseWrites = policyOf(role).filter((s) => actions(s).includes('dynamodb:DeleteItem'));
      expect(leaseWrites.map(actions)).toEqual([
        ['dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
      ]);
    }
    const sweeper = policyOf('PatSweeper');
    expect(sweeper.filter((s) => JSON.stringify(s.Condition ?? {}).includes('token-vendor:pat'))).toEqual([]);
    const tables = sweeper.filter((s) => actions(s).some((a) => a.startsWith('dynamodb:')));
    expect(tables.map(actions).sort()).toEqual(
      [
        ['dynamodb:Query', 'dynamodb:DeleteItem'],
        ['dynamodb:Scan'],
        [
          'dynamodb:DescribeStream',
          'dynamodb:GetRecords',
          'dynamodb:GetShardIterator',
          'dynamodb:ListStreams',
        ],
      ].sort(),
    );
  });

  it('alarms on failed sweeps, a user near the cap of 15, and a sweeper that stopped running', () => {
    for (const description of [
      /PAT sweeper could not/,
      /13 or more of the 15/,
      /did not run in the last hour/,
    ])
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmDescription: Match.stringLikeRegexp(description.source),
      });
  });
});
