import { readFileSync } from 'node:fs';
import { App, CfnOutput, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { applyRuleSets } from '../../infra/rule-sets';
import { TokenVendor } from '../../infra/token-vendor';
import { parseConfig } from '../../lambda/config/load';
import { tempDir } from '../support/keys';

/**
 * The construct in a platform team's own app, as they would write it (no buildApp): its outputs come
 * with it, and one call applies every rule set the vendor passes to their whole app.
 */
const config = () => parseConfig(JSON.parse(readFileSync('config/example.json', 'utf8')));
const app = () => new App({ context: { 'aws:cdk:bundling-stacks': [] }, outdir: tempDir('cdk-out-') });

describe('the TokenVendor construct in an adopter’s app', () => {
  it('brings its stack outputs, and passes every rule set applyRuleSets adds', () => {
    const a = app();
    const stack = new Stack(a, 'Platform');
    new TokenVendor(stack, 'Tokens', { config: config() });
    applyRuleSets(a, { controlTower: false });
    a.synth(); // throws on any unacknowledged finding of any pack
    // (and the REST API's own `…ApiEndpoint…`, which CDK adds to every deployed RestApi)
    const outputs = Object.keys(Template.fromStack(stack).findOutputs('*'));
    expect(outputs.filter((o) => !/ApiEndpoint/.test(o)).sort()).toEqual([
      'ApiUrl',
      'DirectFunctionArn',
      'EnvelopeKeyArn',
      'OperatorRoleArn',
      'RevocationTableName',
    ]);
  }, 60_000);

  it('applyRuleSets gates the adopter’s own resources too', () => {
    const a = app();
    const stack = new Stack(a, 'Platform');
    new TokenVendor(stack, 'Tokens', { config: config(), outputs: false });
    // The adopter's own role with an inline policy, beside the vendor
    const role = new iam.Role(stack, 'TheirRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:SendMessage'],
        resources: ['arn:aws:sqs:us-east-1:111122223333:q'],
      }),
    );
    applyRuleSets(a, { controlTower: false });
    expect(() => a.synth()).toThrow(/NIST\.800\.53\.R5-IAMNoInlinePolicy/);
    // outputs: false: none of the vendor's (the synth above failed, so count the constructs)
    expect(stack.node.findAll().filter((c) => c instanceof CfnOutput && !/Endpoint/.test(c.node.id))).toEqual(
      [],
    );
  }, 60_000);

  it('two vendors in one stack: outputPrefix keeps their outputs apart', () => {
    const a = app();
    const stack = new Stack(a, 'Platform');
    new TokenVendor(stack, 'Analytics', { config: config(), outputPrefix: 'Analytics' });
    new TokenVendor(stack, 'Finance', { config: config(), outputPrefix: 'Finance' });
    const outputs = Object.keys(Template.fromStack(stack).findOutputs('*'));
    expect(outputs).toEqual(
      expect.arrayContaining([
        'AnalyticsApiUrl',
        'FinanceApiUrl',
        'FinanceEnvelopeKeyArn',
        'AnalyticsRevocationTableName',
        'FinanceOperatorRoleArn',
      ]),
    );
    expect(outputs.filter((o) => !/ApiEndpoint/.test(o))).toHaveLength(10);
  }, 60_000);
});
