import { SnowflakeError, SnowflakeErrorCode } from './errors';
import type { ExecuteOptions, SqlApiClient, StatementResult } from './sql-api';
import { quoteLiteral } from './sql-literal';
import { userIdentifier } from './user-keys';

/**
 * Programmatic access tokens (PATs) through the SQL API, as Snowflake documents them
 * (`ALTER USER … ADD | REMOVE PROGRAMMATIC ACCESS TOKEN`, `SHOW USER PROGRAMMATIC ACCESS TOKENS`), and
 * what the vendor reads to tell why Snowflake would refuse one: the user's type, network policy, roles
 * and tokens. The session that runs these must not be a PAT session of the same user (Snowflake refuses
 * it); the vendor signs in with its key pair or its workload identity.
 */

/** Snowflake's cap: a user holds at most 15 PATs, counting disabled ones and not expired ones. */
export const MAX_PATS_PER_USER = 15;

/** A PAT the vendor just made: its secret appears here and nowhere else, ever. */
export interface AddedPat {
  readonly name: string;
  readonly secret: string;
  readonly statementHandle: string;
  readonly requestId: string;
  /** When the ADD was first sent: a lower bound on Snowflake's clock start for the token. */
  readonly sentAt: number;
}

/** One row of `SHOW USER PROGRAMMATIC ACCESS TOKENS` (never a secret: Snowflake shows none). */
export interface ListedPat {
  readonly name: string;
  readonly roleRestriction?: string;
  readonly expiresAt?: Date;
  /** `ACTIVE`, `EXPIRED` or `DISABLED`. */
  readonly status: string;
  readonly comment?: string;
  readonly createdOn?: Date;
}

/** A name Snowflake takes unquoted: what the vendor names its tokens (see pat/names.ts). */
const PAT_NAME = /^[A-Z_][A-Z0-9_]{0,254}$/;

function checkName(name: string): void {
  if (!PAT_NAME.test(name)) throw new TypeError(`Not a PAT name the vendor writes: ${JSON.stringify(name)}.`);
}

/** Reject what cannot be sent inside a literal (control and format characters); the rest is quoted. */
function checkText(what: string, value: string): void {
  if (/[\p{Cc}\p{Cf}]/u.test(value) || value.length > 1024)
    throw new TypeError(`The ${what} must be at most 1024 characters without control characters.`);
}

/** The value of column `name` in `row` (columns by name, as Snowflake's order may grow). */
function column(
  result: StatementResult,
  row: readonly (string | null)[],
  name: string,
): string | null | undefined {
  const at = result.columns.findIndex((c) => c.name.toLowerCase() === name);
  return at < 0 ? undefined : row[at];
}

/**
 * `ALTER USER <user> ADD PROGRAMMATIC ACCESS TOKEN <name> ROLE_RESTRICTION = '<role>' DAYS_TO_EXPIRY = 1
 * COMMENT = '…'`: one day, the shortest Snowflake allows; the vendor removes it when its lease ends.
 *
 * @example
 * ```ts
 * const { secret } = await addPat(sql, { user: 'BI_SVC', name, role: 'REPORTING_READER', comment, deadline });
 * ```
 */
export async function addPat(
  sql: SqlApiClient,
  options: { user: string; name: string; role: string; comment: string } & Pick<ExecuteOptions, 'deadline'>,
): Promise<AddedPat> {
  checkName(options.name);
  checkText('role restriction', options.role);
  checkText('comment', options.comment);
  const result = await sql.execute(
    `ALTER USER ${userIdentifier(options.user)} ADD PROGRAMMATIC ACCESS TOKEN ${options.name} ROLE_RESTRICTION = ${quoteLiteral(options.role)} DAYS_TO_EXPIRY = 1 COMMENT = ${quoteLiteral(options.comment)}`,
    { deadline: options.deadline, queryTag: 'token-vendor' },
  );
  const row = result.rows[0];
  const secret = row ? column(result, row, 'token_secret') : undefined;
  const name = row ? column(result, row, 'token_name') : undefined;
  if (result.rows.length !== 1 || !secret || name?.toUpperCase() !== options.name)
    throw new SnowflakeError(
      SnowflakeErrorCode.Protocol,
      'ALTER USER … ADD PROGRAMMATIC ACCESS TOKEN answered without the token it made (no token_secret for that token_name).',
      { statementHandle: result.statementHandle, requestId: result.requestId },
    );
  return {
    name: options.name,
    secret,
    statementHandle: result.statementHandle,
    requestId: result.requestId,
    sentAt: result.sentAt,
  };
}

/**
 * `ALTER USER <user> REMOVE PROGRAMMATIC ACCESS TOKEN <name>`: revoked for good.
 *
 * @example
 * ```ts
 * await removePat(sql, { user: 'BI_SVC', name, deadline });
 * ```
 */
export async function removePat(
  sql: SqlApiClient,
  options: { user: string; name: string } & Pick<ExecuteOptions, 'deadline'>,
): Promise<void> {
  checkName(options.name);
  await sql.execute(
    `ALTER USER ${userIdentifier(options.user)} REMOVE PROGRAMMATIC ACCESS TOKEN ${options.name}`,
    {
      deadline: options.deadline,
      queryTag: 'token-vendor',
    },
  );
}

/**
 * `SHOW USER PROGRAMMATIC ACCESS TOKENS FOR USER <user>`: every token (expired ones for 30 days), no secret.
 *
 * @example
 * ```ts
 * const tokens = await listPats(sql, 'BI_SVC');
 * ```
 */
export async function listPats(
  sql: SqlApiClient,
  user: string,
  options: Pick<ExecuteOptions, 'deadline'> = {},
): Promise<ListedPat[]> {
  const result = await sql.execute(`SHOW USER PROGRAMMATIC ACCESS TOKENS FOR USER ${userIdentifier(user)}`, {
    deadline: options.deadline,
    queryTag: 'token-vendor',
  });
  return result.rows.flatMap((row) => {
    const name = column(result, row, 'name');
    if (!name) return [];
    const role = column(result, row, 'role_restriction');
    const comment = column(result, row, 'comment');
    const expiresAt = showTime(column(result, row, 'expires_at'));
    const createdOn = showTime(column(result, row, 'created_on'));
    return [
      {
        name,
        status: (column(result, row, 'status') ?? '').toUpperCase(),
        ...(role ? { roleRestriction: role } : {}),
        ...(comment ? { comment } : {}),
        ...(expiresAt ? { expiresAt } : {}),
        ...(createdOn ? { createdOn } : {}),
      },
    ];
  });
}

/** Does a listed token count toward the cap of 15 at `now`? Disabled ones do; expired ones do not. */
export function countsTowardCap(pat: ListedPat, now: number): boolean {
  if (pat.status === 'EXPIRED') return false;
  return pat.expiresAt === undefined || pat.expiresAt.getTime() > now;
}

/**
 * A time as SHOW prints it (`2026-12-07 10:15:00.000 +0000`, `… -0800`) or as ISO text; undefined when
 * it is neither.
 */
export function showTime(value: string | null | undefined): Date | undefined {
  if (!value) return undefined;
  const m = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(?:\.\d{1,9})?)\s*(Z|[+-]\d\d:?\d\d)?$/.exec(value.trim());
  if (!m) return undefined;
  const zone = m[3] === undefined || m[3] === 'Z' ? 'Z' : `${m[3].slice(0, 3)}:${m[3].slice(-2)}`;
  const time = Date.parse(`${m[1]}T${m[2]!.slice(0, 12)}${zone}`);
  return Number.isNaN(time) ? undefined : new Date(time);
}

/** What the vendor can see of a PAT user: whether Snowflake would let it make and use tokens. */
export interface PatReadiness {
  readonly user: string;
  /** `TYPE` (`SERVICE`, `LEGACY_SERVICE`, `PERSON`, or empty for a user of no type). */
  readonly type: string;
  /** The network policy the user is subject to (its own or the account's), if any. */
  readonly networkPolicy?: string;
  /** The roles granted to the user. */
  readonly roles: readonly string[];
  readonly tokens: readonly ListedPat[];
}

/**
 * Read what decides whether Snowflake makes a PAT for `user`: `DESC USER` (its type), `SHOW PARAMETERS
 * LIKE 'NETWORK_POLICY' IN USER` (its network policy, or the account's), `SHOW GRANTS TO USER` (its roles)
 * and `SHOW USER PROGRAMMATIC ACCESS TOKENS` (how many it holds). Read-only.
 *
 * @example
 * ```ts
 * const readiness = await readPatReadiness(sql, 'BI_SVC');
 * ```
 */
export async function readPatReadiness(
  sql: SqlApiClient,
  user: string,
  options: Pick<ExecuteOptions, 'deadline'> = {},
): Promise<PatReadiness> {
  const id = userIdentifier(user);
  const run = (statement: string) =>
    sql.execute(statement, { deadline: options.deadline, queryTag: 'token-vendor' });
  const [desc, parameters, grants, tokens] = await Promise.all([
    run(`DESC USER ${id}`),
    run(`SHOW PARAMETERS LIKE 'NETWORK_POLICY' IN USER ${id}`),
    run(`SHOW GRANTS TO USER ${id}`),
    listPats(sql, user, options),
  ]);
  const typeRow = desc.rows.find((r) => column(desc, r, 'property') === 'TYPE');
  const type = ((typeRow ? column(desc, typeRow, 'value') : '') ?? '').toUpperCase();
  const policyRow = parameters.rows.find(
    (r) => (column(parameters, r, 'key') ?? '').toUpperCase() === 'NETWORK_POLICY',
  );
  const policy = policyRow ? column(parameters, policyRow, 'value') : undefined;
  const roles = grants.rows.flatMap((r) => {
    const role = column(grants, r, 'role');
    return role ? [role] : [];
  });
  return {
    user: user.toUpperCase(),
    type: type === 'NULL' ? '' : type,
    ...(policy ? { networkPolicy: policy } : {}),
    roles,
    tokens,
  };
}

/** Why Snowflake would refuse a PAT for `role` on this user, with the fix; undefined when nothing is wrong. */
export type PatProblem =
  | { readonly kind: 'limit'; readonly message: string; readonly counted: number }
  | { readonly kind: 'role-not-granted' | 'no-network-policy' | 'blocked-role'; readonly message: string };

/**
 * The first rule a PAT for `role` would break, read from `readiness`: the role is blocked, the role is
 * not granted to the user, a service user is under no network policy, or the user holds 15 tokens.
 *
 * @example
 * ```ts
 * const problem = patProblem(await readPatReadiness(sql, 'BI_SVC'), 'REPORTING_READER', { now: Date.now() });
 * ```
 */
export function patProblem(
  readiness: PatReadiness,
  role: string,
  options: { readonly now: number; readonly blockedRoles?: readonly string[] },
): PatProblem | undefined {
  const user = readiness.user;
  if ((options.blockedRoles ?? []).some((b) => b.toUpperCase() === role.toUpperCase()))
    return {
      kind: 'blocked-role',
      message: `Role ${role} is on the account's blocked roles list for PATs; restrict the grant to another role.`,
    };
  if (!readiness.roles.includes(role))
    return {
      kind: 'role-not-granted',
      message: `Role ${role} is not granted to Snowflake user ${user}, so it cannot restrict a PAT; an administrator runs: GRANT ROLE ${role} TO USER ${user}`,
    };
  if ((readiness.type === 'SERVICE' || readiness.type === 'LEGACY_SERVICE') && !readiness.networkPolicy)
    return {
      kind: 'no-network-policy',
      message: `Snowflake user ${user} is a service user under no network policy, and Snowflake makes PATs for service users only under one; an administrator creates a network rule and policy and runs: ALTER USER ${user} SET NETWORK_POLICY = <policy> (docs/pat.md)`,
    };
  const counted = readiness.tokens.filter((t) => countsTowardCap(t, options.now)).length;
  if (counted >= MAX_PATS_PER_USER)
    return {
      kind: 'limit',
      counted,
      message: `Snowflake user ${user} holds ${counted} PATs, the most Snowflake allows (${MAX_PATS_PER_USER}, disabled ones included).`,
    };
  return undefined;
}
