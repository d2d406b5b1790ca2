import { TokenVendorError } from './errors';

/** A caller's own deadline passed while it waited for a call another caller started. */
export class DeadlineExceededError extends TokenVendorError {
  constructor(message = 'The deadline passed while waiting for an in-flight call.') {
    super('DEADLINE_EXCEEDED', message);
  }
}

/**
 * One in-flight call per key: concurrent callers for the same key share the first caller's promise
 * instead of starting their own. Errors are not cached (the key is free again as soon as the call
 * settles, so the next caller tries afresh), and each caller may bound its own wait with a deadline
 * without cancelling the shared call. Every "wait for the one call already running" in the project
 * goes through this class: the vending cache, the key cache, the OAuth client secret, the client.
 *
 * @example
 * ```ts
 * const flights = new SingleFlight<string, Token>();
 * const { value, joined } = await flights.run(key, () => mint(key), { deadline });
 * ```
 */
export class SingleFlight<K, V> {
  readonly #inflight = new Map<K, Promise<V>>();

  /** Run `call` for `key`, or join the call already running for it. */
  async run(
    key: K,
    call: () => Promise<V>,
    options: { readonly deadline?: number; readonly now?: () => number } = {},
  ): Promise<{ value: V; joined: boolean }> {
    const running = this.#inflight.get(key);
    if (running) return { value: await withDeadline(running, options.deadline, options.now), joined: true };
    const started = Promise.resolve().then(call);
    this.#inflight.set(key, started);
    const settle = () => {
      if (this.#inflight.get(key) === started) this.#inflight.delete(key);
    };
    started.then(settle, settle);
    return { value: await started, joined: false };
  }

  /** Forget the call running for `key`: later callers start a new one (the running one still settles). */
  forget(key: K): void {
    this.#inflight.delete(key);
  }

  /** Calls in flight (for tests and metrics). */
  get size(): number {
    return this.#inflight.size;
  }
}

function withDeadline<V>(promise: Promise<V>, deadline: number | undefined, now = Date.now): Promise<V> {
  if (deadline === undefined) return promise;
  const remaining = deadline - now();
  if (remaining <= 0) return Promise.reject(new DeadlineExceededError());
  return new Promise<V>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DeadlineExceededError()), remaining);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
