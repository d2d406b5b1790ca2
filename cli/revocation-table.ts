import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadDynamoDb } from '../lambda/aws/sdk';
import { revocationPrincipal } from '../lambda/vending/principal';
import {
  cleanReason,
  entryFromItem,
  type Revocation,
  type RevocationScope,
  revocationKey,
  targetKeyOf,
} from '../lambda/vending/revocations';
import { UsageError } from './errors';

/** How long an entry stays in the table after it ends or is lifted: its taint outlives every token. */
export const KEEP_AFTER_END_MS = 2 * 24 * 3600 * 1000;

/** What an operator names on the command line: exactly one of principal, account, target, or principal + target. */
export interface ScopeFlags {
  readonly principal?: string | undefined;
  readonly account?: string | undefined;
  readonly target?: string | undefined;
}

/**
 * The entry's scope from the flags, refusing what would not do what the operator means: a session ARN
 * (revoking one session leaves the role's others, and new ones, served: name the role), a look-alike
 * (spaces, control or format characters, anything IAM names cannot hold), a target in no known form.
 */
export function scopeOf(flags: ScopeFlags, command: string): RevocationScope {
  const { principal, account, target } = flags;
  if (account !== undefined && (principal !== undefined || target !== undefined))
    throw new UsageError(`${command}: --account stands alone (it covers every principal of the account).`);
  let canonical: string | undefined;
  if (principal !== undefined) {
    if (/^arn:[^:]+:sts::\d{12}:assumed-role\//.test(principal))
      throw new UsageError(
        `${command}: ${JSON.stringify(principal)} is one session of a role; name the role (arn:aws:iam::ACCOUNT:role/NAME), which covers all its sessions.`,
      );
    canonical = revocationPrincipal(principal);
    if (!canonical)
      throw new UsageError(
        `${command}: --principal must be an IAM role or user ARN (arn:aws:iam::ACCOUNT:role/NAME), not ${JSON.stringify(principal)}.`,
      );
  }
  const key = target === undefined ? undefined : targetKeyOf(target);
  if (target !== undefined && !key)
    throw new UsageError(
      `${command}: --target must be postgres:INSTANCE[/USER], snowflake-jwt:CONNECTION or oauth:INTEGRATION, not ${JSON.stringify(target)}.`,
    );
  if (account !== undefined) {
    if (!/^\d{12}$/.test(account)) throw new UsageError(`${command}: --account must be 12 digits.`);
    return { kind: 'account', account };
  }
  if (canonical && key) return { kind: 'principal-target', principal: canonical, target: key };
  if (canonical) return { kind: 'principal', principal: canonical };
  if (key) return { kind: 'target', target: key };
  throw new UsageError(
    `${command}: name what: --principal ARN, --account ID or --target T (or a principal and a target).`,
  );
}

/** An entry as listed: what the vendor reads from it, and its table key. */
export type Listed = Revocation & { readonly pk: string };

/** Where the list is and how to reach it. */
export interface RevocationTable {
  readonly client: DynamoDBClient;
  readonly tableName: string;
}

/** Write (or renew) the entry for `scope`: active from `now`, until `until` if given. */
export async function revoke(
  table: RevocationTable,
  entry: { scope: RevocationScope; reason: string; by: string; now: number; until?: number },
): Promise<Listed> {
  const { PutItemCommand } = await loadDynamoDb();
  const { scope } = entry;
  const pk = revocationKey(scope);
  const item: Record<string, AttributeValue> = {
    pk: { S: pk },
    kind: { S: scope.kind },
    reason: { S: cleanReason(entry.reason) },
    by: { S: entry.by },
    at: { N: String(entry.now) },
    ...('principal' in scope ? { principal: { S: scope.principal } } : {}),
    ...('account' in scope ? { account: { S: scope.account } } : {}),
    ...('target' in scope ? { target: { S: scope.target } } : {}),
    ...(entry.until === undefined
      ? {}
      : {
          until: { N: String(entry.until) },
          ttl: { N: String(Math.ceil((entry.until + KEEP_AFTER_END_MS) / 1000)) },
        }),
  };
  await table.client.send(new PutItemCommand({ TableName: table.tableName, Item: item }));
  return { pk, ...entryFromItem(item)! };
}

/** Lift the entry for `scope` (its taint stays until the table's TTL removes it). */
export async function unrevoke(
  table: RevocationTable,
  lift: { scope: RevocationScope; by: string; now: number },
): Promise<Listed> {
  const { UpdateItemCommand } = await loadDynamoDb();
  const pk = revocationKey(lift.scope);
  try {
    const answer = await table.client.send(
      new UpdateItemCommand({
        TableName: table.tableName,
        Key: { pk: { S: pk } },
        UpdateExpression: 'SET liftedAt = :now, liftedBy = :by, #ttl = :ttl',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: {
          ':now': { N: String(lift.now) },
          ':by': { S: lift.by },
          ':ttl': { N: String(Math.ceil((lift.now + KEEP_AFTER_END_MS) / 1000)) },
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return { pk, ...entryFromItem(answer.Attributes)! };
  } catch (error) {
    if ((error as Error).name === 'ConditionalCheckFailedException')
      throw new UsageError(`unrevoke: there is no revocation for ${pk.replaceAll('|', ' ')}.`);
    throw error;
  }
}

/** Every entry in the table, as the vendor reads them (items that are none are left out). */
export async function listRevocations(table: RevocationTable): Promise<Listed[]> {
  const { ScanCommand } = await loadDynamoDb();
  const out: Listed[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await table.client.send(
      new ScanCommand({
        TableName: table.tableName,
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const item of page.Items ?? []) {
      const entry = entryFromItem(item);
      const pk = item.pk && 'S' in item.pk ? item.pk.S : undefined;
      if (entry && pk) out.push({ pk, ...entry });
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return out.sort((a, b) => (b.at ?? 0) - (a.at ?? 0));
}
