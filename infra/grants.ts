import { Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { KeySource } from '../lambda/config/schema';
import { kmsKeyResource, secretResource } from './arns';

/** A secret the functions read, and the customer-managed key it is encrypted with, if any. */
export interface SecretRef {
  readonly secretId: string;
  readonly kmsKeyId?: string;
}

/** The same word in PascalCase: construct ids (`rotation-check` → `RotationCheck`). */
export function pascal(value: string): string {
  return value.replace(/(^|[-_.\s]+)(\w)/g, (_m, _s, c: string) => c.toUpperCase());
}

/** GetSecretValue on exactly the key (and client) secrets, kms:Sign/GetPublicKey on exactly the KMS keys. */
export function grantKeySources(
  f: lambda.Function,
  keys: readonly KeySource[],
  clientSecrets: readonly SecretRef[],
  describeKms: boolean,
): void {
  const refs: SecretRef[] = [
    ...keys.flatMap((k) => ('secretsManager' in k ? [k.secretsManager] : [])),
    ...clientSecrets,
  ];
  const secrets = [...new Set(refs.map((r) => r.secretId))];
  if (secrets.length > 0) {
    f.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: secrets.map((s) => secretResource(f, s)),
      }),
    );
  }
  grantSecretKeys(f, refs, ['kms:Decrypt']);
  const kmsKeys = [...new Set(keys.flatMap((k) => ('kms' in k ? [k.kms.keyId] : [])))];
  const actions = ['kms:Sign', 'kms:GetPublicKey', ...(describeKms ? ['kms:DescribeKey'] : [])];
  for (const keyId of kmsKeys) {
    const { resource, aliasCondition } = kmsKeyResource(f, keyId);
    f.addToRolePolicy(
      new iam.PolicyStatement({
        actions,
        resources: [resource],
        ...(aliasCondition
          ? { conditions: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': aliasCondition } } }
          : {}),
      }),
    );
  }
}

/** The customer-managed keys of `secrets`, usable only through Secrets Manager in this region. */
export function grantSecretKeys(f: lambda.Function, secrets: readonly SecretRef[], actions: string[]): void {
  const stack = Stack.of(f);
  const keyIds = [...new Set(secrets.flatMap((s) => (s.kmsKeyId ? [s.kmsKeyId] : [])))];
  for (const keyId of keyIds) {
    const { resource, aliasCondition } = kmsKeyResource(f, keyId);
    f.addToRolePolicy(
      new iam.PolicyStatement({
        actions,
        resources: [resource],
        conditions: {
          StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.amazonaws.com` },
          ...(aliasCondition
            ? { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': aliasCondition } }
            : {}),
        },
      }),
    );
  }
}

/**
 * A KMS key used through DynamoDB only (a table encrypted with it): the statement that lets a principal
 * read or write the table's items without letting it use the key for anything else.
 */
export function keyThroughDynamoDb(key: kms.IKey, actions: string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions,
    resources: [key.keyArn],
    conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(key).region}.amazonaws.com` } },
  });
}

/**
 * Reading a table's stream (an event source mapping's function): exact actions on the stream, not
 * `Table.grantStreamRead`, which adds an unconditional `kms:Decrypt` on the table's key.
 */
export function streamRead(table: dynamodb.ITable): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions: [
      'dynamodb:DescribeStream',
      'dynamodb:GetRecords',
      'dynamodb:GetShardIterator',
      'dynamodb:ListStreams',
    ],
    resources: [table.tableStreamArn!],
  });
}

/**
 * Sending to a queue encrypted under `key`: exact actions, and the key only through SQS
 * (`grantSendMessages` would add `kms:GenerateDataKey*` and `kms:ReEncrypt*` wildcards).
 */
export function grantSendTo(f: lambda.IFunction, queue: sqs.IQueue, key: kms.IKey): void {
  f.addToRolePolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
  f.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `sqs.${Stack.of(f).region}.amazonaws.com` } },
    }),
  );
}

/** A function's dead-letter queue (encrypted under `key`) for the asynchronous invokes that fail. */
export function deadLetterTo(f: lambda.Function, queue: sqs.IQueue, key: kms.IKey): void {
  (f.node.defaultChild as lambda.CfnFunction).deadLetterConfig = { targetArn: queue.queueArn };
  grantSendTo(f, queue, key);
}
