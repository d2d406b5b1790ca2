import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Config } from '../lambda/config/schema';
import { PAT_CONTEXT_KEY } from '../lambda/pat/names';
import { deadLetterTo, keyThroughDynamoDb, streamRead } from './grants';

export interface PatLeasesProps {
  readonly config: Config;
  /** The vendor's key: encrypts the lease table, and seals each PAT's secret in its lease. */
  readonly key: kms.IKey;
  /** The lease table (`LeaseRecord`), which the PAT leases share with the other leases. */
  readonly table: dynamodb.ITable;
  /** The functions that vend (http, direct): they read, write and claim leases, and seal and open secrets. */
  readonly vending: readonly lambda.Function[];
  /** The sweeper: it reads the leases and forgets those it ended. */
  readonly sweeper: lambda.Function;
  /** The revocation list: a change to it wakes the sweeper at once. */
  readonly revocations?: { readonly table: dynamodb.ITable };
  /** Where a failed sweep lands (the rotation check's dead-letter queue), under the vendor's key. */
  readonly deadLetters: sqs.IQueue;
  /** The stack's identity in PAT names and seals: two stacks managing one Snowflake user never touch each other's tokens. */
  readonly namespace: string;
}

/**
 * Programmatic access tokens (config `patTargets`): the grants on the lease table and the key, and the
 * sweeper's triggers.
 *
 * - The vending functions may query, put and delete items of the lease table, and use the vendor key to
 *   seal and open PAT secrets only under the PAT encryption context (and through DynamoDB for the table).
 * - The sweeper runs every `pats.sweepMinutes` (EventBridge, two retries, then the dead-letter queue),
 *   and at once on every change to the revocation list (its stream, which the audit function also reads).
 *   It may query and delete lease items and read the revocation list.
 *
 * @example
 * ```ts
 * vendor.pats?.schedule.addTarget(new targets.SnsTopic(opsTopic)); // told each sweep
 * ```
 */
export class PatLeases extends Construct {
  readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: PatLeasesProps) {
    super(scope, id);
    const { table, key, sweeper } = props;
    const sealing = (actions: string[]) =>
      new iam.PolicyStatement({
        actions,
        resources: [key.keyArn],
        conditions: {
          'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': [PAT_CONTEXT_KEY] },
          // ForAllValues alone is true for a request with no encryption context at all.
          Null: { 'kms:EncryptionContextKeys': 'false' },
        },
      });
    for (const f of props.vending) {
      f.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
          resources: [table.tableArn],
        }),
      );
      f.addToRolePolicy(keyThroughDynamoDb(key, ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']));
      f.addToRolePolicy(sealing(['kms:GenerateDataKey', 'kms:Decrypt']));
      f.addEnvironment('TOKEN_VENDOR_PAT_KEY_ID', key.keyArn);
      f.addEnvironment('TOKEN_VENDOR_CACHE_NAMESPACE', props.namespace);
    }
    sweeper.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query', 'dynamodb:DeleteItem'],
        resources: [table.tableArn],
      }),
    );
    sweeper.addToRolePolicy(keyThroughDynamoDb(key, ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']));
    sweeper.addEnvironment('TOKEN_VENDOR_LEASE_TABLE', table.tableName);
    sweeper.addEnvironment('TOKEN_VENDOR_CACHE_NAMESPACE', props.namespace);

    // A sweep that fails after its retries lands in the dead-letter queue (exact actions, no wildcards).
    deadLetterTo(sweeper, props.deadLetters, key);

    const revocations = props.revocations?.table;
    if (revocations) {
      // It reads the list (to remove a revoked holder's PATs) but is not a vending function: it never refuses.
      sweeper.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['dynamodb:Scan'], resources: [revocations.tableArn] }),
      );
      sweeper.addEnvironment('TOKEN_VENDOR_REVOCATION_TABLE', revocations.tableName);
      sweeper.addToRolePolicy(streamRead(revocations));
      const wake = new lambda.EventSourceMapping(this, 'RevocationsWakeSweeper', {
        target: sweeper,
        eventSourceArn: revocations.tableStreamArn!,
        startingPosition: lambda.StartingPosition.LATEST,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(1),
        // A sweep that fails is run again by the schedule: the stream only makes it sooner.
        retryAttempts: 2,
        maxRecordAge: Duration.hours(1),
        // Without EventSourceMapping's own grant (kms:ReEncrypt* and kms:GenerateDataKey* wildcards).
        onFailure: { bind: () => ({ destination: props.deadLetters.queueArn }) },
      });
      wake.node.addDependency(sweeper.role!);
    }

    this.schedule = new events.Rule(this, 'SweepSchedule', {
      description: 'Token Vendor: remove the programmatic access tokens whose lease ended',
      schedule: events.Schedule.rate(Duration.minutes(props.config.pats.sweepMinutes)),
      targets: [
        new targets.LambdaFunction(sweeper, { retryAttempts: 2, deadLetterQueue: props.deadLetters }),
      ],
    });
  }
}
