import { SingleFlight } from '../single-flight';
import type { Codec } from './codec';
import type { SharedOutcome, SharedTokenCache } from './shared-cache';

/**
 * Where a vended token came from: this container's cache (`hit`), the fleet's (`shared-hit`), a call
 * another caller in this container made (`coalesced`), this caller's mint (`miss`), or a mint made
 * without the shared cache because it was down or slow (`local-fallback`).
 */
export type CacheOutcome = 'hit' | 'coalesced' | SharedOutcome;

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
  readonly #flights = new SingleFlight<string, { value: CachedToken; outcome: SharedOutcome }>();
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
    /** The fleet-wide level, and how its entries are written (only for token types worth sharing). */
    shared?: { readonly cache: SharedTokenCache; readonly codec: Codec<T> },
    /** A cached token (of either level) is served only if this says so (the revocation list's taint). */
    accept: (value: T) => boolean = () => true,
  ): Promise<{ value: T; cache: CacheOutcome }> {
    const cached = this.#entries.get(key);
    if (cached) {
      if (cached.expiresAt.getTime() - this.#now() >= minRemainingMs && accept(cached as T)) {
        this.#entries.delete(key);
        this.#entries.set(key, cached); // most recently used last
        return { value: cached as T, cache: 'hit' };
      }
      this.#entries.delete(key);
    }
    const { value, joined } = await this.#flights.run(
      key,
      async () => {
        const got =
          shared && this.#enabled
            ? await shared.cache.get(
                key,
                minRemainingMs,
                mint,
                shared.codec,
                deadline ?? this.#now() + 25_000,
                accept,
              )
            : { value: await mint(), outcome: 'miss' as const };
        if (this.#enabled) this.#store(key, got.value);
        return got;
      },
      { ...(deadline === undefined ? {} : { deadline }), now: this.#now },
    );
    return { value: value.value as T, cache: joined ? 'coalesced' : value.outcome };
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
