import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { attributesOf, entryFromItem, isActive, type Revocation } from '../vending/revocations';
import { type AuditEvent, type AuditRecord, clean } from './record';

/**
 * One audit record for each change to the revocation list, whoever made it: `token-vendor revoke`, the
 * console, or anyone else with write access to the table. The deployed stack feeds the table's stream
 * (new and old images) to the `revocation-audit` function; the local stack feeds the same records from its
 * dynalite proxy (dev/local/revocation-table.ts).
 *
 * | change | event |
 * |---|---|
 * | a new entry, or a lifted or ended one made active again | `<kind>.revoked` |
 * | an active entry lifted (`unrevoke`) | `<kind>.unrevoked` |
 * | a connection's key replaced (`rotate-now`'s `rekey` entry, for a new version) | `key.rekeyed` |
 * | any other change to an entry (its reason, its end, the old key's removal recorded) | `revocation.changed` |
 * | an entry deleted: by its TTL (`removedBy: ttl`), or by a table writer (the operator role cannot) | `revocation.removed` |
 * | an item that is no entry (it matches nothing; someone wrote it by hand) | `revocation.unreadable` |
 *
 * `<kind>` is the entry's: `principal`, `account`, `target` or `principal-target`. `detail.by` is the
 * identity the entry names, as its writer wrote it: the CLI writes the operator's own (STS), but a table
 * writer can write any. The authenticated identity of a write is in CloudTrail's DynamoDB data events.
 */
export type ListChangeEvent = Extract<
  AuditEvent,
  | `${'principal' | 'account' | 'target' | 'principal-target'}.${'revoked' | 'unrevoked'}`
  | 'key.rekeyed'
  | `revocation.${'changed' | 'removed' | 'unreadable'}`
>;

/** At most this many changed attribute names are listed (a hand-written item may have hundreds). */
const MAX_CHANGED = 20;

/**
 * The audit record of one stream record. It never throws: a record it cannot read (no images, no keys)
 * is itself reported, as `revocation.unreadable`.
 */
export function listChange(record: DynamoDBRecord, now: () => number = Date.now): AuditRecord {
  const stream = record.dynamodb ?? {};
  const oldItem = stream.OldImage as Record<string, AttributeValue> | undefined;
  const newItem = stream.NewImage as Record<string, AttributeValue> | undefined;
  const keys = (stream.Keys ?? newItem ?? oldItem) as Record<string, AttributeValue> | undefined;
  const changedAt =
    typeof stream.ApproximateCreationDateTime === 'number'
      ? stream.ApproximateCreationDateTime * 1000
      : now();
  const base = {
    time: new Date(Number.isFinite(changedAt) ? changedAt : now()).toISOString(),
    requestId: clean(record.eventID, 128) ?? 'unknown',
    trigger: 'revocation-list' as const,
    durationMs: 0,
  };
  const pk = clean(keys ? attributesOf(keys).str('pk') : undefined, 700) ?? 'unknown';
  const before = entryFromItem(oldItem);
  const after = entryFromItem(newItem);
  const event = (name: ListChangeEvent, detail: Record<string, unknown>): AuditRecord => ({
    ...base,
    event: name,
    detail: { pk, ...detail },
  });

  if (record.eventName === 'REMOVE' || (!newItem && oldItem)) {
    const identity = record.userIdentity as { type?: unknown; principalId?: unknown } | undefined;
    const byTtl = identity?.type === 'Service' && identity.principalId === 'dynamodb.amazonaws.com';
    return event('revocation.removed', {
      removedBy: byTtl ? 'ttl' : 'table-writer',
      ...(before ? { entry: describe(before, oldItem!) } : {}),
    });
  }
  if (!after || !newItem)
    return event('revocation.unreadable', {
      itemKind: clean(newItem ? attributesOf(newItem).str('kind') : undefined, 64) ?? 'none',
      why: 'the item is no entry of any kind (a missing or malformed principal, target, account or connection): it matches nothing and taints nothing',
      ...(before ? { replaced: describe(before, oldItem!) } : {}),
    });

  const entry = describe(after, newItem);
  const { kind } = after.scope;
  if (kind === 'rekey') {
    const version = (item?: Record<string, AttributeValue>) =>
      item ? attributesOf(item).str('version') : undefined;
    return before?.scope.kind === 'rekey' && version(oldItem) === version(newItem)
      ? event('revocation.changed', { entry, changed: changedAttributes(oldItem, newItem) })
      : event('key.rekeyed', { entry });
  }
  const wasActive = before !== undefined && before.scope.kind === kind && isActive(before, changedAt);
  if (!wasActive && isActive(after, changedAt)) return event(`${kind}.revoked`, { entry });
  if (wasActive && after.liftedAt !== undefined) return event(`${kind}.unrevoked`, { entry });
  return event('revocation.changed', { entry, changed: changedAttributes(oldItem, newItem) });
}

/** An entry as the audit record shows it: its scope, reason, who and when, in ISO times. */
function describe(e: Revocation, item: Record<string, AttributeValue>): Record<string, unknown> {
  const iso = (ms: number | undefined) =>
    ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15
      ? undefined
      : new Date(ms).toISOString();
  const { str } = attributesOf(item);
  return {
    ...e.scope,
    reason: e.reason,
    by: clean(e.by, 2048),
    ...(iso(e.at) ? { at: iso(e.at) } : {}),
    ...(iso(e.until) ? { until: iso(e.until) } : {}),
    ...(iso(e.liftedAt) ? { liftedAt: iso(e.liftedAt) } : {}),
    ...(str('liftedBy') ? { liftedBy: clean(str('liftedBy'), 2048) } : {}),
    ...(e.scope.kind === 'rekey' && str('version') ? { version: clean(str('version'), 128) } : {}),
  };
}

/** The names of the attributes that differ between the two images (bounded, cleaned). */
function changedAttributes(
  oldItem: Record<string, AttributeValue> | undefined,
  newItem: Record<string, AttributeValue>,
): string[] {
  const names = new Set([...Object.keys(oldItem ?? {}), ...Object.keys(newItem)]);
  const changed = [...names]
    .filter((n) => JSON.stringify(oldItem?.[n]) !== JSON.stringify(newItem[n]))
    .sort()
    .map((n) => clean(n, 64)!);
  return changed.length > MAX_CHANGED ? [...changed.slice(0, MAX_CHANGED), '…'] : changed;
}
