import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { ControlTowerChecks } from '../../infra/control-tower';
import { acknowledge } from '../../infra/expected-wildcards';
import { tempDir } from '../support/keys';

/**
 * A stack with two Control Tower findings: a queue without a dead-letter queue (always acknowledged)
 * and a table without point-in-time recovery (acknowledged or not).
 */
function synth(acknowledgeTable: boolean) {
  const app = new App({ outdir: tempDir('cdk-out-') });
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
});
