import { createHash, randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import { type EncryptionContext, openWithDataKey, sealWithDataKey } from '../api/envelope';
import { loadDynamoDb, loadKms } from '../aws/sdk';
import { DeadlineExceededError } from '../single-flight';
import { CONTEXT_KEY, KEY_REF_CONTEXT, type PeriodKeyStore, PeriodKeys } from './cache-keys';
import type { Codec } from './codec';
import { envelopeToken } from './envelope';

/** How the shared level answered: a token another container minted, one this caller minted, or none. */
export type SharedOutcome = 'shared-hit' | 'miss' | 'local-fallback';

export interface SharedTokenCacheOptions {
  readonly dynamodb: () => DynamoDBClient | Promise<DynamoDBClient>;
  readonly kms: () => KMSClient | Promise<KMSClient>;
  readonly tableName: string;
  /** The KMS key that wraps the hourly period keys that seal cached tokens (see cache-keys.ts). */
  readonly kmsKeyId: string;
  /** How long a minter holds a target; a lease of a dead container lapses after this. */
  readonly leaseMs: number;
  /**
   * Whose entries these are: part of every entry's key (and so of its seal). The stack sets its own
   * identity, so two deployments that share one table never read each other's entries.
   */
  readonly namespace?: string;
  /** This container's id (random by default): the lease owner. */
  readonly owner?: string;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called when the table or KMS fails and the vendor mints on its own (for metrics). */
  readonly onFallback?: (reason: string, error?: unknown) => void;
  /** Bounds (defaults: {@link SHARED_CACHE_LIMITS}); tests shorten them. */
  readonly limits?: Partial<SharedCacheLimits>;
  /** How long one period key seals new entries (default one hour, `KEY_PERIOD_MS`); tests shorten it. */
  readonly keyPeriodMs?: number;
}

/** What the shared level may cost one vend before the vendor mints on its own. */
export interface SharedCacheLimits {
  /** One DynamoDB or KMS call: a call that has not answered by then counts as the store being down. */
  readonly callTimeoutMs: number;
  /** All of one vend's DynamoDB and KMS calls together (waiting for another container's mint not included). */
  readonly awsBudgetMs: number;
  /** DynamoDB calls one vend may make (reads while it waits included). */
  readonly maxDynamoDbCalls: number;
  /** Clock skew allowed between containers: a lease that ends later than now + lease + skew is not one of ours. */
  readonly clockSkewMs: number;
}

/**
 * The bounds every vend is held to: a slow or hung DynamoDB or KMS adds at most 1 s a call and 2 s in all
 * to a request (then it mints on its own), and no vend makes more than 20 DynamoDB calls, whatever the
 * table holds.
 */
export const SHARED_CACHE_LIMITS: SharedCacheLimits = {
  callTimeoutMs: 1000,
  awsBudgetMs: 2000,
  maxDynamoDbCalls: 20,
  clockSkewMs: 2000,
};

/**
 * An entry as read, every attribute checked for its type: the table is not trusted (anyone who can write
 * it can write anything), so an attribute of the wrong type is as good as absent. `pk` is a SHA-256 of
 * the namespace and cache key: the table never names a target.
 */
interface Item {
  readonly sealed?: string;
  /** An entry sealed under its own data key (the format before period keys): that key's KMS ciphertext. */
  readonly dataKey?: string;
  /** An entry sealed under a period key: which one (`<period>.<keyId>`). */
  readonly keyRef?: string;
  readonly iv?: string;
  readonly expiresAt?: number;
  readonly leaseOwner?: string;
  readonly leaseUntil?: number;
  /**
   * The entry's version as read, for the compare-and-set of the lease: a string, absent, or some other
   * type (written by someone else).
   */
  readonly version:
    | { readonly kind: 'string'; readonly value: string }
    | { readonly kind: 'absent' | 'other' };
}

/** Why the shared level is skipped for this vend (the vendor mints on its own): `onFallback`'s reason. */
class Bypass extends Error {
  constructor(
    readonly reason: string,
    cause?: unknown,
  ) {
    super(reason, cause === undefined ? undefined : { cause });
  }
}

/** A DynamoDB or KMS failure (or timeout): the cache is down. The reason names the call. */
class StoreUnavailable extends Bypass {}

/** Whether a failed call failed with this AWS error (a refused condition, a ciphertext not ours), not with the store being down. */
const failedWith = (error: unknown, name: string) =>
  error instanceof StoreUnavailable && error.cause instanceof Error && error.cause.name === name;

/** The vend spent what it may spend on the shared level (calls or time). */
class BudgetSpent extends Bypass {
  constructor(reason: 'dynamodb-calls' | 'aws-time') {
    super(reason);
  }
}

/** Waiters poll the entry: first after about one mint's time, then less and less often (reads cost). */
const POLL_FIRST_MS = 50;
const POLL_MAX_MS = 1000;
/** Time kept for a caller's own mint when it stops waiting for another container's. */
const OWN_MINT_RESERVE_MS = 3000;

/** What one vend has spent on the shared level so far. */
interface Spent {
  dynamoDbCalls: number;
  awsMs: number;
}

/**
 * The fleet-wide level of the token cache, on DynamoDB. An entry holds the token sealed under the
 * stack's period key of the hour (AES-256-GCM, the entry's key hash and the key's reference as
 * associated data, so a table reader learns nothing and a sealed token cannot be moved to another entry;
 * see {@link PeriodKeys}), its expiry and a TTL attribute. A miss takes a lease
 * with a compare-and-set on the entry's version: one minter per target in the whole fleet; the others
 * poll the entry and take it when it lands, take the lease over when it lapses (its holder died), and
 * never wait past their deadline or the lease's length (they mint themselves in time).
 *
 * Nothing in the table is trusted: an attribute of the wrong type counts as absent, a lease that ends
 * later than a lease could is void, a token is served only if it opens under this entry's context and
 * its own (sealed) expiry says it is fresh. Every call has a timeout and every vend a budget
 * ({@link SHARED_CACHE_LIMITS}); the table or KMS failing, hanging or holding garbage never fails a vend:
 * the caller mints on its own (`local-fallback`).
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
  readonly #limits: SharedCacheLimits;
  readonly #keys: PeriodKeys;

  constructor(options: SharedTokenCacheOptions) {
    this.#options = options;
    this.#owner = options.owner ?? randomUUID();
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#limits = { ...SHARED_CACHE_LIMITS, ...options.limits };
    const namespace = options.namespace ?? '';
    this.#keys = new PeriodKeys({
      now: this.#now,
      address: (name) => sharedCacheKey(namespace, name),
      ...(options.keyPeriodMs !== undefined ? { periodMs: options.keyPeriodMs } : {}),
    });
  }

  async get<T extends { readonly expiresAt: Date }>(
    key: string,
    minRemainingMs: number,
    mint: () => Promise<T>,
    codec: Codec<T>,
    deadline: number,
    /** An opened token is served only if this says so (the revocation list's taint); else it is replaced. */
    accept: (value: T) => boolean = () => true,
  ): Promise<{ value: T; outcome: SharedOutcome }> {
    const pk = sharedCacheKey(this.#options.namespace ?? '', key);
    const context: EncryptionContext = { [CONTEXT_KEY]: pk };
    const started = this.#now();
    // A live holder stores its token or loses its lease within one lease: waiting longer is pointless.
    const stopWaitingAt = Math.min(
      deadline - Math.min(OWN_MINT_RESERVE_MS, (deadline - started) / 2),
      started + this.#options.leaseMs + this.#limits.clockSkewMs,
    );
    const spent: Spent = { dynamoDbCalls: 0, awsMs: 0 };
    let poll = POLL_FIRST_MS;
    let waitedOnLease = false;
    try {
      for (;;) {
        const item = await this.#read(pk, spent);
        const now = this.#now();
        if (item?.sealed && item.expiresAt !== undefined && item.expiresAt - now >= minRemainingMs) {
          const value = await this.#open(item, context, codec, spent);
          // The expiry attribute is not sealed: the token's own expiry, inside the seal, decides.
          if (value && value.expiresAt.getTime() - now >= minRemainingMs && accept(value))
            return { value, outcome: 'shared-hit' };
        }
        // No token to serve. A lease is live only if it ends in the future and no later than a lease
        // taken now could: a far-future `leaseUntil` (written by hand, or by a clock gone wrong) is void.
        const leaseLive =
          item?.leaseUntil !== undefined &&
          item.leaseUntil > now &&
          item.leaseUntil <= now + this.#options.leaseMs + this.#limits.clockSkewMs;
        if (!leaseLive) {
          if (waitedOnLease && item?.leaseUntil === undefined) {
            // The holder we waited on gave its lease back without a token: its mint or its store failed.
            // Mint now rather than queue behind the next holder (a hung KMS would fail each in turn).
            this.#options.onFallback?.('lease-released');
            return { value: await mint(), outcome: 'local-fallback' };
          }
          if (await this.#acquire(pk, item, now, spent))
            return { value: await this.#mintAndStore(pk, context, mint, codec, spent), outcome: 'miss' };
          // The entry changed since we read it (another container's lease or token): read it again, at
          // once (the write that beat ours is visible to a consistent read), within the call budget.
          continue;
        }
        if (now + poll >= stopWaitingAt) {
          // The holder is alive but slow (or our deadline is short): mint in time rather than wait.
          this.#options.onFallback?.('lease-wait');
          return { value: await mint(), outcome: 'local-fallback' };
        }
        waitedOnLease = true;
        await this.#sleep(poll);
        poll = Math.min(POLL_MAX_MS, poll * 2);
      }
    } catch (error) {
      if (!(error instanceof Bypass)) throw error;
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
    spent: Spent,
  ): Promise<T> {
    let value: T;
    try {
      value = await mint();
    } catch (error) {
      await this.#release(pk, spent).catch(() => {});
      throw error;
    }
    // The token is minted: a failure to store it costs the fleet one more mint, never this caller its
    // token, and never more than the vend's budget of time.
    await this.#store(pk, context, value, codec, spent).catch(async (error: unknown) => {
      if (error instanceof Bypass) this.#options.onFallback?.(error.reason, error.cause);
      else this.#options.onFallback?.('store', error);
      await this.#release(pk, spent).catch(() => {}); // the others need not wait for the lease to lapse
    });
    return value;
  }

  async #read(pk: string, spent: Spent): Promise<Item | undefined> {
    const { GetItemCommand } = await loadDynamoDb();
    const answer = await this.#dynamodb('dynamodb:GetItem', spent, (dynamodb, abortSignal) =>
      dynamodb.send(
        new GetItemCommand({
          TableName: this.#options.tableName,
          Key: { pk: { S: pk } },
          ConsistentRead: true,
        }),
        { abortSignal },
      ),
    );
    const item = answer.Item;
    if (!item) return undefined;
    const str = (name: string) => {
      const v = item[name]?.S;
      return typeof v === 'string' && v !== '' ? v : undefined;
    };
    const num = (name: string) => {
      const v = item[name]?.N;
      const n = typeof v === 'string' ? Number(v) : Number.NaN;
      return Number.isFinite(n) ? n : undefined;
    };
    const v = item.v;
    return {
      sealed: str('sealed'),
      dataKey: str('dataKey'),
      keyRef: str('keyRef'),
      iv: str('iv'),
      expiresAt: num('expiresAt'),
      leaseOwner: str('leaseOwner'),
      leaseUntil: num('leaseUntil'),
      version:
        v === undefined
          ? { kind: 'absent' }
          : typeof v.S === 'string'
            ? { kind: 'string', value: v.S }
            : { kind: 'other' },
    };
  }

  /**
   * The lease: a compare-and-set on the entry's version, so it succeeds for exactly one container, and
   * only if the entry is still what this caller read and judged (no token to serve, no live lease). It
   * never depends on how the other attributes are spelt: an entry of any shape can be leased.
   */
  async #acquire(pk: string, item: Item | undefined, now: number, spent: Spent): Promise<boolean> {
    const { UpdateItemCommand } = await loadDynamoDb();
    const expected: { condition: string; values: Record<string, { S: string }> } =
      item === undefined
        ? { condition: 'attribute_not_exists(pk)', values: {} }
        : item.version.kind === 'string'
          ? { condition: 'v = :read', values: { ':read': { S: item.version.value } } }
          : item.version.kind === 'absent'
            ? { condition: 'attribute_not_exists(v)', values: {} }
            : { condition: 'NOT attribute_type(v, :string)', values: { ':string': { S: 'S' } } };
    try {
      await this.#dynamodb('dynamodb:UpdateItem', spent, (dynamodb, abortSignal) =>
        dynamodb.send(
          new UpdateItemCommand({
            TableName: this.#options.tableName,
            Key: { pk: { S: pk } },
            UpdateExpression: 'SET leaseOwner = :owner, leaseUntil = :until, v = :v, #ttl = :ttl',
            ConditionExpression: expected.condition,
            ExpressionAttributeNames: { '#ttl': 'ttl' },
            ExpressionAttributeValues: {
              ':owner': { S: this.#owner },
              ':until': { N: String(now + this.#options.leaseMs) },
              ':v': { S: randomUUID() },
              ':ttl': { N: String(Math.ceil((now + this.#options.leaseMs) / 1000) + 3600) },
              ...expected.values,
            },
          }),
          { abortSignal },
        ),
      );
      return true;
    } catch (error) {
      if (failedWith(error, 'ConditionalCheckFailedException')) return false;
      throw error;
    }
  }

  /** Give the lease back after a failed mint or store, so the next caller need not wait for it to lapse. */
  async #release(pk: string, spent: Spent): Promise<void> {
    const { UpdateItemCommand } = await loadDynamoDb();
    await this.#dynamodb('dynamodb:UpdateItem', spent, (dynamodb, abortSignal) =>
      dynamodb.send(
        new UpdateItemCommand({
          TableName: this.#options.tableName,
          Key: { pk: { S: pk } },
          UpdateExpression: 'REMOVE leaseOwner, leaseUntil SET v = :v',
          ConditionExpression: 'leaseOwner = :owner',
          ExpressionAttributeValues: { ':owner': { S: this.#owner }, ':v': { S: randomUUID() } },
        }),
        { abortSignal },
      ),
    );
  }

  async #store<T extends { readonly expiresAt: Date }>(
    pk: string,
    context: EncryptionContext,
    value: T,
    codec: Codec<T>,
    spent: Spent,
  ): Promise<void> {
    // Sealed under this period's key (AES-256-GCM, the entry's address and the key's reference as
    // associated data); if that key is unusable, under a data key of the entry's own, as before.
    const text = codec.encode(value);
    const periodKey = await this.#keys.sealing(this.#keyStore(spent));
    let sealing: Record<string, { S: string }>;
    if (periodKey) {
      const { encryptedToken, iv } = sealWithDataKey(periodKey.key, text, {
        ...context,
        [KEY_REF_CONTEXT]: periodKey.ref,
      });
      sealing = { sealed: { S: encryptedToken }, keyRef: { S: periodKey.ref }, iv: { S: iv } };
    } else {
      const own = await this.#call('kms:GenerateDataKey', spent, async (abortSignal) =>
        envelopeToken(await this.#options.kms(), this.#options.kmsKeyId, text, context, { abortSignal }),
      );
      sealing = {
        sealed: { S: own.encryptedToken },
        dataKey: { S: own.encryptedDataKey },
        iv: { S: own.iv },
      };
    }
    const expiresAt = value.expiresAt.getTime();
    const { PutItemCommand } = await loadDynamoDb();
    await this.#dynamodb('dynamodb:PutItem', spent, (dynamodb, abortSignal) =>
      dynamodb.send(
        new PutItemCommand({
          TableName: this.#options.tableName,
          Item: {
            pk: { S: pk },
            ...sealing,
            expiresAt: { N: String(expiresAt) },
            v: { S: randomUUID() },
            // DynamoDB deletes the entry (within a day or two) after it expires; reads check expiresAt anyway.
            ttl: { N: String(Math.ceil(expiresAt / 1000)) },
          },
        }),
        { abortSignal },
      ),
    );
  }

  async #open<T>(
    item: Item,
    context: EncryptionContext,
    codec: Codec<T>,
    spent: Spent,
  ): Promise<T | undefined> {
    if (!item.iv) return undefined;
    if (item.keyRef) {
      const key = await this.#keys.opening(item.keyRef, this.#keyStore(spent));
      if (!key) return undefined;
      try {
        const text = openWithDataKey(key, {
          encryptedToken: item.sealed!,
          iv: item.iv,
          encryptionContext: { ...context, [KEY_REF_CONTEXT]: item.keyRef },
        });
        return text === undefined ? undefined : codec.decode(text);
      } catch {
        return undefined;
      }
    }
    if (!item.dataKey) return undefined;
    const { DecryptCommand } = await loadKms();
    let Plaintext: Uint8Array | undefined;
    try {
      ({ Plaintext } = await this.#call('kms:Decrypt', spent, async (abortSignal) =>
        (await this.#options.kms()).send(
          new DecryptCommand({
            CiphertextBlob: Buffer.from(item.dataKey!, 'base64'),
            EncryptionContext: context,
            KeyId: this.#options.kmsKeyId,
          }),
          { abortSignal },
        ),
      ));
    } catch (error) {
      // A data key that is not this entry's (moved, altered, another key): the entry is absent, and the
      // next mint overwrites it. Anything else is KMS being down.
      if (failedWith(error, 'InvalidCiphertextException')) return undefined;
      throw error;
    }
    if (!Plaintext) return undefined;
    try {
      const text = openWithDataKey(Plaintext, {
        encryptedToken: item.sealed!,
        iv: item.iv,
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

  /** The table and KMS as the period keys use them, every call within this vend's budget. */
  #keyStore(spent: Spent): PeriodKeyStore {
    const table = this.#options.tableName;
    return {
      read: async (pk) => {
        const { GetItemCommand } = await loadDynamoDb();
        const { Item: item } = await this.#dynamodb('dynamodb:GetItem', spent, (dynamodb, abortSignal) =>
          dynamodb.send(
            new GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true }),
            {
              abortSignal,
            },
          ),
        );
        if (!item) return undefined;
        const period = Number(item.period?.N);
        return {
          ...(typeof item.keyId?.S === 'string' ? { keyId: item.keyId.S } : {}),
          ...(typeof item.dataKey?.S === 'string' ? { dataKey: item.dataKey.S } : {}),
          ...(Number.isSafeInteger(period) ? { period } : {}),
        };
      },
      putIfAbsent: async (pk, key) => {
        const { PutItemCommand } = await loadDynamoDb();
        try {
          await this.#dynamodb('dynamodb:PutItem', spent, (dynamodb, abortSignal) =>
            dynamodb.send(
              new PutItemCommand({
                TableName: table,
                Item: {
                  pk: { S: pk },
                  keyId: { S: key.keyId },
                  dataKey: { S: key.dataKey },
                  period: { N: String(key.period) },
                  ttl: { N: String(key.ttl) },
                },
                ConditionExpression: 'attribute_not_exists(pk)',
              }),
              { abortSignal },
            ),
          );
          return true;
        } catch (error) {
          if (failedWith(error, 'ConditionalCheckFailedException')) return false;
          throw error;
        }
      },
      generate: async (context) => {
        const { GenerateDataKeyCommand } = await loadKms();
        const answer = await this.#call('kms:GenerateDataKey', spent, async (abortSignal) =>
          (await this.#options.kms()).send(
            new GenerateDataKeyCommand({
              KeyId: this.#options.kmsKeyId,
              KeySpec: 'AES_256',
              EncryptionContext: context,
            }),
            { abortSignal },
          ),
        );
        if (!answer.Plaintext || !answer.CiphertextBlob)
          throw new StoreUnavailable('kms:GenerateDataKey', new Error('KMS returned no data key'));
        return { plaintext: answer.Plaintext, blob: answer.CiphertextBlob };
      },
      decrypt: async (blob, context) => {
        const { DecryptCommand } = await loadKms();
        try {
          const { Plaintext } = await this.#call('kms:Decrypt', spent, async (abortSignal) =>
            (await this.#options.kms()).send(
              new DecryptCommand({
                CiphertextBlob: blob,
                EncryptionContext: context,
                KeyId: this.#options.kmsKeyId,
              }),
              { abortSignal },
            ),
          );
          return Plaintext;
        } catch (error) {
          if (failedWith(error, 'InvalidCiphertextException')) return undefined;
          throw error;
        }
      },
    };
  }

  /** A DynamoDB call, counted against the vend's call budget. */
  async #dynamodb<R>(
    what: string,
    spent: Spent,
    call: (dynamodb: DynamoDBClient, abortSignal: AbortSignal) => Promise<R>,
  ): Promise<R> {
    if (spent.dynamoDbCalls >= this.#limits.maxDynamoDbCalls) throw new BudgetSpent('dynamodb-calls');
    spent.dynamoDbCalls += 1;
    return this.#call(what, spent, async (abortSignal) => call(await this.#options.dynamodb(), abortSignal));
  }

  /**
   * One AWS call with a timeout: the lesser of a call's and what is left of the vend's time budget. A
   * call that runs out is aborted (the SDK closes its request) and counts as the store being down.
   */
  async #call<R>(what: string, spent: Spent, call: (abortSignal: AbortSignal) => Promise<R>): Promise<R> {
    const timeoutMs = Math.ceil(Math.min(this.#limits.callTimeoutMs, this.#limits.awsBudgetMs - spent.awsMs));
    if (timeoutMs <= 0) throw new BudgetSpent('aws-time');
    // The SDK aborts the request on this signal; the race also ends a call that ignores it (a mock).
    const abortSignal = AbortSignal.timeout(timeoutMs);
    const timedOut = new Promise<never>((_, reject) =>
      abortSignal.addEventListener('abort', () => reject(abortSignal.reason), { once: true }),
    );
    const started = performance.now(); // real time, whatever clock the vendor is given
    try {
      return await Promise.race([call(abortSignal), timedOut]);
    } catch (error) {
      throw new StoreUnavailable(what, error);
    } finally {
      spent.awsMs += performance.now() - started;
    }
  }
}

/**
 * The table's key of a cache key: a SHA-256 of the namespace (the stack) and the key, so the table never
 * names a target and two stacks never address each other's entries.
 *
 * @example
 * ```ts
 * const pk = sharedCacheKey(process.env.TOKEN_VENDOR_CACHE_NAMESPACE ?? '', target.cacheKey);
 * ```
 */
export function sharedCacheKey(namespace: string, key: string): string {
  return createHash('sha256').update(`${namespace}\u0000${key}`).digest('hex');
}
