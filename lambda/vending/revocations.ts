import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadDynamoDb } from '../aws/sdk';
import { instanceKey } from '../config/instance-key';
import type { Config, Targets } from '../config/schema';
import { TokenVendorError } from '../errors';
import type { AuthorizedTarget } from './policy';
import { parsedGrant, revocationPrincipal } from './principal';
import type { Caller } from './request';

/**
 * The revocation list: principals and targets an operator cut off, in a table of their own, enforced on
 * every vend before either cache. See docs/runbook.md for how it is used and docs/security.md for what
 * it promises.
 *
 * An entry names one of: a principal (an IAM role or user, matched by account and name, case-insensitively
 * and whatever its path, since IAM names are unique that way: a broader match can only refuse more), a
 * whole account, a target (`postgres:INSTANCE[/USER]`, `snowflake-jwt:CONNECTION`, `oauth:INTEGRATION`), or
 * a principal on one target. While an entry is active (not lifted, not past its end) its principal or
 * target is refused with `REVOKED` and the entry's reason.
 *
 * Taint. Whatever a revoked principal may have been served is not served again: for every target an entry
 * covers (a principal's: the targets its grants name), a cached token issued before the entry (plus the
 * window in which a container may not have seen it yet) is refused by every cache level, so the next
 * caller gets a fresh mint. The check is on the token's own `issuedAt`, inside the shared cache's seal, so
 * an older sealed entry put back into the cache table cannot bring a tainted token back. The taint stays
 * after the entry is lifted, until the entry itself is removed.
 *
 * Rekey. `token-vendor rotate-now` rotates a connection's key and then removes the old one from Snowflake.
 * Before the removal, the rotate-key function writes a `rekey` entry for the connection: it refuses
 * nothing, taints the connection's key-pair JWTs issued before it (they are signed with the old key), and
 * makes every container read the connection's key again if it read it before then. Once the entry is
 * applied fleet-wide, the old key is removed.
 *
 * A table writer can only refuse more: there is no entry that grants. An entry that cannot be read as one
 * of the kinds above matches nothing; one whose times are missing is active and taints nothing.
 */

/** A target's names in entries: `postgres:<instance key>/<user>`, `postgres:<instance key>`, `snowflake-jwt:<c>`, `oauth:<i>`. */
export type TargetKey = string;

export type RevocationScope =
  | { readonly kind: 'principal'; readonly principal: string }
  | { readonly kind: 'account'; readonly account: string }
  | { readonly kind: 'target'; readonly target: TargetKey }
  | { readonly kind: 'principal-target'; readonly principal: string; readonly target: TargetKey }
  /** Refuses nothing: the connection's key was replaced (`rotate-now`); see the module's notes. */
  | { readonly kind: 'rekey'; readonly connection: string };

export interface Revocation {
  readonly scope: RevocationScope;
  readonly reason: string;
  /** Who made it: the operator's IAM identity. */
  readonly by: string;
  /** When it was made (ms since the epoch). */
  readonly at?: number;
  /** When it ends by itself, if it does. */
  readonly until?: number;
  /** When an operator lifted it (`unrevoke`); its taint stays. */
  readonly liftedAt?: number;
}

/** The principal's access is revoked, or the target's: says the entry's reason and nothing else. */
export class RevokedError extends TokenVendorError {
  constructor(what: 'principal' | 'target', reason: string) {
    super(
      'REVOKED',
      `${what === 'principal' ? "This principal's access" : 'This target'} is revoked: ${reason}`,
    );
  }
}

/** The list could not be read and this container never had one: refuse rather than serve on an unknown list. */
export class RevocationListUnavailableError extends TokenVendorError {
  constructor(options?: { cause?: unknown }) {
    super(
      'REVOCATION_LIST_UNAVAILABLE',
      'The revocation list could not be read, and this container has not read one yet; retry after the Retry-After delay.',
      options,
    );
  }
}

/**
 * A target spec as an operator writes it, as the key entries use: `postgres:INSTANCE[/USER]` (the
 * instance as Snowflake resolves it), `snowflake-jwt:CONNECTION`, `oauth:INTEGRATION`, `pat:TARGET[/ROLE]`. Undefined when it
 * is none of those, or holds spaces, control or format characters.
 */
export function targetKeyOf(spec: string): TargetKey | undefined {
  if (spec.length > 600 || /[\s\p{C}]/u.test(spec)) return undefined;
  const m = /^(postgres|snowflake-jwt|oauth|pat):(.+)$/.exec(spec);
  if (!m) return undefined;
  const [, kind, rest] = m as unknown as [string, string, string];
  if (kind === 'pat') {
    // `pat:TARGET` or `pat:TARGET/ROLE` (the role as Snowflake prints it)
    const [target, role, extra] = rest.split('/');
    if (!target || !CONNECTION_NAME.test(target) || role === '' || extra !== undefined) return undefined;
    return role === undefined ? `pat:${target}` : `pat:${target}/${role}`;
  }
  if (kind !== 'postgres') return CONNECTION_NAME.test(rest) ? `${kind}:${rest}` : undefined;
  const slash = rest.startsWith('"') ? rest.indexOf('/', rest.lastIndexOf('"')) : rest.indexOf('/');
  const instance = slash < 0 ? rest : rest.slice(0, slash);
  const user = slash < 0 ? undefined : rest.slice(slash + 1);
  if (instance === '' || user === '') return undefined;
  return `postgres:${instanceKey(instance)}${user === undefined ? '' : `/${user}`}`;
}

/** A connection's or an integration's name, as the config allows one. */
const CONNECTION_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** The keys an authorized target is known by in entries, most specific first. */
export function keysOf(target: AuthorizedTarget): TargetKey[] {
  switch (target.tokenType) {
    case 'postgres': {
      const instance = instanceKey(target.instance.instance);
      return [`postgres:${instance}/${target.username}`, `postgres:${instance}`];
    }
    case 'snowflake-jwt':
      return [`snowflake-jwt:${target.connectionName}`];
    case 'oauth':
      return [`oauth:${target.integrationName}`];
    case 'pat':
      return [`pat:${target.targetName}/${target.role}`, `pat:${target.targetName}`];
  }
}

/** Every target key the targets of a grant name (what its principal may have been served). */
function grantedKeys(targets: Targets): TargetKey[] {
  return [
    ...targets.postgres.flatMap((p) => p.usernames.map((u) => `postgres:${instanceKey(p.instance)}/${u}`)),
    ...targets.snowflakeJwt.map((c) => `snowflake-jwt:${c}`),
    ...targets.oauth.map((o) => `oauth:${o.integration}`),
    ...targets.pat.flatMap((t) => t.roles.map((r) => `pat:${t.target}/${r}`)),
  ];
}

/** The entry refuses at `now`: not lifted, not past its end. */
export const isActive = (e: Revocation, now: number) =>
  e.liftedAt === undefined && (e.until === undefined || e.until > now);

/**
 * The entries as one container holds them, indexed for a vend: which entry refuses a caller or a target,
 * and before when a target's cached tokens are tainted. Built once per read of the table.
 */
export class RevocationList {
  readonly size: number;
  readonly #principals = new Map<string, Revocation[]>();
  readonly #accounts = new Map<string, Revocation[]>();
  readonly #targets = new Map<TargetKey, Revocation[]>();
  readonly #pairs = new Map<string, Revocation[]>();
  /** Tokens of a target issued at or before this moment are not served. */
  readonly #taintedBefore = new Map<TargetKey, number>();
  /** Connection → a key read before this moment is read again (`rekey` entries). */
  readonly rekeys = new Map<string, number>();

  /**
   * @param readAt when the entries were read: a time in an entry later than it (a clock gone wrong, or a
   *   hand-written entry) counts as this, so no entry taints a target into the future.
   * @param windowMs how long after an entry a container may still not have applied it: tokens minted
   *   then are tainted too.
   */
  constructor(entries: readonly Revocation[], config: Config, readAt: number, windowMs: number) {
    this.size = entries.length;
    const add = <K>(map: Map<K, Revocation[]>, key: K, e: Revocation) => {
      const list = map.get(key);
      if (list) list.push(e);
      else map.set(key, [e]);
    };
    const horizon = (e: Revocation) => (e.at === undefined ? undefined : Math.min(e.at, readAt) + windowMs);
    const taint = (key: TargetKey, e: Revocation) => {
      const until = horizon(e);
      if (until === undefined) return;
      if (until > (this.#taintedBefore.get(key) ?? -Infinity)) this.#taintedBefore.set(key, until);
    };
    for (const e of entries) {
      const { scope } = e;
      switch (scope.kind) {
        case 'principal':
          add(this.#principals, scope.principal, e);
          for (const key of principalKeys(config, (p) => p === scope.principal)) taint(key, e);
          break;
        case 'account':
          add(this.#accounts, scope.account, e);
          for (const key of principalKeys(config, (p) => p.split(':')[4] === scope.account)) taint(key, e);
          break;
        case 'target':
          add(this.#targets, scope.target, e);
          taint(scope.target, e);
          break;
        case 'principal-target':
          add(this.#pairs, `${scope.principal}\u0000${scope.target}`, e);
          taint(scope.target, e);
          break;
        case 'rekey': {
          const until = horizon(e);
          if (until === undefined) break;
          taint(`snowflake-jwt:${scope.connection}`, e);
          this.rekeys.set(scope.connection, until);
          break;
        }
      }
    }
  }

  /**
   * Refuse a revoked caller or target ({@link RevokedError}); otherwise say before when the target's
   * cached tokens are tainted. A direct invoke has no principal: only target entries refuse it.
   */
  check(caller: Caller, target: AuthorizedTarget, now: number): { readonly taintedBefore: number } {
    if (this.size === 0) return NOTHING_TAINTED;
    const keys = memo(targetKeys, target.cacheKey, () => keysOf(target));
    for (const key of keys) refuse(this.#targets.get(key), 'target', now);
    if (caller.kind === 'http' && (this.#principals.size || this.#accounts.size || this.#pairs.size)) {
      const principal = memo(callerPrincipals, caller.principalArn, () =>
        revocationPrincipal(caller.principalArn),
      );
      if (principal !== undefined) {
        refuse(this.#principals.get(principal), 'principal', now);
        refuse(this.#accounts.get(principal.split(':')[4]!), 'principal', now);
        for (const key of keys) refuse(this.#pairs.get(`${principal}\u0000${key}`), 'principal', now);
      }
    }
    let taintedBefore = Number.NEGATIVE_INFINITY;
    for (const key of keys)
      taintedBefore = Math.max(taintedBefore, this.#taintedBefore.get(key) ?? -Infinity);
    return { taintedBefore };
  }
}

const NOTHING_TAINTED = { taintedBefore: Number.NEGATIVE_INFINITY } as const;

// A cached vend pays map lookups, not regular expressions: what a caller ARN and a target stand for,
// computed once each (bounded: callers cannot grow them without limit).
const callerPrincipals = new Map<string, string | undefined>();
const targetKeys = new Map<string, TargetKey[]>();
function memo<V>(map: Map<string, V>, key: string, make: () => V): V {
  if (map.has(key)) return map.get(key) as V;
  const value = make();
  if (map.size >= 10_000) map.clear();
  map.set(key, value);
  return value;
}

function refuse(entries: readonly Revocation[] | undefined, what: 'principal' | 'target', now: number): void {
  const entry = entries?.find((e) => isActive(e, now));
  if (entry) throw new RevokedError(what, entry.reason);
}

// The principals of a config's grants and the target keys each was granted: computed once per config.
const grantIndex = new WeakMap<Config, readonly { principal: string; keys: TargetKey[] }[]>();

function principalKeys(config: Config, matches: (principal: string) => boolean): TargetKey[] {
  let index = grantIndex.get(config);
  if (!index) {
    index = config.grants.flatMap((g) => {
      const grant = parsedGrant(g.principal);
      const principal = grant ? revocationPrincipal(g.principal) : undefined;
      return principal ? [{ principal, keys: grantedKeys(g) }] : [];
    });
    grantIndex.set(config, index);
  }
  return index.filter((g) => matches(g.principal)).flatMap((g) => g.keys);
}

/** An operator's reason as a caller may read it: no control or format characters, at most 300 of them. */
export function cleanReason(reason: unknown): string {
  const text = typeof reason === 'string' ? reason.replace(/[\p{C}]/gu, ' ').trim() : '';
  return text === '' ? 'no reason given' : text.slice(0, 300);
}

/**
 * A table item as an entry, or undefined when it is none (wrong kind, a principal or target that does not
 * parse). Each attribute is type-checked; one of the wrong type counts as absent.
 */
export function entryFromItem(item: Record<string, AttributeValue> | undefined): Revocation | undefined {
  if (!item) return undefined;
  const { str, num } = attributesOf(item);
  const principal = str('principal') === undefined ? undefined : revocationPrincipal(str('principal')!);
  const target = str('target') === undefined ? undefined : targetKeyOf(str('target')!);
  const account = str('account');
  let scope: RevocationScope | undefined;
  switch (str('kind')) {
    case 'principal':
      scope = principal ? { kind: 'principal', principal } : undefined;
      break;
    case 'account':
      scope = account && /^\d{12}$/.test(account) ? { kind: 'account', account } : undefined;
      break;
    case 'target':
      scope = target ? { kind: 'target', target } : undefined;
      break;
    case 'principal-target':
      scope = principal && target ? { kind: 'principal-target', principal, target } : undefined;
      break;
    case 'rekey': {
      const connection = str('connection');
      scope = connection && CONNECTION_NAME.test(connection) ? { kind: 'rekey', connection } : undefined;
      break;
    }
  }
  if (!scope) return undefined;
  const at = num('at');
  const until = num('until');
  const liftedAt = num('liftedAt');
  return {
    scope,
    reason: cleanReason(str('reason')),
    by: str('by') ?? 'unknown',
    ...(at === undefined ? {} : { at }),
    ...(until === undefined ? {} : { until }),
    ...(liftedAt === undefined ? {} : { liftedAt }),
  };
}

/** An item's attributes, type-checked: one of the wrong type (or a number that is none) is absent. */
export function attributesOf(item: Record<string, AttributeValue>): {
  str(name: string): string | undefined;
  num(name: string): number | undefined;
} {
  return {
    str: (name) => {
      const v = item[name];
      return v && 'S' in v && typeof v.S === 'string' ? v.S : undefined;
    },
    num: (name) => {
      const v = item[name];
      const n = v && 'N' in v && typeof v.N === 'string' ? Number(v.N) : Number.NaN;
      return Number.isFinite(n) ? n : undefined;
    },
  };
}

/** The table's key for an entry's scope: one item per scope, so revoking twice updates one entry. */
export function revocationKey(scope: RevocationScope): string {
  switch (scope.kind) {
    case 'principal':
      return `principal|${scope.principal}`;
    case 'account':
      return `account|${scope.account}`;
    case 'target':
      return `target|${scope.target}`;
    case 'principal-target':
      return `principal-target|${scope.principal}|${scope.target}`;
    case 'rekey':
      return `rekey|${scope.connection}`;
  }
}

/** Bounds of one read of the table. */
export const REVOCATION_READ_LIMITS = {
  /** One Scan page's timeout (the SDK aborts the request). */
  callTimeoutMs: 1000,
  /** All pages of one read. */
  readBudgetMs: 2000,
  /** Pages of one read (1 MB each): a list larger than this is refused as unreadable. */
  maxPages: 20,
  /** After a failed read, a container that has a list serves on it and tries again this much later. */
  retryAfterFailureMs: 500,
} as const;

/** Read every entry of the table, strongly consistent, within {@link REVOCATION_READ_LIMITS}. */
export async function readRevocationTable(
  client: DynamoDBClient,
  tableName: string,
  now: () => number = Date.now,
): Promise<Revocation[]> {
  const { ScanCommand } = await loadDynamoDb();
  const started = now();
  const entries: Revocation[] = [];
  let start: Record<string, AttributeValue> | undefined;
  for (let page = 0; page < REVOCATION_READ_LIMITS.maxPages; page++) {
    const left = REVOCATION_READ_LIMITS.readBudgetMs - (now() - started);
    if (left <= 0) throw new Error('reading the revocation table took longer than its budget');
    const answer = await client.send(
      new ScanCommand({
        TableName: tableName,
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
      { abortSignal: AbortSignal.timeout(Math.max(1, Math.min(REVOCATION_READ_LIMITS.callTimeoutMs, left))) },
    );
    for (const item of answer.Items ?? []) {
      const entry = entryFromItem(item);
      if (entry) entries.push(entry);
    }
    start = answer.LastEvaluatedKey;
    if (!start) return entries;
  }
  throw new Error(`the revocation table has more than ${REVOCATION_READ_LIMITS.maxPages} pages of entries`);
}

export interface RevocationsOptions {
  readonly config: Config;
  /** Read every entry (default: the table, through {@link readRevocationTable}). */
  readonly read: () => Promise<readonly Revocation[]>;
  /** Every container re-reads the list at least this often (config `revocations.refreshSeconds`). */
  readonly refreshMs: number;
  readonly now?: () => number;
  /** Told each failed read (the container then serves on its last list, or refuses without one). */
  readonly onReadError?: (error: unknown) => void;
  /**
   * Told, after each read, of every `rekey` entry: the connection's key, if read before `loadedBefore`,
   * must be read again (the runtime refreshes the connection's signer).
   */
  readonly onRekey?: (connection: string, loadedBefore: number) => void;
}

/**
 * One container's view of the list: re-read when it is older than `refreshMs` (concurrent vends share one
 * read), kept when a read fails, and refused ({@link RevocationListUnavailableError}) until a first read
 * succeeds. A cached vend between reads pays a few map lookups.
 */
export class Revocations {
  readonly #options: RevocationsOptions;
  readonly #now: () => number;
  #list: RevocationList | undefined;
  /** When the list in hand was read (or, after a failure, when to try again minus refreshMs). */
  #readAt = Number.NEGATIVE_INFINITY;
  #reading: Promise<void> | undefined;
  #lastError: unknown;

  constructor(options: RevocationsOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Refuse a revoked caller or target; otherwise, before when the target's cached tokens are tainted.
   * Synchronous while the list is fresh (a cached vend does not wait on a promise for it).
   */
  check(
    caller: Caller,
    target: AuthorizedTarget,
  ): { readonly taintedBefore: number } | Promise<{ readonly taintedBefore: number }> {
    const now = this.#now();
    if (this.#list && now - this.#readAt < this.#options.refreshMs)
      return this.#list.check(caller, target, now);
    return this.current().then((list) => list.check(caller, target, this.#now()));
  }

  /** The list, read again first when it is older than `refreshMs`. */
  async current(): Promise<RevocationList> {
    if (!this.#list || this.#now() - this.#readAt >= this.#options.refreshMs) {
      this.#reading ??= this.#read().finally(() => {
        this.#reading = undefined;
      });
      await this.#reading;
    }
    if (!this.#list) throw new RevocationListUnavailableError({ cause: this.#lastError });
    return this.#list;
  }

  async #read(): Promise<void> {
    const started = this.#now();
    try {
      const entries = await this.#options.read();
      // Entries are at least as fresh as the moment the read began.
      this.#list = new RevocationList(entries, this.#options.config, started, this.#options.refreshMs + 2000);
      this.#readAt = started;
      for (const [connection, loadedBefore] of this.#list.rekeys)
        this.#options.onRekey?.(connection, loadedBefore);
    } catch (error) {
      this.#lastError = error;
      this.#options.onReadError?.(error);
      // Keep the last list; try again soon rather than on every vend.
      if (this.#list)
        this.#readAt = this.#now() - this.#options.refreshMs + REVOCATION_READ_LIMITS.retryAfterFailureMs;
    }
  }
}
