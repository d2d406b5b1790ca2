import { SingleFlight } from '../single-flight';
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
  readonly #flight = new SingleFlight<'key', SigningKey>();
  #generation = 0;

  constructor(
    private readonly load: () => Promise<SigningKey>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async get(): Promise<SigningKey> {
    const value = this.#value;
    if (value && this.now() - value.loadedAt < this.ttlMs) return value.key;
    const generation = this.#generation;
    const { value: key } = await this.#flight.run('key', async () => {
      const loaded = await this.load();
      // An invalidate() during the load means the caller wants material read after it: drop this one.
      if (generation === this.#generation) this.#value = { key: loaded, loadedAt: this.now() };
      return loaded;
    });
    return key;
  }

  /**
   * Forget the cached key; the next `get()` loads afresh. With `loadedBefore`, only a key loaded before
   * that moment is forgotten (a load in flight is, since it may have read the old material).
   */
  invalidate(loadedBefore?: number): void {
    if (loadedBefore !== undefined && this.#value && this.#value.loadedAt >= loadedBefore) return;
    this.#generation += 1;
    this.#value = undefined;
    this.#flight.forget('key');
  }
}
