import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackServer, readBoundedBody } from '../loopback';
import { type Fault, FaultQueue } from './faults';
import { type EmulatedIntegration, type IntegrationSpec, makeIntegration } from './integrations';
import { verifySnowflakeJwt } from './jwt-verifier';
import { answerTokenRequest, type IssuedAccessToken, type OAuthClientSpec } from './oauth';
import { networkRefusal, signInWithPat } from './pats';
import {
  DEFAULT_PAT_POLICY,
  type EmulatedAccount,
  type EmulatedInstance,
  type EmulatedPat,
  type EmulatedUser,
  type InstanceSpec,
  type IssuedPostgresToken,
  makeUser,
  type PatPolicy,
  publicKeyBodyOf,
  resolveIdentifier,
  type UserSpec,
} from './state';
import { executeStatement, type StatementOutcome } from './statements';
import { WifVerifier } from './wif-verifier';

export interface SnowflakeEmulatorOptions {
  /** Account name as it appears in JWTs (`MYORG-MYACCOUNT`). */
  readonly accountName: string;
  /** Optional account locator (`XY12345`), also accepted in JWTs. */
  readonly accountLocator?: string;
  readonly users?: readonly UserSpec[];
  readonly postgresInstances?: readonly InstanceSpec[];
  /** 0 (default) picks a free port. Always bound to 127.0.0.1. */
  readonly port?: number;
  readonly now?: () => number;
  /**
   * Answer every JWT problem with the generic 390144 as production Snowflake usually does (the specific
   * code is then only visible to an admin). Default false: answer the specific code.
   */
  readonly genericJwtErrors?: boolean;
  /** Clients of the emulated OAuth token endpoint at `/oauth/token`. */
  readonly oauthClients?: readonly OAuthClientSpec[];
  /** Security integrations that exist from the start. */
  readonly integrations?: readonly IntegrationSpec[];
  /** Called (and awaited) for every Postgres token issued, before the answer is sent. */
  readonly onPostgresToken?: (token: IssuedPostgresToken) => void | Promise<void>;
  /** The account's PAT policy (an authentication policy's `PAT_POLICY`); default Snowflake's defaults. */
  readonly patPolicy?: Partial<PatPolicy>;
  /**
   * Extra roles that exist (besides those granted to users): the ones an admin session may `GRANT`.
   * ACCOUNTADMIN, SECURITYADMIN, USERADMIN and SYSADMIN always exist.
   */
  readonly roles?: readonly string[];
  /**
   * Where requests come from, as network policies see it (default: the socket's address, 127.0.0.1 here).
   * A test sets it to play a caller outside a policy's rules.
   */
  readonly sourceIp?: () => string | undefined;
}

/** One HTTP request the emulator received. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly receivedAt: number;
  status?: number;
}

/** One statement the emulator actually executed. */
export interface Execution {
  readonly requestId: string;
  readonly statementHandle: string;
  readonly statement: string;
  readonly label: string;
  readonly user: string;
  readonly role: string;
  readonly outcome: StatementOutcome['kind'];
  readonly at: number;
}

interface StoredStatement {
  readonly handle: string;
  readonly requestId: string;
  readonly user: string;
  readonly status: number;
  readonly body: Record<string, unknown>;
  pollsRemaining: number;
}

const MAX_BODY_BYTES = 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A strict Snowflake SQL API v2 emulator on 127.0.0.1: it verifies key-pair JWTs as Snowflake does,
 * requires the headers the API requires, answers in the API's shapes and codes, honours `requestId` +
 * `retry=true`, records what it receives, and injects faults on demand.
 *
 * @example
 * ```ts
 * const sf = await startSnowflakeEmulator({ accountName: 'MYORG-ACCT', users: [{ name: 'SVC', roles: ['VENDOR'], publicKey }] });
 * sf.faults.push({ kind: 'throttle', retryAfterSeconds: 1 }, 2);
 * await sf.close();
 * ```
 */
export class SnowflakeEmulator extends LoopbackServer {
  readonly faults = new FaultQueue();
  readonly requests: RecordedRequest[] = [];
  readonly executions: Execution[] = [];
  readonly users = new Map<string, EmulatedUser>();
  readonly instances = new Map<string, EmulatedInstance>();
  readonly tokens = new Map<string, IssuedPostgresToken>();
  /** External API Authentication security integrations (`CREATE/ALTER/DESCRIBE/SHOW … INTEGRATION`). */
  readonly integrations = new Map<string, EmulatedIntegration>();
  /** Databases, schemas, network rules and policies, the account's network policy and PAT policy, roles. */
  readonly account: EmulatedAccount;
  /** Faults for the OAuth token endpoint (only throttle, server-error, delay, drop and malformed apply). */
  readonly oauthFaults = new FaultQueue();
  readonly oauthClients = new Map<string, OAuthClientSpec>();
  readonly accessTokens = new Map<string, IssuedAccessToken>();
  readonly #accounts: Set<string>;
  readonly #statements = new Map<string, StoredStatement>();
  readonly #byRequestId = new Map<string, StoredStatement>();
  readonly #now: () => number;
  readonly #wif: WifVerifier;
  constructor(private readonly options: SnowflakeEmulatorOptions) {
    super(options.port ?? 0, 1000);
    this.#now = options.now ?? Date.now;
    this.#wif = new WifVerifier(() => this.#now());
    this.#accounts = new Set([
      options.accountName.toUpperCase(),
      ...(options.accountLocator ? [options.accountLocator.toUpperCase()] : []),
    ]);
    this.account = {
      databases: new Map(),
      networkRules: new Map(),
      networkPolicies: new Map(),
      roles: new Set([
        'PUBLIC',
        'ACCOUNTADMIN',
        'SECURITYADMIN',
        'USERADMIN',
        'SYSADMIN',
        ...(options.roles ?? []).map((r) => r.toUpperCase()),
      ]),
      patPolicy: { ...DEFAULT_PAT_POLICY, ...options.patPolicy },
    };
    for (const user of options.users ?? []) this.addUser(user);
    for (const instance of options.postgresInstances ?? []) this.addPostgresInstance(instance);
    for (const client of options.oauthClients ?? []) this.oauthClients.set(client.clientId, client);
    for (const spec of options.integrations ?? []) {
      const integration = makeIntegration(spec, new Date(this.#now()));
      this.integrations.set(integration.name, integration);
    }
  }

  protected crashed(res: ServerResponse, error: unknown): void {
    send(res, 500, { code: '000603', message: `Emulator internal error: ${(error as Error).message}` });
  }

  /** The OAuth token endpoint URL (also the audience JWT-bearer assertions must name). */
  get tokenEndpoint(): string {
    return `${this.url}/oauth/token`;
  }

  addUser(spec: UserSpec): EmulatedUser {
    const user = makeUser(spec, new Date(this.#now()));
    this.users.set(user.name, user);
    for (const role of user.roles) this.account.roles.add(role);
    return user;
  }

  /** A user's PATs as the emulator holds them (secrets included: for tests, never shown by any statement). */
  patsOf(userName: string): readonly EmulatedPat[] {
    return this.#user(userName).pats;
  }

  addPostgresInstance(spec: InstanceSpec): EmulatedInstance {
    const instance: EmulatedInstance = {
      name: resolveIdentifier(spec.name),
      ownerRole: spec.ownerRole.toUpperCase(),
      usageRoles: new Set((spec.usageRoles ?? []).map((r) => r.toUpperCase())),
    };
    this.instances.set(instance.name, instance);
    return instance;
  }

  /** Set (or clear, with undefined) a user's key slot, as an admin would with ALTER USER. */
  setUserKey(userName: string, slot: 1 | 2, key: Parameters<typeof publicKeyBodyOf>[0] | undefined): void {
    const user = this.users.get(userName.toUpperCase());
    if (!user) throw new Error(`no user ${userName}`);
    const body = key === undefined ? undefined : publicKeyBodyOf(key);
    const at = key === undefined ? undefined : new Date(this.#now());
    if (slot === 1) {
      user.rsaPublicKey = body;
      user.rsaPublicKeyLastSet = at;
    } else {
      user.rsaPublicKey2 = body;
      user.rsaPublicKey2LastSet = at;
    }
  }

  /**
   * Set (or clear, with undefined) a user's AWS workload identity, as an admin would with
   * `ALTER USER … SET WORKLOAD_IDENTITY = (TYPE = AWS ARN = '…' ISSUER = '…')`.
   */
  setWorkloadIdentity(userName: string, identity: { arn: string; issuer: string } | undefined): void {
    const user = this.#user(userName);
    const others = user.workloadIdentities.filter((w) => w.name !== 'DEFAULT');
    user.workloadIdentities.length = 0;
    if (identity)
      user.workloadIdentities.push({
        name: 'DEFAULT',
        type: 'AWS',
        ...identity,
        createdOn: new Date(this.#now()),
      });
    user.workloadIdentities.push(...others);
  }

  /** `ALTER USER … ADD WORKLOAD IDENTITY <name> TYPE = AWS ARN = '…' ISSUER = '…'`. */
  addWorkloadIdentity(userName: string, name: string, identity: { arn: string; issuer: string }): void {
    const user = this.#user(userName);
    if (
      name.toUpperCase() === 'DEFAULT' ||
      user.workloadIdentities.some((w) => w.name === name.toUpperCase())
    )
      throw new Error(`workload identity ${name} is reserved or exists`);
    user.workloadIdentities.push({
      name: name.toUpperCase(),
      type: 'AWS',
      ...identity,
      createdOn: new Date(this.#now()),
    });
  }

  #user(userName: string): EmulatedUser {
    const user = this.users.get(userName.toUpperCase());
    if (!user) throw new Error(`no user ${userName}`);
    return user;
  }

  /** The issued token if it exists and has not expired (expiry only blocks new connections). */
  validatePostgresToken(token: string): IssuedPostgresToken | undefined {
    const issued = this.tokens.get(token);
    return issued && issued.expiresAt.getTime() > this.#now() ? issued : undefined;
  }

  /** Executions of statements whose label is `label` (`generate-postgres-token`, `desc-user`, …). */
  executionsOf(label: string): Execution[] {
    return this.executions.filter((e) => e.label === label);
  }

  /** Forget recorded requests and executions (not users, keys or tokens). */
  clearRecords(): void {
    this.requests.length = 0;
    this.executions.length = 0;
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const body = (await readBoundedBody(req, MAX_BODY_BYTES))?.toString('utf8');
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
      ),
      body: body ?? '',
      receivedAt: this.#now(),
    };
    this.requests.push(record);
    const reply = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      send(res, status, payload, headers);
    };

    if (url.pathname === '/oauth/token') {
      if (req.method !== 'POST')
        return reply(405, { error: 'invalid_request', error_description: 'use POST' });
      const fault = this.oauthFaults.take();
      if (fault && (await this.#applyFault(fault, req, res, record))) return;
      const answer = await answerTokenRequest(
        req.headers['content-type'],
        body ?? '',
        this.oauthClients,
        this.tokenEndpoint,
        this.#now(),
        (t) => this.accessTokens.set(t.token, t),
      );
      return reply(answer.status, answer.body, answer.status === 200 ? { 'Cache-Control': 'no-store' } : {});
    }

    const poll = /^\/api\/v2\/statements\/([^/]+)$/.exec(url.pathname);
    const isSubmit = url.pathname === '/api/v2/statements';
    if (!isSubmit && !poll) return reply(404, { code: '390404', message: `Unknown path ${url.pathname}.` });
    if (isSubmit && req.method !== 'POST')
      return reply(405, { code: '390405', message: 'Use POST to submit statements.' });
    if (poll && req.method !== 'GET')
      return reply(405, { code: '390405', message: 'Use GET to poll a statement.' });
    if (body === undefined) return reply(413, { code: '390142', message: 'Request body too large.' });

    const fault = this.faults.take();
    if (fault && !('afterExecute' in fault && fault.afterExecute)) {
      const handled = await this.#applyFault(fault, req, res, record);
      if (handled) return;
    }

    if (!req.headers['user-agent'])
      return reply(400, { code: '391903', message: 'User-Agent header is required.' });
    const accept = req.headers.accept;
    if (accept && !/application\/json|\*\/\*/.test(accept))
      return reply(406, { code: '391906', message: 'Accept must allow application/json.' });

    const caller = await this.#authenticate(req);
    if ('code' in caller) return reply(401, { code: caller.code, message: caller.message });
    // A network policy the user is subject to applies to every way of signing in.
    const refused = networkRefusal(caller.user, this.account, this.#sourceIp(req));
    if (refused) return reply(403, refused);

    if (poll) return this.#poll(poll[1]!, caller.user, reply);

    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      return reply(415, {
        code: '391902',
        message: 'Unsupported media type; use Content-Type: application/json.',
      });
    }
    const requestId = url.searchParams.get('requestId') ?? randomUUID();
    if (!UUID.test(requestId)) return reply(400, { code: '390142', message: 'requestId must be a UUID.' });
    const retry = url.searchParams.get('retry') === 'true';
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return reply(400, { code: '390142', message: 'Incoming request does not contain a valid payload.' });
    }
    if (typeof payload.statement !== 'string' || payload.statement.trim() === '') {
      return reply(400, {
        code: '390142',
        message: 'Incoming request does not contain a valid payload: statement is required.',
      });
    }

    const previous = this.#byRequestId.get(requestId);
    if (previous && retry && previous.user === caller.user.name) {
      // The statement already ran: answer as before without running it again.
      if (previous.pollsRemaining > 0) return reply(202, accepted(previous.handle, requestId));
      return reply(previous.status, previous.body);
    }

    if (fault?.kind === 'statement-timeout') {
      const handle = randomUUID();
      const timeout = typeof payload.timeout === 'number' ? payload.timeout : 0;
      return reply(408, {
        code: '000630',
        sqlState: '57014',
        message: `Statement reached its statement or warehouse timeout of ${timeout} second(s) and was canceled.`,
        statementHandle: handle,
        statementStatusUrl: statusUrl(handle, requestId),
      });
    }

    const stored = await this.#execute(payload, requestId, caller.user, caller.pat);
    this.#statements.set(stored.handle, stored);
    this.#byRequestId.set(requestId, stored);

    if (fault && 'afterExecute' in fault && fault.afterExecute) {
      await this.#applyFault(fault, req, res, record);
      return;
    }
    if (fault?.kind === 'async') {
      stored.pollsRemaining = fault.polls;
      return reply(202, accepted(stored.handle, requestId));
    }
    return reply(stored.status, stored.body);
  }

  /** Apply a fault; returns true when the request has been answered (or dropped). */
  async #applyFault(
    fault: Fault,
    _req: IncomingMessage,
    res: ServerResponse,
    record: RecordedRequest,
  ): Promise<boolean> {
    switch (fault.kind) {
      case 'throttle':
        record.status = 429;
        send(
          res,
          429,
          { code: '390505', message: 'Too many requests. Please retry later.' },
          fault.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(fault.retryAfterSeconds) },
        );
        return true;
      case 'server-error':
        record.status = fault.status;
        if (fault.status === 502 || fault.status === 504) {
          res
            .writeHead(fault.status, { 'Content-Type': 'text/html' })
            .end(`<html><body>${fault.status} Gateway error</body></html>`);
        } else {
          send(res, fault.status, { code: '390503', message: 'Service temporarily unavailable.' });
        }
        return true;
      case 'drop':
        record.status = 0;
        res.socket?.destroy();
        return true;
      case 'malformed':
        record.status = 200;
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end('{"resultSetMetaData": {"numRows": 1, "format": "jsonv2"');
        return true;
      case 'delay':
        await new Promise((resolve) => setTimeout(resolve, fault.ms));
        return false;
      default:
        return false; // async and statement-timeout are applied by the caller
    }
  }

  /** The request's source address, as a network policy sees it. */
  #sourceIp(req: IncomingMessage): string {
    return (this.options.sourceIp?.() ?? req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  }

  async #authenticate(
    req: IncomingMessage,
  ): Promise<{ user: EmulatedUser; pat?: EmulatedPat } | { code: string; message: string }> {
    const authorization = req.headers.authorization ?? '';
    const match = /^Bearer (\S+)$/.exec(authorization);
    // Snowflake's exact code for a missing header is undocumented; 390101 is the emulator's choice.
    if (!match) return { code: '390101', message: 'Authorization header not found or not a Bearer token.' };
    const tokenType = req.headers['x-snowflake-authorization-token-type'];
    const incident = randomUUID();
    if (tokenType === 'PROGRAMMATIC_ACCESS_TOKEN') {
      const signedIn = signInWithPat(
        match[1]!,
        this.#sourceIp(req),
        this.users,
        this.account,
        new Date(this.#now()),
      );
      if ('code' in signedIn) return { code: signedIn.code, message: `${signedIn.message} [${incident}]` };
      return signedIn;
    }
    if (tokenType === 'WORKLOAD_IDENTITY_FEDERATION') {
      const verified = await this.#wif.verify(match[1]!, this.users);
      if (!('code' in verified)) return verified;
      if (this.options.genericJwtErrors)
        return { code: '390144', message: `JWT token is invalid. [${incident}]` };
      return {
        code: verified.code,
        message: `Workload identity authentication failed: ${verified.reason}. [${incident}]`,
      };
    }
    if (tokenType !== undefined && tokenType !== 'KEYPAIR_JWT') {
      return {
        code: '390144',
        message: `JWT token is invalid: token type ${tokenType} is not supported here. [${incident}]`,
      };
    }
    const verified = await verifySnowflakeJwt(match[1]!, this.#accounts, this.users, this.#now());
    if ('code' in verified) {
      if (this.options.genericJwtErrors)
        return { code: '390144', message: `JWT token is invalid. [${incident}]` };
      return { code: verified.code, message: `JWT token is invalid: ${verified.reason}. [${incident}]` };
    }
    return { user: verified.user };
  }

  #poll(handle: string, user: EmulatedUser, reply: (status: number, payload: unknown) => void): void {
    const stored = this.#statements.get(handle);
    if (!stored || stored.user !== user.name) {
      reply(422, {
        code: '000709',
        sqlState: '02000',
        message: `Statement ${handle} not found.`,
        statementHandle: handle,
      });
      return;
    }
    if (stored.pollsRemaining > 0) {
      stored.pollsRemaining -= 1;
      reply(202, accepted(handle, stored.requestId));
      return;
    }
    reply(stored.status, stored.body);
  }

  async #execute(
    payload: Record<string, unknown>,
    requestId: string,
    user: EmulatedUser,
    pat?: EmulatedPat,
  ): Promise<StoredStatement> {
    const handle = randomUUID();
    const createdOn = this.#now();
    // A role-restricted PAT's session has that role only (secondary roles are never used).
    const restriction = pat?.roleRestriction;
    const role = typeof payload.role === 'string' ? payload.role : (restriction ?? user.defaultRole);
    const statement = payload.statement as string;
    const base = { handle, requestId, user: user.name, pollsRemaining: 0 };
    const record = (label: string, outcome: StatementOutcome['kind']) =>
      this.executions.push({
        requestId,
        statementHandle: handle,
        statement,
        label,
        user: user.name,
        role,
        outcome,
        at: createdOn,
      });

    if (!user.roles.has(role) || (restriction !== undefined && role !== restriction)) {
      record('session', 'error');
      return {
        ...base,
        status: 422,
        body: {
          code: '390189',
          sqlState: '08004',
          message:
            restriction !== undefined && role !== restriction
              ? `Role '${role}' specified in the connect string is not granted to this user: the programmatic access token is restricted to role '${restriction}'.`
              : `Role '${role}' specified in the connect string is not granted to this user.`,
          statementHandle: handle,
          statementStatusUrl: statusUrl(handle, requestId),
        },
      };
    }
    const bindings = parseBindings(payload.bindings);
    const issued: IssuedPostgresToken[] = [];
    const outcome = executeStatement(statement, {
      user,
      role,
      users: this.users,
      instances: this.instances,
      integrations: this.integrations,
      bindings,
      now: new Date(createdOn),
      issueToken: (token) => issued.push(token),
      account: this.account,
      createUser: (spec) => {
        this.addUser({
          name: spec.name,
          type: spec.type,
          roles: [],
          // The creating role owns the user.
          keyAdminRoles: [role],
          ...(spec.defaultRole ? { defaultRole: spec.defaultRole } : {}),
        });
      },
      ...(pat ? { viaPatOf: user.name } : {}),
      ...(typeof payload.database === 'string' ? { database: payload.database } : {}),
      ...(typeof payload.schema === 'string' ? { schema: payload.schema } : {}),
    });
    for (const token of issued) {
      this.tokens.set(token.token, token);
      await this.options.onPostgresToken?.(token);
    }
    record(outcome.label, outcome.kind);
    if (outcome.kind === 'error') {
      return {
        ...base,
        status: 422,
        body: {
          code: outcome.code,
          sqlState: outcome.sqlState,
          message: outcome.message,
          statementHandle: handle,
          statementStatusUrl: statusUrl(handle, requestId),
        },
      };
    }
    return {
      ...base,
      status: 200,
      body: {
        resultSetMetaData: {
          numRows: outcome.rows.length,
          format: 'jsonv2',
          partitionInfo: [
            { rowCount: outcome.rows.length, uncompressedSize: JSON.stringify(outcome.rows).length },
          ],
          rowType: outcome.rowType,
        },
        data: outcome.rows,
        code: '090001',
        statementStatusUrl: statusUrl(handle, requestId),
        requestId,
        sqlState: '00000',
        statementHandle: handle,
        message: 'Statement executed successfully.',
        createdOn,
      },
    };
  }
}

/**
 * Start an emulator on 127.0.0.1 and wait until it listens.
 *
 * @example
 * ```ts
 * const sf = await startSnowflakeEmulator({ accountName: 'MYORG-ACCT', users: [{ name: 'SVC', publicKey }] });
 * ```
 */
export function startSnowflakeEmulator(options: SnowflakeEmulatorOptions): Promise<SnowflakeEmulator> {
  return new SnowflakeEmulator(options).listen();
}

function statusUrl(handle: string, requestId: string): string {
  return `/api/v2/statements/${handle}?requestId=${requestId}`;
}

function accepted(handle: string, requestId: string): Record<string, unknown> {
  return {
    code: '333334',
    message:
      'Asynchronous execution in progress. Use provided query id to perform query monitoring and management.',
    statementHandle: handle,
    statementStatusUrl: statusUrl(handle, requestId),
  };
}

/** `{"1": {"type": "TEXT", "value": "x"}, …}` → values in index order. */
function parseBindings(bindings: unknown): string[] {
  if (!bindings || typeof bindings !== 'object') return [];
  return Object.entries(bindings as Record<string, { value?: unknown }>)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([, v]) => (typeof v?.value === 'string' ? v.value : String(v?.value)));
}

function send(
  res: ServerResponse,
  status: number,
  payload: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(payload);
  res
    .writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      ...headers,
    })
    .end(body);
}
