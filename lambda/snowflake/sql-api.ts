import { randomUUID } from 'node:crypto';
import type { Signer } from '../keys/signer';
import {
  DEFAULT_RETRY_POLICY,
  isRetriableStatus,
  nextDelay,
  parseRetryAfter,
  type RetryPolicy,
} from '../retry';
import { USER_AGENT } from '../version';
import { KeyPairAuthenticator, type SqlApiAuthenticator, type SqlApiCredential } from './authenticator';
import { SnowflakeError, SnowflakeErrorCode } from './errors';

/**
 * How hard the client tries: the project's one retry policy (`lambda/retry.ts`; `maxAttempts` counts
 * submissions, the first included) plus how a 202 is polled.
 */
export interface SqlApiRetryPolicy extends RetryPolicy {
  /** First wait before polling a 202, growing ×1.5 up to `pollMaxMs`. */
  readonly pollInitialMs: number;
  readonly pollMaxMs: number;
}

export const DEFAULT_SQL_API_RETRY: SqlApiRetryPolicy = {
  ...DEFAULT_RETRY_POLICY,
  pollInitialMs: 100,
  pollMaxMs: 2000,
};

/** Key-pair sign-in given by its parts (the client builds the {@link KeyPairAuthenticator}). */
export interface KeyPairSignIn {
  /** Account identifier in any form `parseAccountIdentifier` accepts. */
  readonly account: string;
  readonly user: string;
  readonly signer: Signer;
  readonly jwtLifetimeSeconds?: number;
}

export type SqlApiClientOptions = SqlApiSettings &
  (KeyPairSignIn | { readonly authenticator: SqlApiAuthenticator });

export interface SqlApiSettings {
  /** `https://<account>.snowflakecomputing.com` (or a privatelink host, or the emulator). */
  readonly baseUrl: string;
  /** Session context sent with every statement (case-sensitive, as SHOW prints them). */
  readonly role?: string;
  readonly warehouse?: string;
  readonly database?: string;
  readonly schema?: string;
  /** The statement `timeout` Snowflake enforces; default 30 s. */
  readonly statementTimeoutSeconds?: number;
  readonly userAgent?: string;
  readonly retry?: Partial<SqlApiRetryPolicy>;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly randomUUID?: () => string;
}

export interface ExecuteOptions {
  /** Epoch ms after which no retry or poll starts and no request runs on; default now + timeout + 15 s. */
  readonly deadline?: number;
  /** `{"1": {"type": "TEXT", "value": "…"}}`; values are always strings. */
  readonly bindings?: Readonly<Record<string, { readonly type: string; readonly value: string }>>;
  /** Idempotency key; default a fresh UUID. Re-sends use it with `retry=true`. */
  readonly requestId?: string;
  readonly queryTag?: string;
  readonly signal?: AbortSignal;
}

/** A column of the result set. */
export interface ResultColumn {
  readonly name: string;
  readonly type: string;
  readonly nullable: boolean;
}

/** A finished statement: jsonv2 rows (strings or null) with what identifies the execution. */
export interface StatementResult {
  readonly statementHandle: string;
  readonly requestId: string;
  /** When Snowflake created the statement (epoch ms), if it said. */
  readonly createdOn?: number;
  /** When the client first sent the statement (epoch ms): a lower bound on Snowflake's clock start. */
  readonly sentAt: number;
  readonly columns: readonly ResultColumn[];
  readonly rows: readonly (readonly (string | null)[])[];
  /** POSTs sent (1 when nothing was retried) and polls made. */
  readonly attempts: number;
  readonly polls: number;
}

type Answer =
  | {
      readonly kind: 'http';
      readonly status: number;
      readonly json: Record<string, unknown> | undefined;
      readonly retryAfterMs?: number;
    }
  | { readonly kind: 'network'; readonly error: unknown };

interface CallState {
  readonly requestId: string;
  readonly deadline: number;
  sentAt?: number;
  attempts: number;
  polls: number;
  authRetried: boolean;
  last: string;
}

/**
 * A Snowflake SQL API v2 client on `fetch`, signed in with a key-pair JWT or a workload identity
 * token (its {@link SqlApiAuthenticator}).
 *
 * - Every submission carries a `requestId`; re-sends repeat it with `retry=true`, so a statement that
 *   already ran is never run twice.
 * - 429 (honouring `Retry-After`), 500/502/503/504, network errors and unreadable answers are retried
 *   with jittered exponential backoff; a 202 is polled until it finishes.
 * - A 401 gets one fresh credential (for a key pair and 394304/390144, one re-read of the key too)
 *   before it fails.
 * - Nothing waits past the deadline. One credential is reused across calls until near its expiry.
 *
 * @example
 * ```ts
 * const sql = new SqlApiClient({ baseUrl, account: 'myorg-acct', user: 'svc', signer, role: 'VENDOR' });
 * const { rows } = await sql.execute('SELECT CURRENT_USER()');
 * ```
 */
export class SqlApiClient {
  readonly #options: SqlApiClientOptions;
  readonly #policy: SqlApiRetryPolicy;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #uuid: () => string;
  readonly #baseUrl: string;
  readonly #auth: SqlApiAuthenticator;

  constructor(options: SqlApiClientOptions) {
    this.#options = options;
    this.#policy = { ...DEFAULT_SQL_API_RETRY, ...options.retry };
    this.#fetch = options.fetch ?? fetch;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = options.random ?? Math.random;
    this.#uuid = options.randomUUID ?? randomUUID;
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#auth =
      'authenticator' in options
        ? options.authenticator
        : new KeyPairAuthenticator({ ...options, now: this.#now });
  }

  /** How this client signs in. */
  get authenticator(): SqlApiAuthenticator {
    return this.#auth;
  }

  /**
   * Run one statement and return its rows. Throws a {@link SnowflakeError} with a stable code.
   *
   * @example
   * ```ts
   * const result = await sql.execute('SELECT 1', { deadline: Date.now() + 10_000 });
   * ```
   */
  async execute(statement: string, options: ExecuteOptions = {}): Promise<StatementResult> {
    const timeout = this.#options.statementTimeoutSeconds ?? 30;
    const state: CallState = {
      requestId: options.requestId ?? this.#uuid(),
      deadline: options.deadline ?? this.#now() + (timeout + 15) * 1000,
      attempts: 0,
      polls: 0,
      authRetried: false,
      last: 'no answer',
    };
    const { role, warehouse, database, schema } = this.#options;
    const body = JSON.stringify({
      statement,
      timeout,
      ...(database ? { database } : {}),
      ...(schema ? { schema } : {}),
      ...(warehouse ? { warehouse } : {}),
      ...(role ? { role } : {}),
      ...(options.bindings ? { bindings: options.bindings } : {}),
      ...(options.queryTag ? { parameters: { query_tag: options.queryTag } } : {}),
    });

    for (;;) {
      const resend = state.attempts > 0;
      state.attempts += 1;
      const url = `${this.#baseUrl}/api/v2/statements?requestId=${encodeURIComponent(state.requestId)}${resend ? '&retry=true' : ''}`;
      const credential = await this.#auth.credential();
      const sentAt = this.#now();
      state.sentAt ??= sentAt;
      const answer = await this.#send('POST', url, credential, body, state.deadline, options.signal);

      if (answer.kind === 'http' && answer.status === 200 && isResultSet(answer.json))
        return this.#result(answer.json, state);
      if (answer.kind === 'http' && answer.status === 202)
        return this.#poll(answerHandle(answer.json, state), state, options.signal);
      if (answer.kind === 'http' && answer.status === 401) {
        this.#afterAuthFailure(answer, credential, state);
        continue;
      }
      await this.#backoffOrFail(answer, state, state.attempts >= this.#policy.maxAttempts);
    }
  }

  async #poll(handle: string, state: CallState, signal: AbortSignal | undefined): Promise<StatementResult> {
    const url = `${this.#baseUrl}/api/v2/statements/${encodeURIComponent(handle)}`;
    let wait = this.#policy.pollInitialMs;
    let failures = 0;
    for (;;) {
      const delay = Math.round(wait * (0.5 + this.#random() / 2));
      if (this.#now() + delay >= state.deadline) {
        throw new SnowflakeError(
          SnowflakeErrorCode.Unavailable,
          `Snowflake statement ${handle} was still running at the deadline after ${state.polls} polls.`,
          { statementHandle: handle, requestId: state.requestId, attempts: state.attempts },
        );
      }
      await this.#sleep(delay);
      wait = Math.min(this.#policy.pollMaxMs, wait * 1.5);
      state.polls += 1;
      const credential = await this.#auth.credential();
      const answer = await this.#send('GET', url, credential, undefined, state.deadline, signal);
      if (answer.kind === 'http' && answer.status === 200 && isResultSet(answer.json))
        return this.#result(answer.json, state);
      if (answer.kind === 'http' && answer.status === 202) continue;
      if (answer.kind === 'http' && answer.status === 401) {
        this.#afterAuthFailure(answer, credential, state);
        continue;
      }
      failures += 1;
      await this.#backoffOrFail(answer, state, failures >= this.#policy.maxAttempts, handle);
    }
  }

  /** One fresh credential per call (the authenticator decides what else to re-read); the second 401 fails. */
  #afterAuthFailure(answer: Answer & { kind: 'http' }, credential: SqlApiCredential, state: CallState): void {
    const code = stringField(answer.json, 'code') ?? 'unknown';
    if (!state.authRetried) {
      state.authRetried = true;
      this.#auth.invalidate(credential, code);
      return;
    }
    throw new SnowflakeError(
      SnowflakeErrorCode.AuthFailed,
      this.#auth.refusal(credential, code, stringField(answer.json, 'message')),
      {
        authentication: this.#auth.kind,
        httpStatus: 401,
        snowflakeCode: code,
        requestId: state.requestId,
        attempts: state.attempts,
      },
    );
  }

  /** Wait before the next try when the answer is retriable and time allows; otherwise throw. */
  async #backoffOrFail(answer: Answer, state: CallState, exhausted: boolean, handle?: string): Promise<void> {
    const statusText = answer.kind === 'network' ? 'network error' : `HTTP ${answer.status}`;
    if (answer.kind === 'http' && !isRetriableStatus(answer.status) && !(answer.status === 200)) {
      throw statementFailure(answer, state);
    }
    state.last = answer.kind === 'http' && answer.status === 200 ? 'an unreadable answer' : statusText;
    if (exhausted) {
      throw new SnowflakeError(
        SnowflakeErrorCode.Unavailable,
        `Snowflake did not answer usefully after ${state.attempts} attempts (last: ${state.last}).`,
        {
          requestId: state.requestId,
          attempts: state.attempts,
          statementHandle: handle,
          ...httpStatusOf(answer),
        },
        { cause: answer.kind === 'network' ? answer.error : undefined },
      );
    }
    const retryAfterMs = answer.kind === 'http' ? answer.retryAfterMs : undefined;
    const next = nextDelay(
      { ...this.#policy, maxAttempts: Number.POSITIVE_INFINITY }, // `exhausted` was decided above
      {
        attempt: state.attempts,
        deadline: state.deadline,
        now: this.#now(),
        random: this.#random,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      },
    );
    if ('giveUp' in next) {
      throw new SnowflakeError(
        SnowflakeErrorCode.Unavailable,
        `Snowflake did not answer usefully before the deadline (${state.attempts} attempts, last: ${state.last}).`,
        {
          requestId: state.requestId,
          attempts: state.attempts,
          statementHandle: handle,
          ...httpStatusOf(answer),
          ...(retryAfterMs === undefined ? {} : { retryAfterSeconds: Math.ceil(retryAfterMs / 1000) }),
        },
      );
    }
    await this.#sleep(next.delayMs);
  }

  async #send(
    method: 'GET' | 'POST',
    url: string,
    credential: SqlApiCredential,
    body: string | undefined,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<Answer> {
    const remaining = deadline - this.#now();
    if (remaining <= 0) return { kind: 'network', error: new Error('deadline reached') };
    const timeout = AbortSignal.timeout(remaining);
    try {
      const response = await this.#fetch(url, {
        method,
        headers: {
          Authorization: `Bearer ${credential.bearer}`,
          'X-Snowflake-Authorization-Token-Type': credential.tokenType,
          Accept: 'application/json',
          'User-Agent': this.#options.userAgent ?? USER_AGENT,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      const text = await response.text();
      let json: Record<string, unknown> | undefined;
      try {
        const parsed: unknown = JSON.parse(text);
        json = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      return {
        kind: 'http',
        status: response.status,
        json,
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), this.#now()),
      };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      return { kind: 'network', error };
    }
  }

  #result(json: Record<string, unknown>, state: CallState): StatementResult {
    const meta = json.resultSetMetaData as Record<string, unknown>;
    const partitions = Array.isArray(meta.partitionInfo) ? meta.partitionInfo.length : 1;
    if (partitions > 1) {
      throw new SnowflakeError(
        SnowflakeErrorCode.Protocol,
        `The result has ${partitions} partitions; the vendor reads single-partition results only.`,
        { statementHandle: stringField(json, 'statementHandle'), requestId: state.requestId },
      );
    }
    const rowType = Array.isArray(meta.rowType) ? (meta.rowType as Record<string, unknown>[]) : [];
    return {
      statementHandle: stringField(json, 'statementHandle') ?? '',
      requestId: state.requestId,
      createdOn: typeof json.createdOn === 'number' ? json.createdOn : undefined,
      sentAt: state.sentAt ?? this.#now(),
      columns: rowType.map((c) => ({
        name: String(c.name),
        type: String(c.type),
        nullable: c.nullable !== false,
      })),
      rows: (json.data as unknown[][]).map((row) => row.map((cell) => (cell === null ? null : String(cell)))),
      attempts: state.attempts,
      polls: state.polls,
    };
  }
}

/**
 * Rows as objects keyed by column name (DESC USER → `{property, value, default, description}`).
 *
 * @example
 * ```ts
 * const props = recordsOf(await sql.execute('DESC USER SVC'));
 * ```
 */
export function recordsOf(result: StatementResult): Record<string, string | null>[] {
  return result.rows.map((row) => Object.fromEntries(result.columns.map((c, i) => [c.name, row[i] ?? null])));
}

function isResultSet(json: Record<string, unknown> | undefined): json is Record<string, unknown> {
  return (
    !!json &&
    typeof json.resultSetMetaData === 'object' &&
    json.resultSetMetaData !== null &&
    Array.isArray(json.data) &&
    json.data.every(Array.isArray)
  );
}

function answerHandle(json: Record<string, unknown> | undefined, state: CallState): string {
  const handle = stringField(json, 'statementHandle');
  if (!handle) {
    throw new SnowflakeError(
      SnowflakeErrorCode.Protocol,
      'Snowflake answered 202 without a statement handle.',
      {
        httpStatus: 202,
        requestId: state.requestId,
      },
    );
  }
  return handle;
}

function stringField(json: Record<string, unknown> | undefined, field: string): string | undefined {
  const value = json?.[field];
  return typeof value === 'string' ? value : undefined;
}

function httpStatusOf(answer: Answer): { httpStatus?: number } {
  return answer.kind === 'http' ? { httpStatus: answer.status } : {};
}

/** A non-retriable answer: 408 timed out, 422 failed, 400/403/404/415 refused. */
function statementFailure(answer: Answer & { kind: 'http' }, state: CallState): SnowflakeError {
  const details = {
    httpStatus: answer.status,
    snowflakeCode: stringField(answer.json, 'code'),
    sqlState: stringField(answer.json, 'sqlState'),
    statementHandle: stringField(answer.json, 'statementHandle'),
    requestId: state.requestId,
    attempts: state.attempts,
  };
  const said = (stringField(answer.json, 'message') ?? '').split('\n').join(' ').slice(0, 300);
  if (answer.status === 408) {
    return new SnowflakeError(
      SnowflakeErrorCode.StatementTimeout,
      `Snowflake cancelled the statement at its timeout: ${said}`,
      details,
    );
  }
  const codePart = details.snowflakeCode ? ` ${details.snowflakeCode}` : '';
  return new SnowflakeError(
    SnowflakeErrorCode.Rejected,
    `Snowflake rejected the request (HTTP ${answer.status}${codePart}): ${said || 'no message'}`,
    details,
  );
}
