/**
 * The one retry policy of the project: attempts, full-jitter exponential backoff, a deadline, which
 * answers are worth another try, and `Retry-After`. The SQL API client, the OAuth token endpoint and the
 * client all decide their waits here.
 */
export interface RetryPolicy {
  /** Attempts at most, the first included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 3000 };

/** HTTP statuses worth another try: throttling and server-side failures. */
const RETRIABLE_STATUSES = new Set([429, 500, 502, 503, 504]);

/** Is an HTTP status worth another try? (Network errors, status 0 here, always are.) */
export function isRetriableStatus(status: number): boolean {
  return status === 0 || RETRIABLE_STATUSES.has(status);
}

/** Why no further attempt is made. */
export type GiveUp = 'exhausted' | 'deadline';

/**
 * The wait before attempt `attempt + 1` after attempt `attempt` failed, or why there is none: the
 * server's `Retry-After` when it gave one, otherwise a random fraction of the exponential step
 * (full jitter, so a fleet does not retry in lockstep); never a wait that ends past the deadline.
 *
 * @example
 * ```ts
 * const next = nextDelay(policy, { attempt: 2, deadline, now: Date.now(), random: Math.random });
 * if ('giveUp' in next) throw …; else await sleep(next.delayMs);
 * ```
 */
export function nextDelay(
  policy: RetryPolicy,
  state: {
    readonly attempt: number;
    readonly deadline: number;
    readonly now: number;
    readonly random: () => number;
    readonly retryAfterMs?: number;
  },
): { readonly delayMs: number } | { readonly giveUp: GiveUp } {
  if (state.attempt >= policy.maxAttempts) return { giveUp: 'exhausted' };
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (state.attempt - 1));
  const delayMs = state.retryAfterMs ?? Math.round(step * state.random());
  if (state.now + delayMs >= state.deadline) return { giveUp: 'deadline' };
  return { delayMs };
}

/**
 * `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable.
 *
 * @example
 * ```ts
 * parseRetryAfter('3', Date.now()); // 3000
 * ```
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** What one attempt of {@link retrying} produced. */
export type Attempt<T> = { readonly done: T } | { readonly retry: string; readonly retryAfterMs?: number };

/**
 * Run `attempt` until it is done, retrying under `policy` within `deadline`. An attempt throws to stop
 * at once (an answer not worth retrying); `giveUp` builds the error when attempts or time run out, from
 * the last failure's description.
 *
 * @example
 * ```ts
 * const answer = await retrying(async () => ({ done: await call() }), { policy, deadline, giveUp: (last) => new Error(last) });
 * ```
 */
export async function retrying<T>(
  attempt: (n: number) => Promise<Attempt<T>>,
  options: {
    readonly policy: RetryPolicy;
    readonly deadline: number;
    readonly giveUp: (last: string, why: GiveUp, retryAfterMs?: number) => Error;
    readonly now?: () => number;
    readonly sleep?: (ms: number) => Promise<void>;
    readonly random?: () => number;
  },
): Promise<T> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let last = 'no answer';
  for (let n = 1; ; n += 1) {
    if (now() >= options.deadline) throw options.giveUp(last, 'deadline');
    const outcome = await attempt(n);
    if ('done' in outcome) return outcome.done;
    last = outcome.retry;
    const next = nextDelay(options.policy, {
      attempt: n,
      deadline: options.deadline,
      now: now(),
      random: options.random ?? Math.random,
      ...(outcome.retryAfterMs === undefined ? {} : { retryAfterMs: outcome.retryAfterMs }),
    });
    if ('giveUp' in next) throw options.giveUp(last, next.giveUp, outcome.retryAfterMs);
    await sleep(next.delayMs);
  }
}
