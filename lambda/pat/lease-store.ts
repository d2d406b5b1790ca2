import { createHash, randomUUID } from 'node:crypto';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import { openWithDataKey } from '../api/envelope';
import { loadDynamoDb, loadKms } from '../aws/sdk';
import { TokenVendorError } from '../errors';
import { envelopeToken } from '../vending/envelope';
import { attributesOf } from '../vending/revocations';
import { PAT_CONTEXT_KEY } from './names';

/**
 * The leases of the PATs the vendor made, in the lease table (`principal`, `tokenId`; TTL `ttl`):
 *
 * - a **lease** per PAT, under its holder: `principal` = the holder (a role or user ARN in lower case, or
 *   `direct`), `tokenId` = the PAT's one-way id (the audit trail's). It is a lease record like any other
 *   (`leases list` and `revoke` show it), plus what the vendor needs to hand the same PAT to the same
 *   holder from any container: the PAT's name, user and role, when to refresh, and its secret, sealed
 *   under a KMS data key whose encryption context names the stack, the holder and the PAT;
 * - an **index** item per PAT, under `pat-user:<connection>/<USER>`, `tokenId` = the PAT's name: what the
 *   sweeper reads to find every lease of one Snowflake user in one query;
 * - a **claim** per holder and target while one container mints, so two containers do not both mint.
 *
 * Nothing here trusts the table: an item of the wrong shape is ignored, and a sealed secret that does not
 * open under its context is ignored (the holder gets a new PAT).
 */

/** A PAT lease as read back (the secret still sealed). */
export interface PatLease {
  readonly principal: string;
  readonly tokenId: string;
  readonly caller: string;
  readonly patTarget: string;
  readonly role: string;
  readonly connection: string;
  readonly user: string;
  readonly name: string;
  readonly issuedAt: number;
  /** The lease's end: the vendor removes the PAT then. */
  readonly expiresAt: number;
  readonly refreshAt: number;
  readonly sealed: {
    readonly token: string;
    readonly dataKey: string;
    readonly iv: string;
    readonly keyId: string;
  };
}

/** An index item: one PAT of a Snowflake user, by name, and whose lease it is. */
export interface PatIndexEntry {
  readonly name: string;
  readonly principal: string;
  readonly tokenId: string;
  /** The holder's ARN as API Gateway reported it (`direct` for a direct invoke). */
  readonly caller: string;
  readonly patTarget: string;
  readonly role: string;
  readonly issuedAt: number;
  readonly leaseEnd: number;
}

/** The lease table could not be read or written: without it the vendor neither reuses nor makes PATs. */
export class PatLeaseStoreError extends TokenVendorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PAT_LEASES_UNAVAILABLE', message, options);
  }
}

/** One DynamoDB or KMS call of the lease store: past this it counts as unavailable. */
const CALL_TIMEOUT_MS = 1500;
/** Items a principal's query reads at most (a principal holds few live tokens). */
const MAX_PRINCIPAL_ITEMS = 500;
/** How long past its lease end a lease item stays (the sweeper removes it with the PAT). */
const KEEP_AFTER_LEASE_S = 2 * 86_400;

const indexPartition = (connection: string, user: string) => `pat-user:${connection}/${user}`;
const claimKey = (patTarget: string, role: string) => `pat-claim:${patTarget}/${role}`;

export interface PatLeaseStoreOptions {
  readonly client: () => DynamoDBClient | Promise<DynamoDBClient>;
  readonly tableName: string;
  readonly kms: () => KMSClient | Promise<KMSClient>;
  /** The KMS key that seals PAT secrets in the table. */
  readonly kmsKeyId: string;
  /** The stack's identity: part of every seal's context, so a lease copied to another stack's table does not open. */
  readonly namespace: string;
  readonly now?: () => number;
}

export class PatLeaseStore {
  readonly #o: PatLeaseStoreOptions;
  readonly #now: () => number;

  constructor(options: PatLeaseStoreOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** The encryption context that binds a sealed secret to this stack, its holder and its PAT. */
  #context(principal: string, name: string): Record<string, string> {
    const digest = createHash('sha256')
      .update(`${this.#o.namespace}\u0000${principal}\u0000${name}`)
      .digest('hex');
    return { [PAT_CONTEXT_KEY]: digest };
  }

  async #send<T>(
    what: string,
    call: (client: DynamoDBClient, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    try {
      return await call(await this.#o.client(), AbortSignal.timeout(CALL_TIMEOUT_MS));
    } catch (error) {
      if ((error as Error)?.name === 'ConditionalCheckFailedException') throw error;
      throw new PatLeaseStoreError(`The PAT lease table could not be ${what} (${(error as Error)?.name}).`, {
        cause: error,
      });
    }
  }

  /** Every item of one partition (strongly consistent, page by page), up to about `maxItems`. */
  async *#partition(
    partition: string,
    maxItems = Number.POSITIVE_INFINITY,
  ): AsyncGenerator<Record<string, AttributeValue>> {
    const { QueryCommand } = await loadDynamoDb();
    let start: Record<string, AttributeValue> | undefined;
    let read = 0;
    do {
      const page = await this.#send('read', (client, abortSignal) =>
        client.send(
          new QueryCommand({
            TableName: this.#o.tableName,
            KeyConditionExpression: 'principal = :p',
            ExpressionAttributeValues: { ':p': { S: partition } },
            ConsistentRead: true,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
          { abortSignal },
        ),
      );
      yield* page.Items ?? [];
      read += page.Items?.length ?? 0;
      start = page.LastEvaluatedKey;
    } while (start && read < maxItems);
  }

  /** The holder's live leases of `patTarget` with `role`, newest refresh first (secrets sealed). */
  async leasesOf(principal: string, patTarget: string, role: string): Promise<PatLease[]> {
    const out: PatLease[] = [];
    for await (const item of this.#partition(principal, MAX_PRINCIPAL_ITEMS)) {
      const lease = leaseFromItem(item);
      if (lease && lease.principal === principal && lease.patTarget === patTarget && lease.role === role)
        out.push(lease);
    }
    const now = this.#now();
    return out.filter((l) => l.expiresAt > now).sort((a, b) => b.refreshAt - a.refreshAt);
  }

  /** The PAT secret of a lease, or undefined when its seal does not open (a hostile or stale item). */
  async unseal(lease: PatLease): Promise<string | undefined> {
    const [{ DecryptCommand }, kms] = await Promise.all([loadKms(), this.#o.kms()]);
    const context = this.#context(lease.principal, lease.name);
    let key: Uint8Array | undefined;
    try {
      const answer = await kms.send(
        new DecryptCommand({
          CiphertextBlob: Buffer.from(lease.sealed.dataKey, 'base64'),
          EncryptionContext: context,
          KeyId: lease.sealed.keyId,
        }),
        { abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS) },
      );
      key = answer.Plaintext;
    } catch (error) {
      if (
        (error as Error)?.name === 'InvalidCiphertextException' ||
        (error as Error)?.name === 'IncorrectKeyException'
      )
        return undefined;
      throw new PatLeaseStoreError(`A PAT lease could not be unsealed (${(error as Error)?.name}).`, {
        cause: error,
      });
    }
    if (!key) return undefined;
    try {
      return openWithDataKey(key, {
        encryptedToken: lease.sealed.token,
        iv: lease.sealed.iv,
        encryptionContext: context,
      });
    } finally {
      key.fill(0);
    }
  }

  /**
   * Claim the right to mint for this holder and target until `until`: the claim's owner id when this
   * container holds it (nobody did, or the last claim lapsed), undefined when another container is minting.
   */
  async claim(
    principal: string,
    patTarget: string,
    role: string,
    until: number,
  ): Promise<{ owner: string } | undefined> {
    const { PutItemCommand } = await loadDynamoDb();
    const owner = randomUUID();
    try {
      await this.#send('written', (client, abortSignal) =>
        client.send(
          new PutItemCommand({
            TableName: this.#o.tableName,
            Item: {
              principal: { S: principal },
              tokenId: { S: claimKey(patTarget, role) },
              owner: { S: owner },
              until: { N: String(until) },
              ttl: { N: String(Math.ceil(until / 1000) + 3600) },
            },
            // Free, lapsed, or not a claim at all (an `until` of another type, written by someone else): take it.
            ConditionExpression:
              'attribute_not_exists(principal) OR NOT attribute_type(#until, :number) OR #until < :now',
            ExpressionAttributeNames: { '#until': 'until' },
            ExpressionAttributeValues: { ':now': { N: String(this.#now()) }, ':number': { S: 'N' } },
          }),
          { abortSignal },
        ),
      );
      return { owner };
    } catch (error) {
      if ((error as Error)?.name === 'ConditionalCheckFailedException') return undefined;
      throw error;
    }
  }

  /** Let go of a claim this container holds (a lapsed or taken-over claim is left alone). */
  async release(principal: string, patTarget: string, role: string, owner: string): Promise<void> {
    const { DeleteItemCommand } = await loadDynamoDb();
    try {
      await this.#send('written', (client, abortSignal) =>
        client.send(
          new DeleteItemCommand({
            TableName: this.#o.tableName,
            Key: { principal: { S: principal }, tokenId: { S: claimKey(patTarget, role) } },
            ConditionExpression: '#owner = :owner',
            ExpressionAttributeNames: { '#owner': 'owner' },
            ExpressionAttributeValues: { ':owner': { S: owner } },
          }),
          { abortSignal },
        ),
      );
    } catch {
      // It lapses by itself.
    }
  }

  /**
   * Seal the secret and write the index item, then the lease. In that order, a failure between the two
   * leaves an index item whose token the issuer removes at once (or the sweeper at the lease's end), never
   * a lease the sweeper cannot find. (Two writes, not a transaction: they need no more, and every DynamoDB
   * implementation has PutItem.)
   */
  async record(lease: Omit<PatLease, 'sealed'>, secret: string): Promise<void> {
    const kms = await this.#o.kms();
    const sealed = await envelopeToken(
      kms,
      this.#o.kmsKeyId,
      secret,
      this.#context(lease.principal, lease.name),
      {
        abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      },
    ).catch((error: unknown) => {
      throw new PatLeaseStoreError('The PAT could not be sealed for its lease.', { cause: error });
    });
    const { PutItemCommand } = await loadDynamoDb();
    const ttl = String(Math.ceil(lease.expiresAt / 1000) + KEEP_AFTER_LEASE_S);
    const put = (item: Record<string, AttributeValue>) =>
      this.#send('written', (client, abortSignal) =>
        client.send(new PutItemCommand({ TableName: this.#o.tableName, Item: item }), { abortSignal }),
      );
    await put({
      principal: { S: indexPartition(lease.connection, lease.user) },
      tokenId: { S: lease.name },
      owner: { S: lease.principal },
      ownerTokenId: { S: lease.tokenId },
      caller: { S: lease.caller },
      patTarget: { S: lease.patTarget },
      role: { S: lease.role },
      issuedAt: { N: String(lease.issuedAt) },
      leaseEnd: { N: String(lease.expiresAt) },
      ttl: { N: ttl },
    });
    await put({
      principal: { S: lease.principal },
      tokenId: { S: lease.tokenId },
      caller: { S: lease.caller },
      target: { S: `pat:${lease.patTarget}/${lease.role}` },
      tokenType: { S: 'pat' },
      issuedAt: { N: String(lease.issuedAt) },
      expiresAt: { N: String(lease.expiresAt) },
      refreshAt: { N: String(lease.refreshAt) },
      patTarget: { S: lease.patTarget },
      role: { S: lease.role },
      connection: { S: lease.connection },
      user: { S: lease.user },
      name: { S: lease.name },
      sealed: { S: sealed.encryptedToken },
      dataKey: { S: sealed.encryptedDataKey },
      iv: { S: sealed.iv },
      keyId: { S: sealed.encryptionKeyId },
      ttl: { N: ttl },
    });
  }

  /** The index of one Snowflake user's PATs: every lease the sweeper must honour or end. */
  async indexOf(connection: string, user: string): Promise<Map<string, PatIndexEntry>> {
    const out = new Map<string, PatIndexEntry>();
    for await (const item of this.#partition(indexPartition(connection, user))) {
      const entry = indexEntryFromItem(item);
      if (entry) out.set(entry.name, entry);
    }
    return out;
  }

  /** Forget a PAT that is gone from Snowflake: its lease (if known), then its index item. */
  async forget(
    connection: string,
    user: string,
    name: string,
    lease?: { principal: string; tokenId: string },
  ): Promise<void> {
    const { DeleteItemCommand } = await loadDynamoDb();
    const remove = (principal: string, tokenId: string) =>
      this.#send('written', (client, abortSignal) =>
        client.send(
          new DeleteItemCommand({
            TableName: this.#o.tableName,
            Key: { principal: { S: principal }, tokenId: { S: tokenId } },
          }),
          { abortSignal },
        ),
      );
    // The lease first: an index item left behind is forgotten by the next sweep, a lease would be listed.
    if (lease) await remove(lease.principal, lease.tokenId);
    await remove(indexPartition(connection, user), name);
  }
}

/** An index item, or undefined when the item is anything else (every attribute is checked). */
function indexEntryFromItem(item: Record<string, AttributeValue>): PatIndexEntry | undefined {
  const { str, num } = attributesOf(item);
  const fields = {
    name: str('tokenId'),
    principal: str('owner'),
    tokenId: str('ownerTokenId'),
    caller: str('caller'),
    patTarget: str('patTarget'),
    role: str('role'),
  };
  const times = { issuedAt: num('issuedAt'), leaseEnd: num('leaseEnd') };
  if (Object.values(fields).some((v) => !v) || Object.values(times).some((v) => v === undefined))
    return undefined;
  return {
    ...(fields as Record<keyof typeof fields, string>),
    ...(times as Record<keyof typeof times, number>),
  };
}

/** A lease item, or undefined when the item is anything else (every attribute is checked). */
export function leaseFromItem(item: Record<string, AttributeValue>): PatLease | undefined {
  const { str, num } = attributesOf(item);
  if (str('tokenType') !== 'pat') return undefined;
  const fields = {
    principal: str('principal'),
    tokenId: str('tokenId'),
    caller: str('caller'),
    patTarget: str('patTarget'),
    role: str('role'),
    connection: str('connection'),
    user: str('user'),
    name: str('name'),
  };
  const times = { issuedAt: num('issuedAt'), expiresAt: num('expiresAt'), refreshAt: num('refreshAt') };
  const sealed = { token: str('sealed'), dataKey: str('dataKey'), iv: str('iv'), keyId: str('keyId') };
  if (
    Object.values(fields).some((v) => !v) ||
    Object.values(times).some((v) => v === undefined) ||
    Object.values(sealed).some((v) => !v)
  )
    return undefined;
  return {
    ...(fields as Record<keyof typeof fields, string>),
    ...(times as Record<keyof typeof times, number>),
    sealed: sealed as PatLease['sealed'],
  };
}
