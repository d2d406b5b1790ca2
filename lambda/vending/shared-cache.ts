import { createHash, randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import { type EncryptionContext, openWithDataKey } from '../api/envelope';
import { loadDynamoDb, loadKms } from '../aws/sdk';
import { DeadlineExceededError } from '../single-flight';
import { envelopeToken } from './envelope';

/** How the shared level answered: a token another container minted, one this caller minted, or none. */
export type SharedOutcome = 'shared-hit' | 'miss' | 'local-fallback';

/** Turns a cached value into text and back (dates included). */
export interface Codec<T> {
  encode(value: T): string;
  decode(text: string): T;
}

export interface SharedTokenCacheOptions {
  readonly dynamodb: () => DynamoDBClient | Promise<DynamoDBClient>;
  readonly kms: () => KMSClient | Promise<KMSClient>;
  readonly tableName: string;
  /** The KMS key that seals cached tokens (a data key per entry; the entry's key hash is the context). */
  readonly kmsKeyId: string;
  /** How long a minter holds a target; a lease of a dead container lapses after this. */
  readonly leaseMs: number;
  /** This container's id (random by default): the lease owner. */
  readonly owner?: string;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called when the table or KMS fails and the vendor mints on its own (for metrics). */
  readonly onFallback?: (reason: string, error?: unknown) => void;
}

/** The table's attributes. `pk` is a SHA-256 of the cache key: the table never names a target. */
interface Item {
  readonly sealed?: string;
  readonly dataKey?: string;
  readonly iv?: string;
  readonly expiresAt?: number;
  readonly leaseOwner?: string;
  readonly leaseUntil?: number;
}

/** A DynamoDB or KMS failure: the cache is down, the vendor mints on its own. */
class StoreUnavailable extends Error {
  constructor(
    readonly reason: string,
    cause: unknown,
  ) {
    super(reason, { cause });
  }
}

const CONTEXT_KEY = 'token-vendor:cache';
/** Waiters poll the entry: first after about one mint's time, then less and less often (reads cost). */
const POLL_FIRST_MS = 50;
const POLL_MAX_MS = 500;
/** Time kept for a caller's own mint when it stops waiting for another container's. */
const OWN_MINT_RESERVE_MS = 3000;

/**
 * The fleet-wide level of the token cache, on DynamoDB. An entry holds the token sealed with a KMS data
 * key (AES-256-GCM; encryption context = the entry's key hash, so a table reader learns nothing and a
 * sealed token cannot be moved to another entry), its expiry and a TTL attribute. A miss takes a lease
 * with a conditional write: one minter per target in the whole fleet; the others poll the entry and
 * take it when it lands, take the lease over when it lapses (its holder died), and never wait past
 * their deadline (they mint themselves in time). The table or KMS failing never fails a vend: the
 * caller mints on its own (`local-fallback`).
 *
 * @example
 * ```ts
 * const { value, outcome } = await shared.get(cacheKey, minRemainingMs, mint, codec, deadline);
 * ```
 */
export class SharedTokenCache {
  readonly #options: SharedTokenCacheOptions;
  readonly #owner: string;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: SharedTokenCacheOptions) {
    this.#options = options;
    this.#owner = options.owner ?? randomUUID();
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async get<T extends { readonly expiresAt: Date }>(
    key: string,
    minRemainingMs: number,
    mint: () => Promise<T>,
    codec: Codec<T>,
    deadline: number,
  ): Promise<{ value: T; outcome: SharedOutcome }> {
    const pk = createHash('sha256').update(key).digest('hex');
    const context: EncryptionContext = { [CONTEXT_KEY]: pk };
    const started = this.#now();
    const stopWaitingAt = deadline - Math.min(OWN_MINT_RESERVE_MS, (deadline - started) / 2);
    let poll = POLL_FIRST_MS;
    try {
      for (;;) {
        const item = await this.#read(pk);
        const now = this.#now();
        // A fresh token that does not open (altered, or sealed for another entry) counts as absent: the
        // lease may then replace exactly that token (`unopenable`), never one that landed since.
        let unopenable: string | undefined;
        if (item?.sealed && item.expiresAt !== undefined && item.expiresAt - now >= minRemainingMs) {
          const value = await this.#open(item, context, codec);
          // The expiry attribute is not sealed: the token's own expiry, inside the seal, decides.
          if (value && value.expiresAt.getTime() - now >= minRemainingMs)
            return { value, outcome: 'shared-hit' };
          unopenable = item.sealed;
        }
        if (!item?.leaseUntil || item.leaseUntil <= now) {
          if (await this.#acquire(pk, now, minRemainingMs, unopenable))
            return { value: await this.#mintAndStore(pk, context, mint, codec), outcome: 'miss' };
          // Another container took the lease, or its token landed: read what the entry holds now (the
          // write that beat ours is already visible to a consistent read; no wait needed, but never spin
          // past the point where this caller must mint for itself).
          if (this.#now() < stopWaitingAt) continue;
        }
        if (now + poll >= stopWaitingAt) {
          // The holder is alive but slow (or our deadline is short): mint in time rather than wait.
          this.#options.onFallback?.('lease-wait');
          return { value: await mint(), outcome: 'local-fallback' };
        }
        await this.#sleep(poll);
        poll = Math.min(POLL_MAX_MS, poll * 2);
      }
    } catch (error) {
      if (!(error instanceof StoreUnavailable)) throw error;
      this.#options.onFallback?.(error.reason, error.cause);
      if (this.#now() >= deadline) throw new DeadlineExceededError();
      return { value: await mint(), outcome: 'local-fallback' };
    }
  }

  async #mintAndStore<T extends { readonly expiresAt: Date }>(
    pk: string,
    context: EncryptionContext,
    mint: () => Promise<T>,
    codec: Codec<T>,
  ): Promise<T> {
    let value: T;
    try {
      value = await mint();
    } catch (error) {
      await this.#release(pk).catch(() => {});
      throw error;
    }
    // The token is minted: a failure to store it costs the fleet one more mint, never this caller its token.
    await this.#store(pk, context, value, codec).catch(async (error: unknown) => {
      this.#options.onFallback?.(
        error instanceof StoreUnavailable ? error.reason : 'store',
        error instanceof StoreUnavailable ? error.cause : error,
      );
      await this.#release(pk).catch(() => {}); // the others need not wait for the lease to lapse
    });
    return value;
  }

  async #read(pk: string): Promise<Item | undefined> {
    const { GetItemCommand } = await loadDynamoDb();
    const answer = await this.#call('dynamodb:GetItem', async () =>
      (await this.#options.dynamodb()).send(
        new GetItemCommand({
          TableName: this.#options.tableName,
          Key: { pk: { S: pk } },
          ConsistentRead: true,
        }),
      ),
    );
    const item = answer.Item;
    if (!item) return undefined;
    const num = (name: string) => (item[name]?.N === undefined ? undefined : Number(item[name]!.N));
    return {
      ...(item.sealed?.S ? { sealed: item.sealed.S } : {}),
      ...(item.dataKey?.S ? { dataKey: item.dataKey.S } : {}),
      ...(item.iv?.S ? { iv: item.iv.S } : {}),
      ...(num('expiresAt') === undefined ? {} : { expiresAt: num('expiresAt') }),
      ...(item.leaseOwner?.S ? { leaseOwner: item.leaseOwner.S } : {}),
      ...(num('leaseUntil') === undefined ? {} : { leaseUntil: num('leaseUntil') }),
    };
  }

  /**
   * The lease: a conditional write that succeeds for exactly one container while none holds it and no
   * fresh token is there (a token written between our read and this write must be read, not minted again).
   */
  async #acquire(pk: string, now: number, minRemainingMs: number, unopenable?: string): Promise<boolean> {
    const { UpdateItemCommand } = await loadDynamoDb();
    try {
      await this.#call('dynamodb:UpdateItem', async () =>
        (await this.#options.dynamodb()).send(
          new UpdateItemCommand({
            TableName: this.#options.tableName,
            Key: { pk: { S: pk } },
            UpdateExpression:
              'SET leaseOwner = :owner, leaseUntil = :until, #ttl = if_not_exists(#ttl, :ttl)',
            ConditionExpression: `(attribute_not_exists(leaseUntil) OR leaseUntil <= :now) AND (attribute_not_exists(expiresAt) OR expiresAt < :fresh${unopenable ? ' OR sealed = :unopenable' : ''})`,
            ExpressionAttributeNames: { '#ttl': 'ttl' },
            ExpressionAttributeValues: {
              ':owner': { S: this.#owner },
              ':until': { N: String(now + this.#options.leaseMs) },
              ':now': { N: String(now) },
              ':fresh': { N: String(now + minRemainingMs) },
              ...(unopenable ? { ':unopenable': { S: unopenable } } : {}),
              ':ttl': { N: String(Math.ceil((now + this.#options.leaseMs) / 1000) + 3600) },
            },
          }),
        ),
      );
      return true;
    } catch (error) {
      if (
        error instanceof StoreUnavailable &&
        (error.cause as Error)?.name === 'ConditionalCheckFailedException'
      )
        return false;
      throw error;
    }
  }

  /** Give the lease back after a failed mint, so the next caller need not wait for it to lapse. */
  async #release(pk: string): Promise<void> {
    const { UpdateItemCommand } = await loadDynamoDb();
    await (await this.#options.dynamodb()).send(
      new UpdateItemCommand({
        TableName: this.#options.tableName,
        Key: { pk: { S: pk } },
        UpdateExpression: 'REMOVE leaseOwner, leaseUntil',
        ConditionExpression: 'leaseOwner = :owner',
        ExpressionAttributeValues: { ':owner': { S: this.#owner } },
      }),
    );
  }

  async #store<T extends { readonly expiresAt: Date }>(
    pk: string,
    context: EncryptionContext,
    value: T,
    codec: Codec<T>,
  ): Promise<void> {
    // Sealed as the direct entry seals its answers: a fresh data key, AES-256-GCM, bound to the context.
    const sealed = await this.#call('kms:GenerateDataKey', async () =>
      envelopeToken(await this.#options.kms(), this.#options.kmsKeyId, codec.encode(value), context),
    );
    const expiresAt = value.expiresAt.getTime();
    const { PutItemCommand } = await loadDynamoDb();
    await this.#call('dynamodb:PutItem', async () =>
      (await this.#options.dynamodb()).send(
        new PutItemCommand({
          TableName: this.#options.tableName,
          Item: {
            pk: { S: pk },
            sealed: { S: sealed.encryptedToken },
            dataKey: { S: sealed.encryptedDataKey },
            iv: { S: sealed.iv },
            expiresAt: { N: String(expiresAt) },
            // DynamoDB deletes the entry (within a day or two) after it expires; reads check expiresAt anyway.
            ttl: { N: String(Math.ceil(expiresAt / 1000)) },
          },
        }),
      ),
    );
  }

  async #open<T>(item: Item, context: EncryptionContext, codec: Codec<T>): Promise<T | undefined> {
    const { DecryptCommand } = await loadKms();
    let Plaintext: Uint8Array | undefined;
    try {
      ({ Plaintext } = await this.#call('kms:Decrypt', async () =>
        (await this.#options.kms()).send(
          new DecryptCommand({
            CiphertextBlob: Buffer.from(item.dataKey ?? '', 'base64'),
            EncryptionContext: context,
            KeyId: this.#options.kmsKeyId,
          }),
        ),
      ));
    } catch (error) {
      // A data key that is not this entry's (moved, altered, another key): the entry is absent, and the
      // next mint overwrites it. Anything else is KMS being down.
      if (
        (error as StoreUnavailable).cause instanceof Error &&
        ((error as StoreUnavailable).cause as Error).name === 'InvalidCiphertextException'
      )
        return undefined;
      throw error;
    }
    if (!Plaintext) return undefined;
    try {
      const text = openWithDataKey(Plaintext, {
        encryptedToken: item.sealed!,
        iv: item.iv ?? '',
        encryptionContext: context,
      });
      // An entry that does not open (altered, or moved from another key) is treated as absent.
      return text === undefined ? undefined : codec.decode(text);
    } catch {
      return undefined;
    } finally {
      Plaintext.fill(0);
    }
  }

  async #call<R>(what: string, call: () => Promise<R>): Promise<R> {
    try {
      return await call();
    } catch (error) {
      throw new StoreUnavailable(what, error);
    }
  }
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
