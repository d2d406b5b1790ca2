import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/build-app';
import { tempDir, writeTempFile } from '../support/keys';
import { rolePolicies } from '../support/template';

const example = () => JSON.parse(readFileSync('config/example.json', 'utf8'));

function synth(config: unknown): Template {
  const context = {
    'aws:cdk:bundling-stacks': [],
    config: writeTempFile('config.json', JSON.stringify(config)),
    controlTowerChecks: 'false',
  };
  const built = buildApp(context, new App({ context, outdir: tempDir('cdk-out-') }));
  built.app.synth(); // throws on any unacknowledged finding of the cdk-nag packs
  return Template.fromStack(built.stack);
}

/** The revocation list's resources (issue 25), on by default. */
describe('the revocation list in the stack', () => {
  let template: Template;
  beforeAll(() => {
    template = synth(example());
  }, 120_000);

  it('is a table of its own: authoritative state, so point-in-time recovery on and retained', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      },
    });
  });

  it('the vending functions may only Scan it; the operator role may read and write entries, never delete', () => {
    const policies = Object.entries(rolePolicies(template));
    const dynamo = (id: string) =>
      policies
        .filter(([pid]) => pid.startsWith(id))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Action: string | string[] }[])
        .flatMap((s) => [s.Action].flat())
        .filter((a) => a.startsWith('dynamodb:'))
        .sort();
    expect(dynamo('TokenVendorFunctionsHttpRole')).toEqual(['dynamodb:Scan']);
    expect(dynamo('TokenVendorFunctionsDirectRole')).toEqual(['dynamodb:Scan']);
    expect(dynamo('TokenVendorFunctionsRotationCheckRole')).toEqual([]);
    expect(dynamo('TokenVendorRevocationsOperatorRole')).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Scan',
      'dynamodb:UpdateItem',
    ]);
    for (const fn of ['Http', 'Direct'])
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: `Token Vendor: ${fn.toLowerCase()}`,
        Environment: { Variables: Match.objectLike({ TOKEN_VENDOR_REVOCATION_TABLE: Match.anyValue() }) },
      });
  });

  it('rotate-now: the rotate-key function writes rekey entries only; the operator may start a rotation of the connection keys', () => {
    const policies = Object.entries(rolePolicies(template));
    const statementsOf = (id: string) =>
      policies
        .filter(([pid]) => pid.startsWith(id))
        .flatMap(
          ([, p]) =>
            p.Properties.PolicyDocument.Statement as {
              Action: string | string[];
              Resource: unknown;
              Condition?: unknown;
            }[],
        );
    const rotateKeyDynamo = statementsOf('TokenVendorFunctionsRotateKeyRole').filter((s) =>
      [s.Action].flat().some((a) => a.startsWith('dynamodb:')),
    );
    expect(rotateKeyDynamo).toHaveLength(1);
    expect(rotateKeyDynamo[0]!.Action).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    expect(JSON.stringify(rotateKeyDynamo[0]!.Resource)).toMatch(/RevocationsTable/);
    // Non-vacuous: a request naming no partition key at all does not pass ForAllValues alone.
    expect(rotateKeyDynamo[0]!.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['rekey|*'] },
      Null: { 'dynamodb:LeadingKeys': 'false' },
    });
    const operator = statementsOf('TokenVendorRevocationsOperatorRole');
    const rotate = operator.filter((s) => [s.Action].flat().includes('secretsmanager:RotateSecret'));
    expect(rotate).toHaveLength(1);
    expect(JSON.stringify(rotate[0]!.Resource)).toMatch(/secret:token-vendor\/snowflake\/analytics-\?{6}/);
    expect(
      operator
        .flatMap((s) => [s.Action].flat())
        .filter((a) => a.startsWith('secretsmanager:'))
        .sort(),
    ).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:RotateSecret']);
    const invoke = operator.filter((s) => [s.Action].flat().includes('lambda:InvokeFunction'));
    expect(JSON.stringify(invoke.map((s) => s.Resource))).toMatch(/RotateKeyFunction/);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'Token Vendor: rotate-key',
      Environment: { Variables: Match.objectLike({ TOKEN_VENDOR_REKEY_TABLE: Match.anyValue() }) },
    });
  });

  it('names the table and the operator role in outputs, and alarms on revoked requests', () => {
    expect(Object.keys(template.findOutputs('*'))).toEqual(
      expect.arrayContaining(['RevocationTableName', 'OperatorRoleArn']),
    );
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: Match.stringLikeRegexp('REVOKED'),
      MetricTransformations: [Match.objectLike({ MetricName: 'RevokedDenials' })],
    });
    expect(
      Object.keys(template.findResources('AWS::CloudWatch::Alarm')).some((id) =>
        /RevokedDenialsAlarm/.test(id),
      ),
    ).toBe(true);
  });

  it('leases (opt-in): a table keyed by principal and token id; the functions only put, the operator only reads', () => {
    const on = synth({ ...example(), leases: { enabled: true } });
    on.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'principal', KeyType: 'HASH' },
        { AttributeName: 'tokenId', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    const actionsOn = (prefix: string) =>
      Object.entries(rolePolicies(on))
        .filter(([id]) => id.startsWith(prefix))
        .flatMap(
          ([, p]) =>
            p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
        )
        .filter((st) => JSON.stringify(st.Resource).includes('LeasesTable'))
        .flatMap((st) => [st.Action].flat())
        .sort();
    expect(actionsOn('TokenVendorFunctionsHttpRole')).toEqual(['dynamodb:PutItem']);
    expect(actionsOn('TokenVendorRevocationsOperatorRole')).toEqual(['dynamodb:Query', 'dynamodb:Scan']);
    expect(Object.keys(on.findOutputs('*'))).toContain('LeaseTableName');
    // Off by default.
    expect(Object.keys(template.findOutputs('*'))).not.toContain('LeaseTableName');
  }, 120_000);

  it('audits every change: the stream (both images) feeds revocation-audit, which may only read it; failures land in a queue with an alarm', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      StartingPosition: 'TRIM_HORIZON',
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 10,
      DestinationConfig: {
        OnFailure: {
          Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('RevocationsAuditFailures'), 'Arn'] },
        },
      },
    });
    const statements = Object.entries(rolePolicies(template))
      .filter(([id]) => id.startsWith('TokenVendorFunctionsRevocationAuditRole'))
      .flatMap(
        ([, p]) =>
          p.Properties.PolicyDocument.Statement as {
            Action: string | string[];
            Resource: unknown;
            Condition?: unknown;
          }[],
      );
    const actions = statements.flatMap((s) => [s.Action].flat()).sort();
    expect(actions).toEqual([
      'dynamodb:DescribeStream',
      'dynamodb:GetRecords',
      'dynamodb:GetShardIterator',
      'dynamodb:ListStreams',
      'kms:Decrypt',
      'kms:Decrypt',
      'kms:GenerateDataKey',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'sqs:SendMessage',
    ]);
    // Every KMS use goes through DynamoDB or SQS; the stream actions name the stream, not the table.
    for (const s of statements) {
      if ([s.Action].flat().some((a) => a.startsWith('kms:')))
        expect(JSON.stringify(s.Condition)).toMatch(/kms:ViaService/);
      if ([s.Action].flat().includes('dynamodb:GetRecords'))
        expect(JSON.stringify(s.Resource)).toMatch(/StreamArn/);
    }
    expect(Object.keys(template.findResources('AWS::CloudWatch::Alarm'))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/RevocationListTamperedAlarm/),
        expect.stringMatching(/RevocationAuditFailuresAlarm/),
      ]),
    );
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: Match.stringLikeRegexp('revocation.unreadable'),
      MetricTransformations: [Match.objectLike({ MetricName: 'RevocationListTampered' })],
    });
  });

  it('revocations.enabled: false deploys none of it', () => {
    const off = synth({ ...example(), revocations: { enabled: false } });
    expect(JSON.stringify(off.toJSON())).not.toMatch(
      /TOKEN_VENDOR_REVOCATION_TABLE|OperatorRole|RevokedDenials|RevocationAudit|EventSourceMapping/,
    );
  }, 120_000);
});
