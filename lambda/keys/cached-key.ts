import type { SigningKey } from './signer';

/**
 * A signing key loaded once, kept for `ttlMs`, and reloaded by a single in-flight load when it
 * expires or is invalidated. A failed load is not cached: the next caller tries again.
 *
 * @example
 * ```ts
 * const cache = new CachedKey(() => readKeyFromSecret(), 5 * 60_000);
 * const key = await cache.get();
 * ```
 */
export class CachedKey {
  #value: { key: SigningKey; loadedAt: number } | undefined;
  #inflight: Promise<SigningKey> | undefined;
  #generation = 0;

  constructor(
    private readonly load: () => Promise<SigningKey>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<SigningKey> {
    const value = this.#value;
    if (value && this.now() - value.loadedAt < this.ttlMs) return Promise.resolve(value.key);
    if (this.#inflight) return this.#inflight;
    const generation = this.#generation;
    const inflight = this.load().then((key) => {
      // An invalidate() during the load means the caller wants material read after it: drop this one.
      if (generation === this.#generation) this.#value = { key, loadedAt: this.now() };
      return key;
    });
    this.#inflight = inflight;
    const clear = () => {
      if (this.#inflight === inflight) this.#inflight = undefined;
    };
    inflight.then(clear, clear);
    return inflight;
  }

  /** Forget the cached key; the next `get()` loads afresh. */
  invalidate(): void {
    this.#generation += 1;
    this.#value = undefined;
    this.#inflight = undefined;
  }
}
