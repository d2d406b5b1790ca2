import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge, compliance } from './expected-wildcards';
import { grantSendTo, keyThroughDynamoDb, streamRead } from './grants';
import { ManagedPolicyRole } from './managed-policy-role';

export interface RevocationListProps {
  /** Encrypts the table. */
  readonly key: kms.IKey;
  /** The functions that vend (http, direct): they read the list before every vend. */
  readonly vending: readonly lambda.Function[];
  /**
   * The `revocation-audit` function: the table's stream (new and old images) feeds it, and it writes an
   * audit record for every change to the list, whoever made it.
   */
  readonly auditor?: lambda.Function;
}

/**
 * The revocation list (config `revocations`, on by default): principals and targets an operator cut off
 * fleet-wide, without a deploy (docs/runbook.md). Its own on-demand table, under the vendor's key, with
 * point-in-time recovery, retained with the stack: it is authoritative state, not a cache. The vending
 * functions may only read it (`Scan`, strongly consistent, every few seconds); the operator role may
 * read and write entries but never delete one (a lifted entry keeps its taint until its TTL), and start
 * `rotate-now` ({@link RevocationList.allowRotateNow}).
 *
 * @example
 * ```ts
 * vendor.revocations?.operatorRole.grantAssumeRole(new iam.ArnPrincipal(onCallRoleArn));
 * ```
 */
export class RevocationList extends Construct {
  readonly table: dynamodb.Table;
  /**
   * For `token-vendor revoke`, `unrevoke` and `revocations list`: assumable by principals of this
   * account whose own IAM policy allows `sts:AssumeRole` on it.
   */
  readonly operatorRole: iam.Role;
  /**
   * Stream batches the `revocation-audit` function could not audit after its retries (their shard,
   * sequence numbers and times; the changes themselves stay readable in the table and its point-in-time
   * recovery). An alarm watches it.
   */
  readonly auditFailures?: sqs.Queue;

  constructor(scope: Construct, id: string, props: RevocationListProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'ttl',
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
      ...(props.auditor ? { stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES } : {}),
    });
    acknowledge(
      this.table,
      compliance('DynamoDBInBackupPlan'),
      'Point-in-time recovery (35 days) is on; add the table to your AWS Backup plan if your policy asks for one.',
    );
    for (const f of props.vending) {
      f.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['dynamodb:Scan'], resources: [this.table.tableArn] }),
      );
      f.addToRolePolicy(keyThroughDynamoDb(props.key, ['kms:Decrypt']));
      f.addEnvironment('TOKEN_VENDOR_REVOCATION_TABLE', this.table.tableName);
    }
    this.operatorRole = new ManagedPolicyRole(this, 'OperatorRole', {
      assumedBy: new iam.AccountRootPrincipal(),
      description: 'Token Vendor operators: revoke, unrevoke and list revocations (token-vendor revoke)',
    });
    this.operatorRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Scan'],
        resources: [this.table.tableArn],
      }),
    );
    this.operatorRole.addToPolicy(
      keyThroughDynamoDb(props.key, ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']),
    );
    this.#key = props.key;
    if (props.auditor) this.auditFailures = this.#audit(props.auditor, props.key);
  }

  /** The stream → the audit function, with retries, bisection and an on-failure queue. */
  #audit(auditor: lambda.Function, key: kms.IKey): sqs.Queue {
    const failures = new sqs.Queue(this, 'AuditFailures', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      failures,
      ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy', 'cdk-validator-cfnguard::sqs_dlq_check'],
      "This queue is itself the on-failure destination of the revocation table's stream.",
    );
    auditor.addToRolePolicy(streamRead(this.table));
    auditor.addToRolePolicy(keyThroughDynamoDb(key, ['kms:Decrypt']));
    grantSendTo(auditor, failures, key);
    const mapping = new lambda.EventSourceMapping(this, 'AuditStream', {
      target: auditor,
      eventSourceArn: this.table.tableStreamArn!,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      maxBatchingWindow: Duration.seconds(1),
      bisectBatchOnError: true,
      reportBatchItemFailures: true,
      retryAttempts: 10,
      // The stream keeps records 24 hours: retry until then, then the queue.
      maxRecordAge: Duration.hours(24),
      // The destination without EventSourceMapping's own grant (which adds kms:ReEncrypt* and
      // kms:GenerateDataKey* wildcards): the statements above are the exact ones.
      onFailure: { bind: () => ({ destination: failures.queueArn }) },
    });
    // The mapping is created only once the role may read the stream.
    mapping.node.addDependency(auditor.role!);
    return failures;
  }

  readonly #key: kms.IKey;

  /**
   * `token-vendor rotate-now`: the operator role may start a rotation of these secrets (Secrets Manager
   * then invokes `rotateKey`, which the caller of `RotateSecret` must be allowed to invoke), and the
   * rotate-key function may write the `rekey` entries that tell the fleet, and only those: its writes are
   * limited to partition keys `rekey|…`, so it can neither revoke nor lift anything.
   */
  allowRotateNow(rotateKey: lambda.Function, secretArns: readonly string[]): void {
    if (secretArns.length === 0) return;
    this.operatorRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:RotateSecret', 'secretsmanager:DescribeSecret'],
        resources: [...secretArns],
      }),
    );
    this.operatorRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [rotateKey.functionArn] }),
    );
    rotateKey.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['rekey|*'] },
          // ForAllValues alone is true for a request that names no key at all.
          Null: { 'dynamodb:LeadingKeys': 'false' },
        },
      }),
    );
    rotateKey.addToRolePolicy(
      keyThroughDynamoDb(this.#key, ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']),
    );
    rotateKey.addEnvironment('TOKEN_VENDOR_REKEY_TABLE', this.table.tableName);
  }
}
