import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadDynamoDb } from '../aws/sdk';
import type { SqlApiClient } from '../snowflake/sql-api';
import { describeUserKeys, type KeySlot, slotOf, unsetUserKey } from '../snowflake/user-keys';
import { attributesOf, revocationKey } from '../vending/revocations';
import { RotationError } from './rotate';

/**
 * `token-vendor rotate-now`: a rotation whose last step also removes the old key from Snowflake, so JWTs
 * signed with it stop working (incident response: a key-pair JWT cannot be revoked any other way).
 *
 * A scheduled rotation leaves the old key registered until the next one: containers that still hold it
 * keep working. Removing it at once is safe only after every container has stopped using it, so the
 * rotate-key function, once `AWSCURRENT` has moved:
 *
 * 1. writes a `rekey` entry for the connection into the revocation list: within the list's refresh
 *    every container reads the key again and stops serving the JWTs it signed with the old one;
 * 2. waits that long (refresh + 2 s);
 * 3. removes the slot that does not hold the new key (`ALTER USER … UNSET RSA_PUBLIC_KEY[_2]`), signed
 *    in with the new key;
 * 4. records the removal on the entry, where `rotate-now` reads it.
 *
 * A rotation is a rotate-now when Secrets Manager's `ClientRequestToken` (the new version's id, which
 * the CLI chooses in `RotateSecret`) starts with {@link ROTATE_NOW_PREFIX}.
 */
export const ROTATE_NOW_PREFIX = 'rotate-now-';

export const isRotateNow = (clientRequestToken: string) => clientRequestToken.startsWith(ROTATE_NOW_PREFIX);

/** How long after the `rekey` entry every container has applied it: the list's refresh + 2 s of clock skew. */
export const settleMs = (refreshSeconds: number) => refreshSeconds * 1000 + 2000;

/** The revocation list's table as a writer sees it. */
export interface ListTable {
  readonly client: DynamoDBClient;
  readonly tableName: string;
}

/** A connection's `rekey` entry, as rotate-now reads it back. */
export interface Rekey {
  readonly connection: string;
  /** The new key's version (the rotation's `ClientRequestToken`). */
  readonly version: string;
  readonly at: number;
  readonly by: string;
  /** Set once the old key is removed (or found already gone). */
  readonly removedAt?: number;
  readonly removedSlot?: KeySlot;
  readonly removedFingerprint?: string;
  /** Why the old key could not be removed yet (the function tries again with Secrets Manager's retry). */
  readonly error?: string;
}

/** Write (or replace) the connection's `rekey` entry. */
export async function announceRekey(
  table: ListTable,
  entry: { connection: string; version: string; at: number; by: string },
): Promise<void> {
  const { PutItemCommand } = await loadDynamoDb();
  await table.client.send(
    new PutItemCommand({
      TableName: table.tableName,
      Item: {
        pk: { S: revocationKey({ kind: 'rekey', connection: entry.connection }) },
        kind: { S: 'rekey' },
        connection: { S: entry.connection },
        version: { S: entry.version },
        at: { N: String(entry.at) },
        by: { S: entry.by },
        reason: { S: `rotate-now: the key of connection ${entry.connection} was replaced` },
        // Its work is done within seconds (JWTs live at most an hour); the table's TTL removes it later.
        ttl: { N: String(Math.ceil(entry.at / 1000) + 2 * 24 * 3600) },
      },
    }),
    { abortSignal: AbortSignal.timeout(2000) },
  );
}

/** Record on the entry (for this version only) that the old key is gone, or why it is not yet. */
export async function recordRemoval(
  table: ListTable,
  connection: string,
  version: string,
  outcome: { at: number; slot?: KeySlot; fingerprint?: string } | { error: string },
): Promise<void> {
  const { UpdateItemCommand } = await loadDynamoDb();
  const values: Record<string, AttributeValue> =
    'error' in outcome
      ? { ':e': { S: outcome.error.slice(0, 500) } }
      : {
          ':t': { N: String(outcome.at) },
          ...(outcome.slot ? { ':s': { N: String(outcome.slot) } } : {}),
          ...(outcome.fingerprint ? { ':f': { S: outcome.fingerprint } } : {}),
        };
  const set =
    'error' in outcome
      ? 'SET #error = :e'
      : `SET removedAt = :t${outcome.slot ? ', removedSlot = :s' : ''}${outcome.fingerprint ? ', removedFingerprint = :f' : ''} REMOVE #error`;
  await table.client.send(
    new UpdateItemCommand({
      TableName: table.tableName,
      Key: { pk: { S: revocationKey({ kind: 'rekey', connection }) } },
      UpdateExpression: set,
      ConditionExpression: 'version = :v',
      ExpressionAttributeNames: { '#error': 'error' },
      ExpressionAttributeValues: { ':v': { S: version }, ...values },
    }),
    { abortSignal: AbortSignal.timeout(2000) },
  );
}

/** The connection's `rekey` entry, or undefined when there is none (or it is not one). */
export async function readRekey(table: ListTable, connection: string): Promise<Rekey | undefined> {
  const { GetItemCommand } = await loadDynamoDb();
  const answer = await table.client.send(
    new GetItemCommand({
      TableName: table.tableName,
      Key: { pk: { S: revocationKey({ kind: 'rekey', connection }) } },
      ConsistentRead: true,
    }),
    { abortSignal: AbortSignal.timeout(2000) },
  );
  if (!answer.Item) return undefined;
  const { str, num } = attributesOf(answer.Item);
  const version = str('version');
  const at = num('at');
  if (str('kind') !== 'rekey' || str('connection') !== connection || !version || at === undefined)
    return undefined;
  const slot = num('removedSlot');
  return {
    connection,
    version,
    at,
    by: str('by') ?? 'unknown',
    ...(num('removedAt') === undefined ? {} : { removedAt: num('removedAt')! }),
    ...(slot === 1 || slot === 2 ? { removedSlot: slot } : {}),
    ...(str('removedFingerprint') ? { removedFingerprint: str('removedFingerprint')! } : {}),
    ...(str('error') ? { error: str('error')! } : {}),
  };
}

/**
 * Remove the user's other key: the slot that does not hold `keep`. Refuses (changing nothing) when `keep`
 * is not registered, since then the other slot may be the one the vendor signs in with. Returns the
 * removed slot and fingerprint, or undefined when the other slot was already empty.
 */
export async function removeOtherKey(
  sql: SqlApiClient,
  user: string,
  keep: string,
  options: { deadline?: number } = {},
): Promise<{ slot: KeySlot; fingerprint: string } | undefined> {
  const keys = await describeUserKeys(sql, user, options);
  const kept = slotOf(keys, keep);
  if (!kept)
    throw new RotationError(
      `The new key (${keep}) is not registered for ${user.toUpperCase()}; the other key is kept so the vendor can still sign in.`,
    );
  const other: KeySlot = kept === 1 ? 2 : 1;
  const removed = keys.slots[other];
  if (!removed) return undefined;
  await unsetUserKey(sql, user, other, options);
  return { slot: other, fingerprint: removed.fingerprint };
}
