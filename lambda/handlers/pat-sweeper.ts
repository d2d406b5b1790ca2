import type { Metrics } from '@aws-lambda-powertools/metrics';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { AuditLog } from '../audit/audit-log';
import { stackTag } from '../pat/names';
import { type Removal, sweepPats, type UserSweep } from '../pat/sweeper';
import { auditLog, defaultRuntime, metrics, patNamespace, type Runtime } from '../runtime';
import { RevocationList, readRevocationTable } from '../vending/revocations';
import { deadlineOf } from './invocation';

/** Metric names of the PAT sweeper (namespace `TokenVendor`), shared with the CDK alarms. */
export const PatMetric = {
  PatsRemoved: 'PatsRemoved',
  PatOrphansRemoved: 'PatOrphansRemoved',
  PatSweepErrors: 'PatSweepErrors',
  /** The most PATs any one PAT user holds after the sweep (Snowflake allows 15). */
  PatsHeldMax: 'PatsHeldMax',
} as const;

export interface PatSweeperDeps {
  readonly runtime: () =>
    | Pick<Runtime, 'config' | 'connection' | 'patLeases' | 'revocationTable'>
    | Promise<Pick<Runtime, 'config' | 'connection' | 'patLeases' | 'revocationTable'>>;
  readonly audit: AuditLog;
  /** EMF metrics; omitted by the local stack, which has no CloudWatch to send them to. */
  readonly metrics?: Metrics;
  readonly now?: () => number;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** What one sweep did: each PAT user's tokens after it. */
export interface SweepResult {
  readonly users: readonly UserSweep[];
}

/**
 * The PAT sweeper: on its schedule (EventBridge, every `pats.sweepMinutes`), and at once on any change to
 * the revocation list (its DynamoDB stream), it removes this stack's PATs whose lease ended, whose holder
 * or target is revoked, or that no lease names (pat/sweeper.ts). Each removal is an audit record
 * (`pat.removed`, with the token's one-way id, never the token); the sweep is one more (`pat.swept`).
 *
 * @example
 * ```ts
 * export const handler = createPatSweeperHandler({ runtime: defaultRuntime, audit, metrics });
 * ```
 */
export function createPatSweeperHandler(deps: PatSweeperDeps) {
  const now = deps.now ?? Date.now;
  const handler = middy<unknown, SweepResult, Error, Context>();
  if (deps.metrics) handler.use(logMetrics(deps.metrics));
  return handler.handler(async (event, context) => {
    const started = now();
    const trigger = isStreamEvent(event) ? 'revocation-list' : 'schedule';
    const requestId = context.awsRequestId ?? 'unknown';
    const runtime = await deps.runtime();
    const deadline = deadlineOf(context, started);
    const users: UserSweep[] = [];
    if (runtime.patLeases) {
      const table = runtime.revocationTable;
      const leases = await runtime.patLeases();
      users.push(
        ...(await sweepPats({
          config: runtime.config,
          leases,
          sql: (name) => runtime.connection(name).sql,
          tag: stackTag(patNamespace({ env: deps.env ?? process.env })),
          deadline,
          now,
          // Read now, in full: the entry that woke this sweep must be in it.
          ...(table
            ? {
                revocations: async () =>
                  new RevocationList(
                    await readRevocationTable(await table.client(), table.tableName, now),
                    runtime.config,
                    now(),
                    // As the vending functions taint: a token made before every container saw the entry
                    runtime.config.revocations.refreshSeconds * 1000 + 2000,
                  ),
              }
            : {}),
          onRemoved: (removal) => deps.audit.write(removalRecord(removal, trigger, requestId, now())),
        })),
      );
    }
    const removed = users.flatMap((u) => u.removed);
    const errors = users.flatMap((u) => u.errors);
    deps.metrics?.addMetric(PatMetric.PatsRemoved, MetricUnit.Count, removed.length);
    deps.metrics?.addMetric(
      PatMetric.PatOrphansRemoved,
      MetricUnit.Count,
      removed.filter((r) => r.reason === 'orphan').length,
    );
    deps.metrics?.addMetric(PatMetric.PatSweepErrors, MetricUnit.Count, errors.length);
    deps.metrics?.addMetric(
      PatMetric.PatsHeldMax,
      MetricUnit.Count,
      Math.max(0, ...users.map((u) => u.counted)),
    );
    deps.audit.write({
      event: 'pat.swept',
      time: new Date(started).toISOString(),
      requestId,
      trigger,
      durationMs: now() - started,
      ...(errors.length > 0
        ? { errorCode: 'PAT_SWEEP_FAILED', errorDetail: errors.join('; ').slice(0, 2000) }
        : {}),
      detail: {
        users: users.map(({ connection, user, counted, leased, removed: r, errors: e }) => ({
          connection,
          user,
          counted,
          leased,
          removed: r.length,
          errors: e.length,
        })),
      },
    });
    return { users };
  });
}

function removalRecord(
  removal: Removal,
  trigger: 'schedule' | 'revocation-list',
  requestId: string,
  at: number,
) {
  return {
    event: 'pat.removed' as const,
    time: new Date(at).toISOString(),
    requestId,
    trigger,
    tokenType: 'pat',
    ...(removal.holder ? { principalArn: removal.holder } : {}),
    ...(removal.tokenId ? { tokenId: removal.tokenId } : {}),
    ...(removal.leaseEnd !== undefined ? { expiresAt: new Date(removal.leaseEnd).toISOString() } : {}),
    durationMs: 0,
    detail: {
      reason: removal.reason,
      connection: removal.connection,
      user: removal.user,
      tokenName: removal.name,
    },
  };
}

function isStreamEvent(event: unknown): boolean {
  const records = (event as { Records?: unknown })?.Records;
  return (
    Array.isArray(records) &&
    records.some((r) => (r as { eventSource?: unknown })?.eventSource === 'aws:dynamodb')
  );
}

/** The Lambda entry point: the EventBridge schedule and the revocation table's stream. */
export const handler = createPatSweeperHandler({ runtime: defaultRuntime, audit: auditLog, metrics });
