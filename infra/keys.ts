import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/**
 * The vendor's two customer-managed KMS keys, both rotated yearly and retained when the stack goes.
 *
 * - `key` encrypts what the vendor keeps: its log groups, the alarm topic, the dead-letter queue and
 *   the shared cache (table and sealed entries). CloudWatch Logs may use it for this account's log
 *   groups only; CloudWatch alarms may publish to the encrypted topic.
 * - `envelopeKey` seals the tokens the direct path returns (`encryptedToken`). Who may open them is
 *   decided by {@link DirectPath}, on this key's policy.
 *
 * On both, grants are refused unless they are for an AWS service acting for a resource (Control Tower
 * CT.KMS.PR.3).
 *
 * @example
 * ```ts
 * const keys = new VendorKeys(this, 'Keys');
 * keys.key.grantDecrypt(auditReaderRole);
 * ```
 */
export class VendorKeys extends Construct {
  /** Encrypts the vendor's logs, alarm topic, dead letters and shared cache. */
  readonly key: kms.Key;
  /** Seals the tokens the direct path returns. */
  readonly envelopeKey: kms.Key;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const stack = Stack.of(this);
    this.key = new kms.Key(this, 'Key', {
      description: 'Token Vendor: encrypts its logs and alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchLogs',
        principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:*`,
          },
        },
      }),
    );
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsToEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.envelopeKey = new kms.Key(this, 'EnvelopeKey', {
      description: 'Token Vendor: encrypts tokens returned to Step Functions (consumers need kms:Decrypt)',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const key of [this.key, this.envelopeKey]) {
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'GrantsOnlyForAwsServices',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['kms:CreateGrant'],
          resources: ['*'],
          conditions: {
            BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
          },
        }),
      );
    }
  }
}
