import type { AuditTrigger } from '../audit/record';
import type { Caller, VendRequest } from '../vending/request';
import type { VendOutcome } from '../vending/vendor';

/** What the middlewares and the handler of one invocation share. */
export interface Invocation {
  readonly trigger: AuditTrigger;
  readonly startedAt: number;
  requestId: string;
  caller?: Caller;
  request?: VendRequest;
  outcome?: VendOutcome;
}

/** The Lambda context fields the handlers use. */
export interface InvocationContext {
  readonly awsRequestId?: string;
  getRemainingTimeInMillis?(): number;
}

// Keyed by the Lambda context object: middy hands the same object to middlewares and the handler,
// and Lambda creates one per invocation.
const invocations = new WeakMap<object, Invocation>();

/**
 * The invocation state for a Lambda context, created on first use.
 *
 * @example
 * ```ts
 * const invocation = invocationOf(request.context, 'http', Date.now);
 * ```
 */
export function invocationOf(
  context: InvocationContext,
  trigger: AuditTrigger,
  now: () => number,
): Invocation {
  let invocation = invocations.get(context);
  if (!invocation) {
    invocation = { trigger, startedAt: now(), requestId: context.awsRequestId ?? 'unknown' };
    invocations.set(context, invocation);
  }
  return invocation;
}

/**
 * The deadline of a vend: the Lambda's remaining time minus a margin, so no retry runs the function
 * into its timeout.
 */
export function deadlineOf(context: InvocationContext, now: number, marginMs = 1500): number {
  const remaining =
    typeof context.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : 30_000;
  return now + Math.max(0, remaining - marginMs);
}
