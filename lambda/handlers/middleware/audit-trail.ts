import type { Metrics } from '@aws-lambda-powertools/metrics';
import type middy from '@middy/core';
import type { AuditLog } from '../../audit/audit-log';
import { recordMetrics } from '../../audit/metrics';
import { type AuditRecord, type AuditTrigger, clean } from '../../audit/record';
import { publicError } from '../../vending/public-error';
import { describeTarget } from '../../vending/request';
import { invocationOf } from '../invocation';

/**
 * For an unexpected error: its name and where it was thrown (`TypeError at vendor.ts:88`), never its
 * message, which may quote anything (a library's error can carry a URL or a header).
 */
function internalCause(error: unknown): string {
  if (!(error instanceof Error)) return 'INTERNAL';
  const frame = error.stack?.split('\n').find((line) => line.trim().startsWith('at '));
  const location = frame ? /([^/\\(:]+:\d+)(?::\d+)?\)?$/.exec(frame.trim())?.[1] : undefined;
  return location ? `${error.name} at ${location}` : error.name;
}

export interface AuditTrailOptions {
  readonly audit: AuditLog;
  /** When given, each record also becomes EMF metrics. */
  readonly metrics?: Metrics;
  readonly trigger: AuditTrigger;
  readonly now?: () => number;
}

const defaults = { now: Date.now };

/**
 * One audit record (and its metrics) per request, whatever the outcome: `token.issued` after a
 * success, `token.denied` for NOT_AUTHORIZED and REVOKED, `token.failed` for anything else. Runs before the
 * error mapper so it sees the original error.
 *
 * @example
 * ```ts
 * middy(handler).use(auditTrail({ audit, metrics, trigger: 'http' }));
 * ```
 */
export function auditTrail(options: AuditTrailOptions): middy.MiddlewareObj {
  const { audit, metrics, trigger, now } = { ...defaults, ...options };

  const base = (request: middy.Request) => {
    const invocation = invocationOf(request.context, trigger, now);
    const caller = invocation.caller;
    return {
      invocation,
      record: {
        time: new Date(invocation.startedAt).toISOString(),
        requestId: invocation.requestId,
        trigger,
        ...(caller?.kind === 'http'
          ? { principalArn: caller.principalArn, sourceIp: caller.sourceIp, userAgent: caller.userAgent }
          : {}),
        ...(invocation.request
          ? { tokenType: invocation.request.tokenType, target: describeTarget(invocation.request) }
          : {}),
        durationMs: now() - invocation.startedAt,
      },
    };
  };

  return {
    before: (request) => {
      invocationOf(request.context, trigger, now);
    },
    after: (request) => {
      const { invocation, record } = base(request);
      const outcome = invocation.outcome;
      const full: AuditRecord = {
        event: 'token.issued',
        ...record,
        ...(outcome
          ? {
              resolved: outcome.audit.resolved,
              cache: outcome.audit.cache,
              issuedAt: outcome.audit.issuedAt.toISOString(),
              expiresAt: outcome.audit.expiresAt.toISOString(),
              tokenId: outcome.audit.tokenId,
              statementHandle: outcome.audit.statementHandle,
              snowflakeRequestId: outcome.audit.snowflakeRequestId,
              snowflakeAuth: outcome.audit.snowflakeAuth,
              upstreamMs: outcome.audit.upstreamMs,
            }
          : {}),
      };
      audit.write(full);
      if (metrics) recordMetrics(metrics, full);
    },
    onError: (request) => {
      const { record } = base(request);
      const mapped = publicError(request.error);
      const full: AuditRecord = {
        event:
          mapped.code === 'NOT_AUTHORIZED' || mapped.code === 'REVOKED' ? 'token.denied' : 'token.failed',
        ...record,
        errorCode: mapped.code,
        errorCause: mapped.code === 'INTERNAL' ? internalCause(request.error) : mapped.cause,
        errorMessage: mapped.message,
        ...(mapped.detail !== mapped.message ? { errorDetail: clean(mapped.detail, 1024) } : {}),
        ...(request.error && 'statementHandle' in request.error
          ? { statementHandle: String(request.error.statementHandle) }
          : {}),
      };
      audit.write(full);
      if (metrics) recordMetrics(metrics, full);
    },
  };
}
