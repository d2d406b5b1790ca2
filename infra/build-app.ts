import { readFileSync } from 'node:fs';
import { App, CfnOutput, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ROUTES } from '../lambda/api/routes';
import { ConfigError, parseConfigText } from '../lambda/config/load';
import { TokenVendorStack } from './stack';

/**
 * Build the CDK app from context: `config` (path of the config file, default `config/example.json`),
 * `stackName`, `alarmEmail`. The config is validated by the same zod schema the Lambdas use; an invalid
 * one fails synth with the path of every bad field. cdk-nag's AwsSolutions pack checks the result.
 *
 * @example
 * ```ts
 * const { app, stack } = buildApp({ config: 'config/example.json' });
 * ```
 */
export function buildApp(context: Record<string, unknown> = {}, app = new App({ context })) {
  const path = String(app.node.tryGetContext('config') ?? 'config/example.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(
      `Cannot read the config file ${path} (set it with: cdk synth -c config=path/to/config.json).`,
    );
  }
  const config = parseConfigText(text, path);
  const alarmEmail = app.node.tryGetContext('alarmEmail') as string | undefined;
  const stack = new TokenVendorStack(app, String(app.node.tryGetContext('stackName') ?? 'TokenVendor'), {
    config,
    ...(alarmEmail ? { alarmEmail } : {}),
    description: 'Token Vendor: short-lived Snowflake credentials for IAM principals',
  });
  new CfnOutput(stack, 'ApiUrl', {
    value: stack.vendor.api.url,
    description: `Base URL; ${ROUTES.postgres.method} {ApiUrl}${ROUTES.postgres.path.slice(1)}`,
  });
  new CfnOutput(stack, 'DirectFunctionArn', {
    value: stack.vendor.functions.direct.functionArn,
    description: 'For Step Functions: lambda:InvokeFunction',
  });
  new CfnOutput(stack, 'EnvelopeKeyArn', {
    value: stack.vendor.envelopeKey.keyArn,
    description: 'kms:Decrypt on this key opens encryptedToken',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, config };
}
