import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import {
  Cursor,
  identifier,
  invalidValue,
  properties,
  SqlFailure,
  type StatementResult,
  syntax,
} from './sql-cursor';
import {
  type EmulatedAccount,
  type EmulatedPat,
  type EmulatedUser,
  MAX_PATS_PER_USER,
  snowflakeTimestamp,
} from './state';

/**
 * Programmatic access tokens, as Snowflake documents them (user-guide/programmatic-access-tokens and the
 * `ALTER USER … ADD | REMOVE | ROTATE | MODIFY PROGRAMMATIC ACCESS TOKEN` and `SHOW USER PROGRAMMATIC ACCESS
 * TOKENS` pages): the grammar, the result columns, and the rules a token is made and used under.
 *
 * Snowflake documents the rules but not the error codes its refusals carry; the codes below are the
 * emulator's readings (SQL compilation errors `002xxx`, access control errors `003001`, and for a token
 * that does not authenticate `394400`, with the network policy's own `390422`). The vendor never branches
 * on them: when Snowflake refuses an ADD, it reads the user's state to say why (snowflake/pat.ts).
 */

export interface PatContext {
  /** The session's user and role. */
  readonly user: EmulatedUser;
  readonly role: string;
  readonly users: Map<string, EmulatedUser>;
  readonly account: EmulatedAccount;
  readonly now: Date;
  /** The session signed in with a PAT of this user: it may not add, rotate or remove that user's PATs. */
  readonly viaPatOf?: string;
}

const DAY_MS = 86_400_000;
/** Expired tokens stay listed this long. */
const LISTED_AFTER_EXPIRY_MS = 30 * DAY_MS;

const failure = (code: string, sqlState: string, message: string) => new SqlFailure(code, sqlState, message);
const userMissing = (name: string) =>
  failure('002003', '02000', `SQL compilation error:\nUser '${name}' does not exist or not authorized.`);
const patMissing = (name: string) =>
  failure(
    '002003',
    '02000',
    `SQL compilation error:\nProgrammatic access token '${name}' does not exist or not authorized.`,
  );
const denied = (message: string) => failure('003001', '42501', `SQL access control error:\n${message}`);

/** A token that has not expired (disabled ones included): the ones the cap of 15 counts. */
export const countsTowardCap = (pat: EmulatedPat, now: Date) => pat.expiresAt.getTime() > now.getTime();

/** The network policy a user is subject to: its own, or the account's. */
export function effectiveNetworkPolicy(user: EmulatedUser, account: EmulatedAccount): string | undefined {
  return user.networkPolicy ?? account.networkPolicy;
}

/** A policy with at least one allowed network rule that exists: the only kind the PAT rules accept. */
function usablePolicy(name: string | undefined, account: EmulatedAccount) {
  const policy = name ? account.networkPolicies.get(name) : undefined;
  return policy?.allowedRules.some((r) => account.networkRules.has(r)) ? policy : undefined;
}

const isServiceUser = (user: EmulatedUser) => user.type === 'SERVICE' || user.type === 'LEGACY_SERVICE';

/**
 * `ALTER USER … ADD | REMOVE | ROTATE | MODIFY {PROGRAMMATIC ACCESS TOKEN | PAT} …` and `SHOW USER
 * {PROGRAMMATIC ACCESS TOKENS | PATS} [FOR USER u]`; undefined for any other statement.
 */
export function executePatStatement(statement: string, ctx: PatContext): StatementResult | undefined {
  const c = new Cursor(statement);
  if (c.keyword('SHOW')) {
    if (!c.keyword('USER')) return undefined;
    if (!(c.keyword('PATS') || (c.keyword('PROGRAMMATIC') && c.keyword('ACCESS') && c.keyword('TOKENS'))))
      return undefined;
    let target = ctx.user;
    if (c.keyword('FOR')) {
      c.expect('USER');
      target = userFor(identifier(c), ctx);
    }
    if (!c.done()) throw syntax(c.rest());
    return show(target, ctx);
  }
  if (!c.keyword('ALTER') || !c.keyword('USER')) return undefined;
  const ifExists = c.clause('IF', 'EXISTS');
  // The user name is optional: `ALTER USER ADD PAT x` is the session's own user.
  const start = c.i;
  let action = actionOf(c);
  let userName: string | undefined;
  if (!action) {
    c.i = start;
    userName = identifier(c);
    action = actionOf(c);
    if (!action) return undefined;
  }
  const target = userName === undefined ? ctx.user : ctx.users.get(userName);
  if (!target) {
    if (ifExists)
      return { kind: 'status', label: `pat-${action}`, message: 'Statement executed successfully.' };
    throw userMissing(userName!);
  }
  authorizeManagement(target, ctx, action);
  switch (action) {
    case 'add':
      return add(c, target, ctx);
    case 'remove': {
      const name = identifier(c);
      if (!c.done()) throw syntax(c.rest());
      const at = target.pats.findIndex((p) => p.name === name);
      if (at < 0) throw patMissing(name);
      target.pats.splice(at, 1);
      return { kind: 'status', label: 'pat-remove', message: 'Statement executed successfully.' };
    }
    case 'rotate':
      return rotate(c, target, ctx);
    case 'modify':
      return modify(c, target);
  }
}

type Action = 'add' | 'remove' | 'rotate' | 'modify';

/** `ADD | REMOVE | ROTATE | MODIFY` followed by `PROGRAMMATIC ACCESS TOKEN` or `PAT`, or undefined. */
function actionOf(c: Cursor): Action | undefined {
  const save = c.i;
  for (const action of ['add', 'remove', 'rotate', 'modify'] as const) {
    if (!c.keyword(action.toUpperCase())) continue;
    if (c.keyword('PAT') || (c.keyword('PROGRAMMATIC') && c.keyword('ACCESS') && c.keyword('TOKEN')))
      return action;
    break;
  }
  c.i = save;
  return undefined;
}

function userFor(name: string, ctx: PatContext): EmulatedUser {
  const user = ctx.users.get(name);
  if (!user) throw userMissing(name);
  return user;
}

/**
 * Who may manage a user's tokens: the user itself, or a role with OWNERSHIP or `MODIFY PROGRAMMATIC
 * AUTHENTICATION METHODS` on the user. A session that signed in with a PAT may not add, rotate or remove
 * tokens of its own user.
 */
function authorizeManagement(target: EmulatedUser, ctx: PatContext, action: Action | 'show'): void {
  if (target !== ctx.user && !target.keyAdminRoles.has(ctx.role))
    throw denied(`Insufficient privileges to operate on user '${target.name}'.`);
  if (ctx.viaPatOf === target.name && action !== 'show' && action !== 'modify')
    throw denied(
      `A session authenticated with a programmatic access token cannot ${action} programmatic access tokens of user '${target.name}'.`,
    );
}

function add(c: Cursor, target: EmulatedUser, ctx: PatContext): StatementResult {
  const ifNotExists = c.clause('IF', 'NOT', 'EXISTS');
  const name = identifier(c);
  const props = properties(c);
  for (const key of props.keys())
    if (
      ![
        'ROLE_RESTRICTION',
        'DAYS_TO_EXPIRY',
        'MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT',
        'COMMENT',
      ].includes(key)
    )
      throw syntax(key);
  if (target.pats.some((p) => p.name === name)) {
    if (ifNotExists)
      return { kind: 'status', label: 'pat-add', message: `${name} already exists, statement succeeded.` };
    throw failure(
      '002002',
      '42710',
      `SQL compilation error:\nProgrammatic access token '${name}' already exists.`,
    );
  }
  const text = (key: string) => {
    const v = props.get(key);
    if (v === undefined) return undefined;
    if (v.kind !== 'string') throw invalidValue(key, String(v.value));
    return v.value;
  };
  const whole = (key: string, min: number, max: number) => {
    const v = props.get(key);
    if (v === undefined) return undefined;
    if (v.kind !== 'number' || !Number.isInteger(v.value) || v.value < min || v.value > max)
      throw failure(
        '002211',
        '22023',
        `SQL compilation error:\ninvalid value [${String(v.value)}] for parameter '${key}': must be an integer from ${min} to ${max}`,
      );
    return v.value;
  };
  const policy = ctx.account.patPolicy;
  const role = text('ROLE_RESTRICTION');
  const days = whole('DAYS_TO_EXPIRY', 1, policy.maxExpiryDays) ?? policy.defaultExpiryDays;
  const bypassMinutes = whole('MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT', 1, 1440);
  const comment = text('COMMENT');

  if (role === undefined) {
    if (isServiceUser(target) && policy.requireRoleRestrictionForServiceUsers)
      throw failure(
        '002211',
        '22023',
        `SQL compilation error:\nROLE_RESTRICTION is required for a programmatic access token of service user '${target.name}'.`,
      );
  } else {
    if (policy.blockedRoles.includes(role))
      throw denied(`Role '${role}' is on the blocked roles list of the programmatic access token policy.`);
    if (!target.roles.has(role))
      throw denied(
        `Role '${role}' is not granted to user '${target.name}'; a role restriction must be granted to the user first.`,
      );
  }
  if (
    isServiceUser(target) &&
    policy.networkPolicyEvaluation === 'ENFORCED_REQUIRED' &&
    !usablePolicy(effectiveNetworkPolicy(target, ctx.account), ctx.account)
  )
    throw denied(
      `Service user '${target.name}' must be subject to a network policy with at least one network rule to generate a programmatic access token.`,
    );
  const counted = target.pats.filter((p) => countsTowardCap(p, ctx.now)).length;
  if (counted >= MAX_PATS_PER_USER)
    throw failure(
      '002211',
      '22023',
      `SQL compilation error:\nUser '${target.name}' already has ${counted} programmatic access tokens; the maximum is ${MAX_PATS_PER_USER} (disabled tokens count, expired ones do not).`,
    );
  const secret = newSecret();
  target.pats.push({
    name,
    secret,
    ...(role === undefined ? {} : { roleRestriction: role }),
    expiresAt: new Date(ctx.now.getTime() + days * DAY_MS),
    createdOn: ctx.now,
    createdBy: ctx.viaPatOf ?? ctx.user.name,
    ...(comment === undefined ? {} : { comment }),
    disabled: false,
    ...(bypassMinutes === undefined
      ? {}
      : { minsToBypass: bypassMinutes, bypassUntil: new Date(ctx.now.getTime() + bypassMinutes * 60_000) }),
  });
  return { kind: 'rows', label: 'pat-add', columns: ['token_name', 'token_secret'], rows: [[name, secret]] };
}

/** `ROTATE … [EXPIRE_ROTATED_TOKEN_AFTER_HOURS = n]`: a new secret under the name; the old one, renamed, expires. */
function rotate(c: Cursor, target: EmulatedUser, ctx: PatContext): StatementResult {
  const name = identifier(c);
  const props = properties(c);
  for (const key of props.keys()) if (key !== 'EXPIRE_ROTATED_TOKEN_AFTER_HOURS') throw syntax(key);
  const hoursValue = props.get('EXPIRE_ROTATED_TOKEN_AFTER_HOURS');
  if (hoursValue && (hoursValue.kind !== 'number' || hoursValue.value < 0 || hoursValue.value > 720))
    throw invalidValue('EXPIRE_ROTATED_TOKEN_AFTER_HOURS', String(hoursValue.value));
  const hours = hoursValue?.value as number | undefined;
  const pat = target.pats.find((p) => p.name === name);
  if (!pat || !countsTowardCap(pat, ctx.now)) throw patMissing(name);
  const rotatedName = `${name}_ROTATED_${ctx.now.getTime()}`;
  const old: EmulatedPat = {
    ...pat,
    name: rotatedName,
    rotatedTo: name,
    expiresAt: new Date(Math.min(pat.expiresAt.getTime(), ctx.now.getTime() + (hours ?? 24) * 3_600_000)),
  };
  pat.secret = newSecret();
  target.pats.push(old);
  return {
    kind: 'rows',
    label: 'pat-rotate',
    columns: ['token_name', 'token_secret', 'rotated_token_name'],
    rows: [[name, pat.secret, rotatedName]],
  };
}

/** `MODIFY … SET DISABLED = TRUE | FALSE`, `SET COMMENT = '…'`, `UNSET COMMENT`. */
function modify(c: Cursor, target: EmulatedUser): StatementResult {
  const name = identifier(c);
  const pat = target.pats.find((p) => p.name === name);
  if (c.keyword('UNSET')) {
    c.expect('COMMENT');
    if (!c.done()) throw syntax(c.rest());
    if (!pat) throw patMissing(name);
    pat.comment = undefined;
    return { kind: 'status', label: 'pat-modify', message: 'Statement executed successfully.' };
  }
  c.expect('SET');
  const props = properties(c);
  if (props.size === 0) throw syntax(c.rest());
  if (!pat) throw patMissing(name);
  for (const [key, v] of props) {
    if (key === 'DISABLED') {
      if (v.kind !== 'word' || !['TRUE', 'FALSE'].includes(v.value)) throw invalidValue(key, String(v.value));
      pat.disabled = v.value === 'TRUE';
    } else if (key === 'COMMENT') {
      if (v.kind !== 'string') throw invalidValue(key, String(v.value));
      pat.comment = v.value;
    } else throw syntax(key);
  }
  return { kind: 'status', label: 'pat-modify', message: 'Statement executed successfully.' };
}

/** The SHOW page's columns, in its order. */
export const SHOW_PAT_COLUMNS = [
  'name',
  'user_name',
  'role_restriction',
  'expires_at',
  'status',
  'comment',
  'created_on',
  'created_by',
  'mins_to_bypass_required_network_policy',
  'rotated_to',
];

function show(target: EmulatedUser, ctx: PatContext): StatementResult {
  authorizeManagement(target, ctx, 'show');
  const now = ctx.now.getTime();
  const rows = target.pats
    .filter((p) => p.expiresAt.getTime() > now - LISTED_AFTER_EXPIRY_MS)
    .map((p) => [
      p.name,
      target.name,
      p.roleRestriction ?? null,
      snowflakeTimestamp(p.expiresAt),
      p.expiresAt.getTime() <= now ? 'EXPIRED' : p.disabled ? 'DISABLED' : 'ACTIVE',
      p.comment ?? null,
      snowflakeTimestamp(p.createdOn),
      p.createdBy,
      p.minsToBypass === undefined ? null : String(p.minsToBypass),
      p.rotatedTo ?? null,
    ]);
  return { kind: 'rows', label: 'show-pats', columns: SHOW_PAT_COLUMNS, rows };
}

/** An opaque secret, long as Snowflake's are; its prefix says what it is, as a scanner would want. */
function newSecret(): string {
  return `sfpat.${randomBytes(48).toString('base64url')}`;
}

/** Why a request's PAT does not sign in, or the user and token it signs in as. */
export type PatSignIn =
  | { readonly user: EmulatedUser; readonly pat: EmulatedPat }
  | { readonly code: string; readonly message: string };

/**
 * Sign in with a PAT (`Authorization: Bearer <secret>`, `X-Snowflake-Authorization-Token-Type:
 * PROGRAMMATIC_ACCESS_TOKEN`): it must exist (not removed), not be expired or disabled, its role
 * restriction must still be granted to the user and not blocked, and the request must come from an
 * address the user's network policy allows; with `ENFORCED_REQUIRED` the user must be subject to one
 * (during a token's bypass window, it need not be).
 */
export function signInWithPat(
  secret: string,
  sourceIp: string,
  users: Map<string, EmulatedUser>,
  account: EmulatedAccount,
  now: Date,
): PatSignIn {
  const invalid = (why: string) => ({
    code: '394400',
    message: `Programmatic access token is invalid: ${why}.`,
  });
  for (const user of users.values()) {
    const found = user.pats.find((p) => p.secret === secret);
    if (!found) continue;
    if (found.expiresAt.getTime() <= now.getTime()) return invalid('it has expired');
    if (found.disabled) return invalid('it is disabled');
    if (found.roleRestriction !== undefined) {
      if (!user.roles.has(found.roleRestriction))
        return invalid('its role restriction is no longer granted to the user');
      if (account.patPolicy.blockedRoles.includes(found.roleRestriction))
        return invalid('its role restriction is blocked');
    }
    const refusal = networkRefusal(user, account, sourceIp, {
      required: account.patPolicy.networkPolicyEvaluation === 'ENFORCED_REQUIRED',
      bypass: found.bypassUntil !== undefined && found.bypassUntil.getTime() > now.getTime(),
      enforced: account.patPolicy.networkPolicyEvaluation !== 'NOT_ENFORCED',
    });
    if (refusal) return refusal;
    return { user, pat: found };
  }
  return invalid('no such token (it may have been removed)');
}

/**
 * Whether the user's network policy refuses `sourceIp` (any sign-in method), or, when `required`, the user
 * is subject to none. A policy allows an address its allowed rules list and its blocked rules do not.
 */
export function networkRefusal(
  user: EmulatedUser,
  account: EmulatedAccount,
  sourceIp: string,
  options: { readonly required?: boolean; readonly bypass?: boolean; readonly enforced?: boolean } = {},
): { code: string; message: string } | undefined {
  if (options.enforced === false) return undefined;
  const name = effectiveNetworkPolicy(user, account);
  const policy = name ? account.networkPolicies.get(name) : undefined;
  const refused = {
    code: '390422',
    message: `Incoming request with IP/Token ${sourceIp} is not allowed to access Snowflake.`,
  };
  if (!policy) {
    if (options.required && !options.bypass)
      return {
        code: '390422',
        message: `User '${user.name}' must be subject to a network policy to authenticate with a programmatic access token.`,
      };
    return undefined;
  }
  const matches = (rules: readonly string[]) =>
    rules.some((r) => account.networkRules.get(r)?.values.some((cidr) => inCidr(sourceIp, cidr)));
  if (matches(policy.blockedRules) || !matches(policy.allowedRules)) return refused;
  return undefined;
}

/** Is an IPv4 address in `cidr` (`a.b.c.d/n`, or a bare address)? IPv6 and malformed input: no. */
export function inCidr(address: string, cidr: string): boolean {
  const ip = address.replace(/^::ffff:/, '');
  const [base, bits = '32'] = cidr.split('/');
  if (isIP(ip) !== 4 || isIP(base ?? '') !== 4 || !/^\d{1,2}$/.test(bits) || Number(bits) > 32) return false;
  const toInt = (a: string) => a.split('.').reduce((n, part) => (n << 8) + Number(part), 0) >>> 0;
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return (toInt(ip) & mask) >>> 0 === (toInt(base!) & mask) >>> 0;
}
