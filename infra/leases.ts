import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { acknowledge, compliance } from './expected-wildcards';
import { keyThroughDynamoDb } from './grants';

export interface LeaseRecordProps {
  /** Encrypts the table. */
  readonly key: kms.IKey;
  /** The functions that vend (http, direct): they write a lease per principal and token. */
  readonly vending: readonly lambda.Function[];
  /** Who may read it (`token-vendor leases list`, the blast radius `revoke` prints). */
  readonly readers: readonly iam.IGrantable[];
}

/**
 * Leases (config `leases`, opt-in): who holds which live token. An on-demand table keyed by principal
 * and token id (the audit trail's one-way id, never the token), under the vendor's key, with a TTL on
 * each token's expiry. The vending functions may only put items; the readers may only query and scan.
 *
 * @example
 * ```ts
 * vendor.leases?.table.grantReadData(securityTeamRole);
 * ```
 */
export class LeaseRecord extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: LeaseRecordProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'principal', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'tokenId', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'ttl',
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(
      this.table,
      compliance('DynamoDBInBackupPlan'),
      'Point-in-time recovery (35 days) is on, and every item expires with its token; add the table to your AWS Backup plan if your policy asks for one.',
    );
    for (const f of props.vending) {
      f.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [this.table.tableArn] }),
      );
      f.addToRolePolicy(keyThroughDynamoDb(props.key, ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']));
      f.addEnvironment('TOKEN_VENDOR_LEASE_TABLE', this.table.tableName);
    }
    for (const reader of props.readers) {
      reader.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['dynamodb:Query', 'dynamodb:Scan'],
          resources: [this.table.tableArn],
        }),
      );
      reader.grantPrincipal.addToPrincipalPolicy(keyThroughDynamoDb(props.key, ['kms:Decrypt']));
    }
  }
}
