import { randomUUID } from 'node:crypto';

/**
 * What the period keys need from the cache: its table, its KMS key and its budget. Every call counts
 * against the vend that made it (the cache's limits), and throws when the store is down.
 */
export interface PeriodKeyStore {
  /** The key item at `pk`, attributes type-checked; undefined when absent. */
  read(pk: string): Promise<{ keyId?: string; dataKey?: string; period?: number } | undefined>;
  /** Write the key item only if `pk` is absent: false when another container's got there first. */
  putIfAbsent(
    pk: string,
    item: { keyId: string; dataKey: string; period: number; ttl: number },
  ): Promise<boolean>;
  /** KMS GenerateDataKey (AES-256) under the cache's key, bound to `context`. */
  generate(context: Record<string, string>): Promise<{ plaintext: Uint8Array; blob: Uint8Array }>;
  /** KMS Decrypt bound to `context`: undefined when the blob is not one of that context's (InvalidCiphertext). */
  decrypt(blob: Uint8Array, context: Record<string, string>): Promise<Uint8Array | undefined>;
}

export interface PeriodKeysOptions {
  /** How long one key seals new entries (default {@link KEY_PERIOD_MS}). */
  readonly periodMs?: number;
  readonly now?: () => number;
  /** Seals one container makes under one key before it stops using it (default {@link MAX_SEALS_PER_KEY}). */
  readonly maxSeals?: number;
  /**
   * Makes a key item's address from a name: the cache's `sharedCacheKey` with its namespace (the
   * stack), so the address, and the KMS context that is the address, are this stack's own.
   */
  readonly address: (name: string) => string;
}

/** One hour: a container pays KMS about once an hour, whatever the number of targets. */
export const KEY_PERIOD_MS = 3_600_000;
/**
 * A container stops sealing under a key after this many entries (then it seals each entry under its
 * own data key until the next period). A container seals at most one entry per target per token window,
 * so this is never reached in practice; it bounds the GCM nonces one key sees at containers × 10,000,
 * far below the 2^32 random nonces NIST allows one key.
 */
export const MAX_SEALS_PER_KEY = 10_000;
/** Periods an entry's key may be from: the current, two before it (tokens live up to an hour) and one after (clock skew). */
const PERIODS_BEHIND = 2;
const PERIODS_AHEAD = 1;
/** The KMS encryption context key, the same as the per-entry seal's (the key policy allows only it). */
export const CONTEXT_KEY = 'token-vendor:cache';
/** The entry's associated data names the key it was sealed under, so an entry cannot claim another's. */
export const KEY_REF_CONTEXT = 'token-vendor:cache-key';

interface Held {
  readonly key: Buffer;
  readonly period: number;
  seals: number;
}

/**
 * The cache's period keys: one AES-256 data key per namespace and hour, shared by the whole fleet through
 * the table, wrapped by KMS under an encryption context that names its namespace and period (so a key
 * item copied to another period or stack does not open). A container unwraps a period's key once
 * (`kms:Decrypt`), keeps it in memory, and seals and opens that period's entries with it; the first
 * container to need a period's key makes it (`kms:GenerateDataKey` and a put-if-absent; a container that
 * loses the race unwraps the winner's). So a container's KMS calls do not grow with its targets: at most
 * about two an hour.
 *
 * Entries name their key by reference (`<period>.<keyId>`); the reference and the entry's address are
 * the GCM associated data, so an entry moved to another address, or pointing at another key, does not
 * open. A reference outside the current period ± the bounds above is refused without a call, and a
 * reference that did not open is remembered for its period, so a hostile table costs at most one KMS
 * call per container and bad reference.
 *
 * @example
 * ```ts
 * const sealing = await keys.sealing(store); // undefined: seal this entry under its own data key
 * ```
 */
export class PeriodKeys {
  readonly #options: PeriodKeysOptions;
  readonly #periodMs: number;
  readonly #now: () => number;
  readonly #maxSeals: number;
  /** Unwrapped keys by reference; only the periods that may still be read are kept. */
  readonly #held = new Map<string, Held>();
  /** References that did not open (or name no key), by reference: not asked again this period. */
  readonly #bad = new Map<string, number>();
  /** Unwraps in flight, so concurrent vends in one container make one call. */
  readonly #pending = new Map<string, Promise<Held | undefined>>();

  constructor(options: PeriodKeysOptions) {
    this.#options = options;
    this.#periodMs = options.periodMs ?? KEY_PERIOD_MS;
    this.#now = options.now ?? Date.now;
    this.#maxSeals = options.maxSeals ?? MAX_SEALS_PER_KEY;
  }

  /** The period a time falls in. */
  period(at = this.#now()): number {
    return Math.floor(at / this.#periodMs);
  }

  /**
   * The key to seal a new entry with: this period's (made if no container has), with its reference.
   * Undefined when this period's key item is unusable (garbage, or not ours) or this container has used
   * it up: the caller seals the entry under a data key of its own.
   */
  async sealing(store: PeriodKeyStore): Promise<{ ref: string; key: Buffer } | undefined> {
    const period = this.period();
    this.#forget(period);
    for (const [ref, held] of this.#held) {
      if (held.period !== period) continue;
      if (held.seals >= this.#maxSeals) return undefined;
      held.seals += 1;
      return { ref, key: held.key };
    }
    const slot = `seal:${period}`;
    if (this.#bad.has(slot)) return undefined;
    const held = await this.#once(slot, () => this.#obtain(store, period));
    if (!held) {
      this.#bad.set(slot, period);
      return undefined;
    }
    return this.sealing(store);
  }

  /** The key an entry names, unwrapped once per container; undefined when it does not open. */
  async opening(ref: string, store: PeriodKeyStore): Promise<Buffer | undefined> {
    const current = this.period();
    this.#forget(current);
    const held = this.#held.get(ref);
    if (held) return held.key;
    const parsed = /^(\d{1,15})\.([0-9a-f-]{36})$/.exec(ref);
    if (!parsed) return undefined;
    const period = Number(parsed[1]);
    if (period < current - PERIODS_BEHIND || period > current + PERIODS_AHEAD) return undefined;
    if (this.#bad.has(ref)) return undefined;
    const opened = await this.#once(ref, async () => {
      const item = await store.read(this.#address(period));
      const keyId = parsed[2]!;
      if (!item || item.keyId !== keyId || item.period !== period || !item.dataKey) return undefined;
      return this.#unwrap(store, period, keyId, item.dataKey);
    });
    if (!opened) this.#bad.set(ref, period);
    return opened?.key;
  }

  /** This period's key item: read and unwrapped, or made; a lost race reads the winner's. */
  async #obtain(store: PeriodKeyStore, period: number): Promise<Held | undefined> {
    const pk = this.#address(period);
    const found = await store.read(pk);
    if (found) {
      // A key item of the wrong shape, period or wrapping is not ours: do not seal under it.
      if (!found.keyId || !found.dataKey || found.period !== period) return undefined;
      return this.#unwrap(store, period, found.keyId, found.dataKey);
    }
    const keyId = randomUUID();
    const { plaintext, blob } = await store.generate(this.#context(period));
    const key = Buffer.from(plaintext);
    plaintext.fill(0);
    const dataKey = Buffer.from(blob).toString('base64');
    // The item outlives the last entry sealed under it; readers bound the period themselves.
    const ttl = Math.ceil(((period + 1 + PERIODS_BEHIND) * this.#periodMs) / 1000) + 86_400;
    if (await store.putIfAbsent(pk, { keyId, dataKey, period, ttl })) return this.#hold(period, keyId, key);
    key.fill(0);
    const winner = await store.read(pk);
    if (!winner?.keyId || !winner.dataKey || winner.period !== period) return undefined;
    return this.#unwrap(store, period, winner.keyId, winner.dataKey);
  }

  async #unwrap(store: PeriodKeyStore, period: number, keyId: string, dataKey: string) {
    const plaintext = await store.decrypt(Buffer.from(dataKey, 'base64'), this.#context(period));
    if (plaintext?.length !== 32) {
      plaintext?.fill(0);
      return undefined;
    }
    const key = Buffer.from(plaintext);
    plaintext.fill(0);
    return this.#hold(period, keyId, key);
  }

  #hold(period: number, keyId: string, key: Buffer): Held {
    const ref = `${period}.${keyId}`;
    const existing = this.#held.get(ref);
    if (existing) {
      key.fill(0);
      return existing;
    }
    const held = { key, period, seals: 0 };
    this.#held.set(ref, held);
    return held;
  }

  /** Drop (and zero) the keys and refusals of periods that can no longer be read. */
  #forget(current: number) {
    const stale = (period: number) => period < current - PERIODS_BEHIND || period > current + PERIODS_AHEAD;
    for (const [ref, held] of this.#held)
      if (stale(held.period)) {
        held.key.fill(0);
        this.#held.delete(ref);
      }
    for (const [ref, period] of this.#bad) if (stale(period)) this.#bad.delete(ref);
  }

  async #once(slot: string, make: () => Promise<Held | undefined>): Promise<Held | undefined> {
    const pending = this.#pending.get(slot);
    if (pending) return pending;
    const promise = make().finally(() => this.#pending.delete(slot));
    this.#pending.set(slot, promise);
    return promise;
  }

  #address(period: number): string {
    return this.#options.address(`\u0000period-key\u0000${period}`);
  }

  #context(period: number): Record<string, string> {
    return { [CONTEXT_KEY]: this.#address(period) };
  }
}
