import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/build-app';
import { tempDir, writeTempFile } from '../support/keys';
import { rolePolicies } from '../support/template';

/** The shared token cache's resources (issue 10): real synth with cdk-nag (AwsSolutions, Serverless, Control Tower). */
describe('a config with cache.shared deploys the table, least-privilege grants and an alarm', () => {
  let template: Template;
  let outdir: string;
  beforeAll(() => {
    const config = JSON.parse(readFileSync('config/example.json', 'utf8'));
    config.cache = { shared: {} };
    const context = {
      'aws:cdk:bundling-stacks': [],
      config: writeTempFile('config.json', JSON.stringify(config)),
    };
    outdir = tempDir('cdk-out-');
    const built = buildApp(context, new App({ context, outdir }));
    built.app.synth(); // throws on any unacknowledged finding (cdk-nag and Control Tower alike)
    template = Template.fromStack(built.stack);
  }, 120_000);

  it('an on-demand table keyed by pk, with TTL, encrypted with the vendor key, PITR off', () => {
    // The cache's, and the revocation list's (test/infra/revocations.test.ts).
    template.resourceCountIs('AWS::DynamoDB::Table', 2);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false },
    });
  });

  it("meets Control Tower's controls, point-in-time recovery acknowledged with its reason (a cache)", () => {
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
    const guard = report.pluginReports.find(
      (p: { pluginName: string }) => p.pluginName === 'cdk-validator-cfnguard',
    );
    expect(guard.violations).toEqual([]);
    const pitr = guard.suppressedViolations.filter(
      (v: { ruleName: string }) => v.ruleName === 'dynamodb_table_pitr_enabled_check',
    );
    expect(pitr).toHaveLength(1);
    expect(JSON.stringify(pitr[0])).toMatch(/SharedCacheTable/);
    expect(JSON.stringify(pitr[0])).toMatch(/point-in-time recovery and backups buy nothing/);
  });

  it('the vending functions may get, put and update items of that table only, and the others nothing', () => {
    const policies = Object.entries(rolePolicies(template));
    const holding = policies.filter(([, p]) =>
      /dynamodb:(GetItem|PutItem|UpdateItem)/.test(JSON.stringify(p)),
    );
    expect(holding.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'TokenVendorFunctionsDirectRolePolicy',
      'TokenVendorFunctionsHttpRolePolicy',
      'TokenVendorFunctionsRotateKeyRolePolicy',
      'TokenVendorRevocationsOperatorRolePolicy',
    ]);
    // The operator's and rotate-key's are on the revocation list (test/infra/revocations.test.ts).
    for (const [, policy] of holding.filter(([id]) => !/Operator|RotateKey/.test(id))) {
      const statements = (
        policy.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[]
      ).filter((s) => /dynamodb:(GetItem|PutItem|UpdateItem)/.test(JSON.stringify(s.Action)));
      expect(statements).toHaveLength(1);
      expect(statements[0]!.Action).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
      expect(JSON.stringify(statements[0]!.Resource)).toMatch(
        /SharedCacheTable\w*", "Arn"|SharedCacheTable\w*","Arn"/,
      );
    }
  });

  it('seals with the vendor key only under the cache context (non-vacuously), and tells the functions where', () => {
    const sealing = Object.values(rolePolicies(template)).flatMap((p) =>
      (p.Properties.PolicyDocument.Statement as { Condition?: Record<string, unknown> }[]).filter((s) =>
        JSON.stringify(s.Condition ?? {}).includes('kms:EncryptionContextKeys'),
      ),
    );
    expect(sealing).toHaveLength(2);
    for (const s of sealing) {
      expect(s.Condition).toEqual({
        'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['token-vendor:cache'] },
        Null: { 'kms:EncryptionContextKeys': 'false' },
      });
    }
    const http = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) =>
      id.includes('HttpFunction'),
    )![1];
    expect(Object.keys(http.Properties.Environment.Variables)).toEqual(
      expect.arrayContaining(['TOKEN_VENDOR_CACHE_TABLE', 'TOKEN_VENDOR_CACHE_KEY_ID']),
    );
  });

  it('alarms when containers keep minting without the shared cache', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'FILL(postgres, 0) + FILL(oauth, 0)' })]),
      Threshold: 10,
    });
  });
});
