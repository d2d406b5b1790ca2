import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/build-app';
import { tempDir, writeTempFile } from '../support/keys';
import { rolePolicies } from '../support/template';

type Statement = { Action: string | string[]; Resource: unknown };

/** Client-secret sync and the drift alarm (issue 11): real synth with cdk-nag, bundling skipped. */
describe('an OAuth integration that mirrors a Snowflake security integration', () => {
  let template: Template;
  beforeAll(() => {
    const config = JSON.parse(readFileSync('config/example.json', 'utf8'));
    config.oauthIntegrations.servicenow.snowflakeIntegration = {
      connection: 'analytics',
      name: 'servicenow_oauth',
    };
    const context = {
      'aws:cdk:bundling-stacks': [],
      controlTowerChecks: 'false',
      config: writeTempFile('config.json', JSON.stringify(config)),
    };
    const built = buildApp(context, new App({ context, outdir: tempDir('cdk-out-') }));
    built.app.synth();
    template = Template.fromStack(built.stack);
  }, 120_000);

  const rotateKeyStatements = () =>
    Object.entries(rolePolicies(template))
      .filter(([id]) => id.startsWith('TokenVendorFunctionsRotateKeyRole'))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);

  it('schedules the rotation function on the client secret, which it may read and re-stage but never write', () => {
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: 'token-vendor/oauth/servicenow',
      RotationRules: { AutomaticallyAfterDays: 90 },
      RotateImmediatelyOnUpdate: false,
    });
    const onClientSecret = rotateKeyStatements().filter((s) =>
      JSON.stringify(s.Resource).includes('token-vendor/oauth/servicenow'),
    );
    const actions = onClientSecret.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(actions.sort()).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'secretsmanager:UpdateSecretVersionStage',
    ]);
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'secretsmanager.amazonaws.com',
      SourceArn: Match.objectLike({
        'Fn::Join': Match.arrayWith([
          Match.arrayWith([Match.stringLikeRegexp('token-vendor/oauth/servicenow')]),
        ]),
      }),
    });
  });

  it('alarms on drift, a disabled integration or a missing one', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'FILL(drifted, 0) + FILL(disabled, 0) + FILL(missing, 0)' }),
      ]),
    });
  });
});
