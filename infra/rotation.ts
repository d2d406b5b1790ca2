import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Config, Connection } from '../lambda/config/schema';
import { secretResource } from './arns';
import { acknowledge } from './expected-wildcards';
import { deadLetterTo, grantKeySources, grantSecretKeys, pascal } from './grants';
import type { PerTrigger } from './monitoring';

/** A secret the rotate-key function rewrites (a connection's key) or moves (an OAuth client secret). */
interface RotatedSecret {
  readonly name: string;
  readonly secretId: string;
  readonly kmsKeyId?: string | undefined;
}

/**
 * What the rotate-key function rotates: the connection keys kept in Secrets Manager, and the OAuth
 * client secrets whose Snowflake security integration the vendor mirrors. Neither: no rotate-key function.
 */
export function rotationTargets(config: Config): {
  rotated: (RotatedSecret & { readonly connection: Connection })[];
  synced: (RotatedSecret & { readonly connection: string })[];
} {
  const rotated = Object.entries(config.connections).flatMap(([name, c]) =>
    c.key && 'secretsManager' in c.key
      ? [
          {
            name,
            connection: c,
            secretId: c.key.secretsManager.secretId,
            kmsKeyId: c.key.secretsManager.kmsKeyId,
          },
        ]
      : [],
  );
  const synced = Object.entries(config.oauthIntegrations).flatMap(([name, i]) =>
    i.snowflakeIntegration && i.clientSecret?.secretsManager
      ? [
          {
            name,
            connection: i.snowflakeIntegration.connection,
            secretId: i.clientSecret.secretsManager.secretId,
            kmsKeyId: i.clientSecret.secretsManager.kmsKeyId,
          },
        ]
      : [],
  );
  return { rotated, synced };
}

export interface KeyRotationProps {
  readonly config: Config;
  readonly functions: PerTrigger<lambda.Function>;
  /** Encrypts the dead-letter queue. */
  readonly key: kms.Key;
  /** When the rotation check runs; default once a day. */
  readonly schedule?: events.Schedule;
}

/**
 * Keys that rotate without downtime, and a check that says when they do not.
 *
 * - Secrets Manager rotation schedules for each connection key in Secrets Manager (a day before the
 *   check would call it due) and each mirrored OAuth client secret (90 days), invoking `rotate-key`,
 *   which may rewrite exactly those secrets and nothing else.
 * - The daily rotation check (EventBridge, two retries), whose undeliverable or failing runs land in an
 *   encrypted dead-letter queue.
 *
 * @example
 * ```ts
 * vendor.rotation.deadLetters.grantConsumeMessages(opsRole);
 * ```
 */
export class KeyRotation extends Construct {
  /** Where failed scheduled rotation checks land. */
  readonly deadLetters: sqs.Queue;
  readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: KeyRotationProps) {
    super(scope, id);
    const { config, functions } = props;
    const stack = Stack.of(this);
    const { rotated, synced } = rotationTargets(config);
    const rotateKey = functions['rotate-key'];
    if (rotateKey && rotated.length > 0) {
      rotateKey.addToRolePolicy(
        new iam.PolicyStatement({
          actions: [
            'secretsmanager:DescribeSecret',
            'secretsmanager:GetSecretValue',
            'secretsmanager:PutSecretValue',
            'secretsmanager:UpdateSecretVersionStage',
          ],
          resources: rotated.map((r) => secretResource(this, r.secretId)),
        }),
      );
      // Writing a new version of a secret under a customer-managed key needs the key, through Secrets Manager only.
      grantSecretKeys(rotateKey, rotated, ['kms:Decrypt', 'kms:GenerateDataKey']);
      // Secrets Manager may invoke the rotation function for exactly these secrets.
      rotated.forEach((r, i) => {
        rotateKey.addPermission(`SecretsManagerInvoke${i}`, {
          principal: new iam.ServicePrincipal('secretsmanager.amazonaws.com'),
          sourceAccount: stack.account,
          sourceArn: secretResource(this, r.secretId),
        });
      });
      for (const { name, connection, secretId } of rotated) {
        new secretsmanager.CfnRotationSchedule(this, `Rotate${pascal(name)}`, {
          secretId,
          rotationLambdaArn: rotateKey.functionArn,
          // A day before the check calls the key due, so a healthy schedule never shows ROTATION_DUE.
          rotationRules: { automaticallyAfterDays: Math.max(1, connection.rotation.rotateAfterDays - 1) },
          // The first rotation waits for the schedule: not on the first deploy, nor whenever the schedule changes.
          rotateImmediatelyOnUpdate: false,
        }).node.addDependency(rotateKey);
      }
    }
    if (rotateKey && synced.length > 0) {
      // Client-secret sync reads the staged secret and moves AWSCURRENT; it never writes a secret value.
      rotateKey.addToRolePolicy(
        new iam.PolicyStatement({
          actions: [
            'secretsmanager:DescribeSecret',
            'secretsmanager:GetSecretValue',
            'secretsmanager:UpdateSecretVersionStage',
          ],
          resources: synced.map((r) => secretResource(this, r.secretId)),
        }),
      );
      grantSecretKeys(rotateKey, synced, ['kms:Decrypt']);
      // It signs in to Snowflake through the integration's connection (its key, or its role).
      const keys = [...new Set(synced.map((r) => r.connection))].flatMap((c) => {
        const key = config.connections[c]?.key;
        return key ? [key] : [];
      });
      if (keys.length > 0) grantKeySources(rotateKey, keys, [], false);
      synced.forEach((r, i) => {
        rotateKey.addPermission(`SecretsManagerInvokeClientSecret${i}`, {
          principal: new iam.ServicePrincipal('secretsmanager.amazonaws.com'),
          sourceAccount: stack.account,
          sourceArn: secretResource(this, r.secretId),
        });
        // The new secret comes from the OAuth provider: a scheduled rotation without a staged AWSPENDING
        // version fails (RotateKeyErrorsAlarm), which is the reminder to get one.
        new secretsmanager.CfnRotationSchedule(this, `RotateClientSecret${pascal(r.name)}`, {
          secretId: r.secretId,
          rotationLambdaArn: rotateKey.functionArn,
          rotationRules: { automaticallyAfterDays: 90 },
          rotateImmediatelyOnUpdate: false,
        }).node.addDependency(rotateKey);
      });
    }

    // A scheduled check that cannot be delivered or keeps failing lands here instead of vanishing.
    this.deadLetters = new sqs.Queue(this, 'RotationCheckDeadLetters', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      this.deadLetters,
      ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy', 'cdk-validator-cfnguard::sqs_dlq_check'],
      'This queue is itself the dead-letter queue of the scheduled rotation check.',
    );
    // EventBridge may use the key to deliver to the encrypted dead-letter queue, for this account only.
    props.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeDeadLetters',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    const check = functions['rotation-check'];
    deadLetterTo(check, this.deadLetters, props.key);
    this.schedule = new events.Rule(this, 'RotationCheckSchedule', {
      description: 'Token Vendor: daily check that every connection key is registered and not overdue',
      schedule: props.schedule ?? events.Schedule.rate(Duration.days(1)),
      targets: [new targets.LambdaFunction(check, { retryAttempts: 2, deadLetterQueue: this.deadLetters })],
    });
  }
}
