import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import {
  ControlTowerChecks,
  controlTowerRules,
  inapplicableRules,
  resourceTypesOf,
} from '../../infra/control-tower';
import { acknowledge } from '../../infra/expected-wildcards';
import { tempDir } from '../support/keys';

/**
 * A stack with two Control Tower findings: a queue without a dead-letter queue (always acknowledged)
 * and a table without point-in-time recovery (acknowledged or not).
 */
function synth(acknowledgeTable: boolean, outdir = tempDir('cdk-out-')) {
  const app = new App({ outdir });
  Validations.of(app).addPlugins(new ControlTowerChecks());
  const stack = new Stack(app, 'Checked');
  acknowledge(
    new sqs.Queue(stack, 'Queue', { enforceSSL: true, encryption: sqs.QueueEncryption.KMS_MANAGED }),
    'cdk-validator-cfnguard::sqs_dlq_check',
    'test',
  );
  const table = new dynamodb.Table(stack, 'Table', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  if (acknowledgeTable)
    acknowledge(table, 'cdk-validator-cfnguard::dynamodb_table_pitr_enabled_check', 'test');
  return () => app.synth();
}

describe('Control Tower checks (cfn-guard) gate the synth', () => {
  it('an unacknowledged finding fails the synth, even beside an acknowledged one', () => {
    expect(synth(false)).toThrow(/dynamodb_table_pitr_enabled_check/);
  }, 60_000);

  it('passes once every finding is acknowledged', () => {
    expect(synth(true)).not.toThrow();
  }, 60_000);

  it('runs only the rules that can apply, and finds exactly what every rule finds', () => {
    // Prepare: the stack's template (the failing synth still writes it)
    const outdir = tempDir('cdk-out-');
    expect(synth(false, outdir)).toThrow();
    const templatePaths = readdirSync(outdir)
      .filter((f) => f.endsWith('.template.json'))
      .map((f) => join(outdir, f));
    const rules = controlTowerRules();
    const skipped = inapplicableRules(rules, resourceTypesOf(templatePaths));
    // Act
    const context = { templatePaths, appConstruct: new App({ outdir }) };
    const every = new ControlTowerChecks({ everyRule: true }).validate(context);
    const applicable = new ControlTowerChecks().validate(context);
    // Assess: most rules are skipped (a queue and a table), none that found anything
    expect(rules.length).toBeGreaterThan(200);
    expect(skipped.length).toBeGreaterThan(rules.length - 40);
    expect(skipped).not.toContain('ct-dynamodb-pr-1');
    const names = (r: typeof every) => r.violations.map((v) => v.ruleName).sort();
    expect(names(every)).toContain('dynamodb_table_pitr_enabled_check');
    expect(names(applicable)).toEqual(names(every));
    expect(applicable.violations).toEqual(every.violations);
  }, 60_000);

  it('keeps a rule that names no resource type, and one that names a type the template has', () => {
    const rules = [
      { name: 'typeless', types: [] },
      { name: 'queue', types: ['AWS::SQS::Queue'] },
      { name: 'bucket', types: ['AWS::S3::Bucket', 'AWS::S3::BucketPolicy'] },
    ];
    expect(inapplicableRules(rules, new Set(['AWS::SQS::Queue']))).toEqual(['bucket']);
    expect(inapplicableRules(rules, new Set(['AWS::S3::BucketPolicy']))).toEqual(['queue']);
  });
});
