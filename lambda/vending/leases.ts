import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadDynamoDb } from '../aws/sdk';
import type { AuthorizedTarget } from './policy';
import { revocationPrincipal } from './principal';
import type { Caller } from './request';
import { attributesOf, keysOf } from './revocations';

/**
 * Leases: who holds which live token (config `leases`, opt-in). One item per principal and token id
 * (the audit trail's one-way id, never the token), written the first time a container serves that token
 * to that principal, and gone by itself once the token expires (the table's TTL; readers also skip
 * expired ones). What it costs grows with distinct (principal, token) pairs, not with requests: a cached
 * vend of a pair this container already recorded writes nothing.
 */
export interface Lease {
  /** The principal as the revocation list names it (role or user, lower case). */
  readonly principal: string;
  /** The caller's ARN as API Gateway reported it. */
  readonly caller: string;
  /** The target's key, as `revoke --target` names it. */
  readonly target: string;
  readonly tokenType: string;
  readonly tokenId: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/** One lease write's timeout: a slow table costs the first vend of a pair at most this. */
const WRITE_TIMEOUT_MS = 500;
/** The pairs a container remembers having recorded (then it forgets them all and records again). */
const MAX_REMEMBERED = 10_000;

export interface LeaseRecorderOptions {
  readonly client: () => DynamoDBClient | Promise<DynamoDBClient>;
  readonly tableName: string;
  /** Told each failed write (the vend is served anyway; the pair is written on its next vend). */
  readonly onWriteError?: (error: unknown) => void;
}

/** Writes each (principal, token) pair once per container; never fails or delays a vend past its timeout. */
export class LeaseRecorder {
  readonly #options: LeaseRecorderOptions;
  readonly #recorded = new Set<string>();

  constructor(options: LeaseRecorderOptions) {
    this.#options = options;
  }

  async record(
    caller: Caller,
    target: AuthorizedTarget,
    token: { readonly tokenId: string; readonly issuedAt: Date; readonly expiresAt: Date },
  ): Promise<void> {
    // A direct invoke has no principal to hold a lease: Lambda does not say who invoked it.
    if (caller.kind !== 'http') return;
    const pair = `${caller.principalArn}\u0000${token.tokenId}`;
    if (this.#recorded.has(pair)) return;
    const principal = revocationPrincipal(caller.principalArn);
    if (!principal) return;
    if (this.#recorded.size >= MAX_REMEMBERED) this.#recorded.clear();
    this.#recorded.add(pair);
    try {
      const [{ PutItemCommand }, client] = await Promise.all([loadDynamoDb(), this.#options.client()]);
      const item: Record<string, AttributeValue> = {
        principal: { S: principal },
        tokenId: { S: token.tokenId },
        caller: { S: caller.principalArn },
        target: { S: keysOf(target)[0]! },
        tokenType: { S: target.tokenType },
        issuedAt: { N: String(token.issuedAt.getTime()) },
        expiresAt: { N: String(token.expiresAt.getTime()) },
        ttl: { N: String(Math.ceil(token.expiresAt.getTime() / 1000)) },
      };
      await client.send(new PutItemCommand({ TableName: this.#options.tableName, Item: item }), {
        abortSignal: AbortSignal.timeout(WRITE_TIMEOUT_MS),
      });
    } catch (error) {
      this.#recorded.delete(pair);
      this.#options.onWriteError?.(error);
    }
  }
}

/** A lease item, or undefined when it is none (wrong types; every attribute is checked). */
export function leaseFromItem(item: Record<string, AttributeValue>): Lease | undefined {
  const { str, num } = attributesOf(item);
  const [principal, caller, target, tokenType, tokenId] = [
    'principal',
    'caller',
    'target',
    'tokenType',
    'tokenId',
  ].map(str);
  const issuedAt = num('issuedAt');
  const expiresAt = num('expiresAt');
  if (
    !principal ||
    !caller ||
    !target ||
    !tokenType ||
    !tokenId ||
    issuedAt === undefined ||
    expiresAt === undefined
  )
    return undefined;
  return { principal, caller, target, tokenType, tokenId, issuedAt, expiresAt };
}

/** The live leases, of one principal (a Query) or all (a Scan), optionally of one target. */
export async function readLeases(
  client: DynamoDBClient,
  tableName: string,
  filter: { readonly principal?: string; readonly target?: string; readonly now: number },
): Promise<Lease[]> {
  const { QueryCommand, ScanCommand } = await loadDynamoDb();
  const out: Lease[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = filter.principal
      ? await client.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: 'principal = :p',
            ExpressionAttributeValues: { ':p': { S: filter.principal } },
            ConsistentRead: true,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        )
      : await client.send(
          new ScanCommand({
            TableName: tableName,
            ConsistentRead: true,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
    for (const item of page.Items ?? []) {
      const lease = leaseFromItem(item);
      if (!lease || lease.expiresAt <= filter.now) continue;
      if (filter.target && lease.target !== filter.target && !lease.target.startsWith(`${filter.target}/`))
        continue;
      out.push(lease);
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return out.sort((a, b) => a.expiresAt - b.expiresAt);
}
