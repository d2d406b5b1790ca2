// Apart from the shared cache, so the vendor can name its codec without loading the cache (a config
// without cache.shared never loads shared-cache.ts).

/** Turns a cached value into text and back (dates included). */
export interface Codec<T> {
  encode(value: T): string;
  decode(text: string): T;
}

/**
 * JSON with `Date` values kept as dates: cached tokens carry `issuedAt`, `expiresAt` and `refreshAt`.
 *
 * @example
 * ```ts
 * const codec = jsonCodec<Minted<PostgresAccessToken>>();
 * ```
 */
export function jsonCodec<T>(): Codec<T> {
  return {
    encode: (value) =>
      JSON.stringify(value, function (this: Record<string, unknown>, key, v) {
        const raw = this[key];
        return raw instanceof Date ? { $date: raw.getTime() } : v;
      }),
    decode: (text) =>
      JSON.parse(text, (_key, v) =>
        v && typeof v === 'object' && Object.keys(v).length === 1 && typeof v.$date === 'number'
          ? new Date(v.$date)
          : v,
      ) as T,
  };
}
