import { SingleFlight } from '../single-flight';

/** Where a vended token came from. */
export type CacheOutcome = 'hit' | 'miss' | 'coalesced';

export interface CachedToken {
  readonly expiresAt: Date;
}

/**
 * The per-container token cache with single-flight: concurrent misses for one key share one mint, a
 * cached token is served only while at least `minRemainingMs` of it is left, and a failed mint is
 * not cached (the next caller mints again). Bounded to `maxEntries`, least recently used first out.
 *
 * @example
 * ```ts
 * const { value, cache } = await tokens.get(key, 600_000, () => mintPostgresAccessToken(sql, names));
 * ```
 */
export class TokenCache {
  readonly #entries = new Map<string, CachedToken>();
  readonly #flights = new SingleFlight<string, CachedToken>();
  readonly #maxEntries: number;
  readonly #enabled: boolean;
  readonly #now: () => number;

  constructor(options: { maxEntries?: number; enabled?: boolean; now?: () => number } = {}) {
    this.#maxEntries = options.maxEntries ?? 1000;
    this.#enabled = options.enabled ?? true;
    this.#now = options.now ?? Date.now;
  }

  async get<T extends CachedToken>(
    key: string,
    minRemainingMs: number,
    mint: () => Promise<T>,
    deadline?: number,
  ): Promise<{ value: T; cache: CacheOutcome }> {
    const cached = this.#entries.get(key);
    if (cached) {
      if (cached.expiresAt.getTime() - this.#now() >= minRemainingMs) {
        this.#entries.delete(key);
        this.#entries.set(key, cached); // most recently used last
        return { value: cached as T, cache: 'hit' };
      }
      this.#entries.delete(key);
    }
    const { value, joined } = await this.#flights.run(
      key,
      async () => {
        const minted = await mint();
        if (this.#enabled) this.#store(key, minted);
        return minted;
      },
      { ...(deadline === undefined ? {} : { deadline }), now: this.#now },
    );
    return { value: value as T, cache: joined ? 'coalesced' : 'miss' };
  }

  /** Number of cached tokens (expired ones are dropped lazily). */
  get size(): number {
    return this.#entries.size;
  }

  #store(key: string, value: CachedToken): void {
    this.#entries.set(key, value);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }
}
