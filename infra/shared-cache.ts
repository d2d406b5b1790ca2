import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { acknowledge, compliance } from './expected-wildcards';
import { keyThroughDynamoDb } from './grants';

export interface SharedCacheProps {
  /** Encrypts the table and seals each entry's token. */
  readonly key: kms.IKey;
  /** The functions that vend (http, direct): they read and write entries. */
  readonly vending: readonly lambda.Function[];
  /**
   * Part of every entry's key, so this vendor's entries are its own whatever else shares the table
   * (the TokenVendor passes its stack id and construct address).
   */
  readonly namespace: string;
}

/**
 * The fleet-wide token cache (config `cache.shared`): an on-demand table with a TTL attribute, encrypted
 * with the vendor's key. Point-in-time recovery is off because a lost cache costs one mint per target
 * and nothing else. The vending functions may read and write its items (no Scan, no Query, no
 * DeleteItem: the vendor never lists or deletes; expiry is the TTL's job) and seal and open tokens with
 * the vendor's key only under the cache's encryption context.
 *
 * @example
 * ```ts
 * vendor.sharedCache?.table.metricConsumedReadCapacityUnits();
 * ```
 */
export class SharedCache extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: SharedCacheProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'ttl',
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: false },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    acknowledge(
      this.table,
      [
        'AwsSolutions-DDB3',
        'Serverless-DynamoDBPointInTimeRecovery',
        'cdk-validator-cfnguard::dynamodb_table_pitr_enabled_check',
        ...compliance('DynamoDBPITREnabled'),
        ...compliance('DynamoDBInBackupPlan'),
      ],
      'A cache: losing it costs one mint per target (the vendor falls back to minting), so point-in-time recovery and backups buy nothing.',
    );
    for (const f of props.vending) {
      f.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
          resources: [this.table.tableArn],
        }),
      );
      // Table encryption: DynamoDB uses the key on the function's behalf, and only DynamoDB may.
      f.addToRolePolicy(keyThroughDynamoDb(props.key, ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']));
      // Sealing cached tokens: the hourly period keys (and, when one is unusable, a data key per entry),
      // bound to the stack and period, or to the entry, by the encryption context.
      f.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [props.key.keyArn],
          conditions: {
            'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['token-vendor:cache'] },
            Null: { 'kms:EncryptionContextKeys': 'false' },
          },
        }),
      );
      f.addEnvironment('TOKEN_VENDOR_CACHE_TABLE', this.table.tableName);
      f.addEnvironment('TOKEN_VENDOR_CACHE_KEY_ID', props.key.keyArn);
      f.addEnvironment('TOKEN_VENDOR_CACHE_NAMESPACE', props.namespace);
    }
  }
}
