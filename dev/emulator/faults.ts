/**
 * Faults the emulator can be told to produce for its next answers. Each applies to the next `times`
 * requests to `/api/v2/statements…` (submissions and polls alike), in the order they were queued.
 */
export type Fault =
  /** 429 Too Many Requests, with a `Retry-After` header when `retryAfterSeconds` is given. */
  | { readonly kind: 'throttle'; readonly retryAfterSeconds?: number }
  /** A 5xx. With `afterExecute`, a submission runs first and only its answer is lost. */
  | { readonly kind: 'server-error'; readonly status: 500 | 502 | 503 | 504; readonly afterExecute?: boolean }
  /** The submission runs but answers 202, and the next `polls` polls answer 202 too before the result. */
  | { readonly kind: 'async'; readonly polls: number }
  /** Wait `ms` before answering normally. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Destroy the connection without answering. With `afterExecute`, the submission runs first. */
  | { readonly kind: 'drop'; readonly afterExecute?: boolean }
  /** Answer 200 with a body that is not JSON. With `afterExecute`, the submission runs first. */
  | { readonly kind: 'malformed'; readonly afterExecute?: boolean }
  /** 408: the statement reached its timeout and was cancelled. */
  | { readonly kind: 'statement-timeout' };

/** A FIFO of faults, each with a remaining count. */
export class FaultQueue {
  readonly #queue: { fault: Fault; remaining: number }[] = [];

  /** Make the next `times` answers (after any already queued) show `fault`. */
  push(fault: Fault, times = 1): void {
    if (times > 0) this.#queue.push({ fault, remaining: times });
  }

  /** Take the fault for the current request, if any. */
  take(): Fault | undefined {
    const head = this.#queue[0];
    if (!head) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) this.#queue.shift();
    return head.fault;
  }

  clear(): void {
    this.#queue.length = 0;
  }

  get pending(): number {
    return this.#queue.reduce((n, f) => n + f.remaining, 0);
  }
}
