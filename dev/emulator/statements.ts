import { createPublicKey, randomBytes } from 'node:crypto';
import { executeAdminStatement } from './admin';
import { type EmulatedIntegration, executeIntegrationStatement, SqlFailure } from './integrations';
import { executePatStatement } from './pats';
import type { StatementResult } from './sql-cursor';
import { readLiteral } from './sql-literal';
import {
  type EmulatedAccount,
  type EmulatedInstance,
  type EmulatedUser,
  fingerprintOfBody,
  type IssuedPostgresToken,
  publicKeyBodyOf,
  resolveIdentifier,
  snowflakeTimestamp,
} from './state';

/** A column of a jsonv2 result set, as the SQL API describes it. */
export interface RowType {
  readonly name: string;
  readonly database: string;
  readonly schema: string;
  readonly table: string;
  readonly nullable: boolean;
  readonly type: 'text' | 'fixed' | 'timestamp_ltz';
  readonly length: number | null;
  readonly byteLength: number | null;
  readonly precision: number | null;
  readonly scale: number | null;
  readonly collation: null;
}

export type StatementOutcome =
  | {
      readonly kind: 'rows';
      readonly rowType: RowType[];
      readonly rows: (string | null)[][];
      readonly label: string;
    }
  | {
      readonly kind: 'error';
      readonly code: string;
      readonly sqlState: string;
      readonly message: string;
      readonly label: string;
    };

export interface ExecutionContext {
  readonly user: EmulatedUser;
  readonly role: string;
  readonly users: Map<string, EmulatedUser>;
  readonly instances: Map<string, EmulatedInstance>;
  readonly integrations: Map<string, EmulatedIntegration>;
  readonly bindings: readonly string[];
  readonly now: Date;
  readonly issueToken: (token: IssuedPostgresToken) => void;
  readonly account: EmulatedAccount;
  /** The session signed in with a PAT of this user (it may not manage that user's PATs). */
  readonly viaPatOf?: string;
  /** The session's current database and schema (the SQL API body's). */
  readonly database?: string;
  readonly schema?: string;
  /** `CREATE USER`: adds a user to the emulator. */
  readonly createUser: (spec: {
    name: string;
    type: 'PERSON' | 'SERVICE' | 'LEGACY_SERVICE';
    defaultRole?: string;
  }) => void;
}

const text = (name: string): RowType => ({
  name,
  database: '',
  schema: '',
  table: '',
  nullable: true,
  type: 'text',
  length: 16_777_216,
  byteLength: 16_777_216,
  precision: null,
  scale: null,
  collation: null,
});
const fixed = (name: string): RowType => ({
  ...text(name),
  type: 'fixed',
  length: null,
  byteLength: null,
  precision: 1,
  scale: 0,
  nullable: false,
});

const error = (label: string, code: string, sqlState: string, message: string): StatementOutcome => ({
  kind: 'error',
  code,
  sqlState,
  message,
  label,
});
const syntaxError = (sql: string) =>
  error(
    'unsupported',
    '001003',
    '42000',
    `SQL compilation error:\nsyntax error line 1 at position 0 unexpected '${sql.slice(0, 20)}'.`,
  );

/** Snowflake Postgres access tokens live 15 minutes. */
export const POSTGRES_TOKEN_LIFETIME_MS = 15 * 60_000;

/**
 * Run one statement of the small SQL dialect the emulator understands: `SELECT 1`, `SELECT CURRENT_USER()`,
 * `SELECT CURRENT_ROLE()`, `SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER(…)`, `DESC USER`, and
 * `ALTER USER … SET/UNSET RSA_PUBLIC_KEY[_2]`. Anything else is a compilation error, as in Snowflake.
 */
export function executeStatement(sql: string, ctx: ExecutionContext): StatementOutcome {
  const statement = sql.trim().replace(/;\s*$/, '');
  if (hasStatementSeparator(statement)) {
    return error(
      'multi',
      '000008',
      '0A000',
      'Actual statement count 2 did not match the desired statement count 1.',
    );
  }
  if (/^select\s+1$/i.test(statement))
    return { kind: 'rows', label: 'select-1', rowType: [fixed('1')], rows: [['1']] };
  if (/^select\s+current_user\(\s*\)$/i.test(statement)) {
    return {
      kind: 'rows',
      label: 'current-user',
      rowType: [text('CURRENT_USER()')],
      rows: [[ctx.user.name]],
    };
  }
  if (/^select\s+current_role\(\s*\)$/i.test(statement)) {
    return { kind: 'rows', label: 'current-role', rowType: [text('CURRENT_ROLE()')], rows: [[ctx.role]] };
  }
  const generate = /^select\s+generate_postgres_access_token_for_user\s*\(/i.exec(statement);
  if (generate) return generatePostgresToken(statement, generate[0].length, ctx);
  const showIdentities =
    /^show\s+user\s+workload\s+identity\s+authentication\s+methods(?:\s+for\s+user\s+("[^"]+"|[A-Za-z_][A-Za-z0-9_$]*))?$/i.exec(
      statement,
    );
  if (showIdentities)
    return showWorkloadIdentities(
      showIdentities[1] ? resolveIdentifier(showIdentities[1]) : ctx.user.name,
      ctx,
    );
  try {
    const result =
      executeIntegrationStatement(statement, {
        role: ctx.role,
        integrations: ctx.integrations,
        now: ctx.now,
      }) ??
      executePatStatement(statement, ctx) ??
      executeAdminStatement(statement, ctx);
    if (result) return outcomeOf(result);
  } catch (failure) {
    if (failure instanceof SqlFailure) return error('sql', failure.code, failure.sqlState, failure.message);
    throw failure;
  }
  const desc = /^desc(?:ribe)?\s+user\s+("[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)$/i.exec(statement);
  if (desc) return describeUser(resolveIdentifier(desc[1]!), ctx);
  const alter =
    /^alter\s+user\s+(?:if\s+exists\s+)?("[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)\s+(set|unset)\s+(rsa_public_key(?:_2)?)\b\s*(.*)$/is.exec(
      statement,
    );
  if (alter)
    return alterUserKey(
      resolveIdentifier(alter[1]!),
      alter[2]!.toLowerCase() as 'set' | 'unset',
      alter[3]!.toUpperCase(),
      alter[4]!,
      ctx,
    );
  return syntaxError(statement);
}

/** A statement family's answer as the SQL API returns it: every column text, or one status column. */
function outcomeOf(result: StatementResult): StatementOutcome {
  if (result.kind === 'rows')
    return { kind: 'rows', label: result.label, rowType: result.columns.map(text), rows: result.rows };
  return { kind: 'rows', label: result.label, rowType: [text('status')], rows: [[result.message]] };
}

/** A `;` outside string literals and quoted identifiers: more than one statement. */
function hasStatementSeparator(statement: string): boolean {
  for (let i = 0; i < statement.length; i += 1) {
    const ch = statement[i];
    if (ch === "'") {
      const literal = readLiteral(statement, i);
      if (!literal) return false; // unterminated: a syntax error, reported by the parser
      i = literal.end - 1;
    } else if (ch === '"') {
      const close = statement.indexOf('"', i + 1);
      if (close < 0) return false;
      i = close;
    } else if (ch === ';') {
      return true;
    }
  }
  return false;
}

/** Parse `'lit'` or `?` (positional binding) arguments separated by commas, up to `)` and the end. */
function readArguments(statement: string, start: number, bindings: readonly string[]): string[] | undefined {
  const args: string[] = [];
  let i = start;
  let bound = 0;
  const skip = () => {
    while (/\s/.test(statement[i] ?? '')) i += 1;
  };
  for (;;) {
    skip();
    if (statement[i] === "'") {
      const literal = readLiteral(statement, i);
      if (!literal) return undefined;
      args.push(literal.value);
      i = literal.end;
    } else if (statement[i] === '?') {
      const value = bindings[bound];
      if (value === undefined) return undefined;
      bound += 1;
      args.push(value);
      i += 1;
    } else {
      return undefined;
    }
    skip();
    if (statement[i] === ',') {
      i += 1;
      continue;
    }
    if (statement[i] === ')') {
      i += 1;
      skip();
      return i === statement.length ? args : undefined;
    }
    return undefined;
  }
}

function generatePostgresToken(
  statement: string,
  argsStart: number,
  ctx: ExecutionContext,
): StatementOutcome {
  const args = readArguments(statement, argsStart, ctx.bindings);
  if (!args) return syntaxError(statement);
  if (args.length !== 2) {
    return error(
      'generate-postgres-token',
      '002141',
      '42601',
      `SQL compilation error:\nInvalid number of arguments for GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER: ${args.length}.`,
    );
  }
  const [instanceArg, username] = args as [string, string];
  const name = resolveIdentifier(instanceArg);
  const instance = ctx.instances.get(name);
  const allowed = instance && (instance.ownerRole === ctx.role || instance.usageRoles.has(ctx.role));
  if (!instance || !allowed) {
    return error(
      'generate-postgres-token',
      '002003',
      '02000',
      `SQL compilation error:\nPostgres instance '${name}' does not exist or not authorized.`,
    );
  }
  const token = `sfpg.${randomBytes(32).toString('base64url')}`;
  ctx.issueToken({
    token,
    instance: instance.name,
    username,
    issuedAt: ctx.now,
    expiresAt: new Date(ctx.now.getTime() + POSTGRES_TOKEN_LIFETIME_MS),
  });
  const column = `GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('${instanceArg.toUpperCase()}', '${username.toUpperCase()}')`;
  return {
    kind: 'rows',
    label: 'generate-postgres-token',
    rowType: [{ ...text(column), nullable: false }],
    rows: [[token]],
  };
}

/** Snowflake's answer for a user that does not exist, or that this session may not see. */
function userNotFound(label: string, name: string): StatementOutcome {
  return error(
    label,
    '002003',
    '02000',
    `SQL compilation error:\nUser '${name}' does not exist or not authorized.`,
  );
}

function describeUser(name: string, ctx: ExecutionContext): StatementOutcome {
  const target = ctx.users.get(name);
  if (!target || (target !== ctx.user && !target.keyAdminRoles.has(ctx.role))) {
    return userNotFound('desc-user', name);
  }
  const time = (d?: Date) => (d ? snowflakeTimestamp(d) : 'null');
  const rows: [string, string][] = [
    ['NAME', target.name],
    ['LOGIN_NAME', target.name],
    ['DISABLED', 'false'],
    ['DEFAULT_ROLE', target.defaultRole],
    ['TYPE', target.type],
    ['RSA_PUBLIC_KEY', target.rsaPublicKey ?? 'null'],
    ['RSA_PUBLIC_KEY_FP', target.rsaPublicKey ? fingerprintOfBody(target.rsaPublicKey) : 'null'],
    ['RSA_PUBLIC_KEY_LAST_SET_TIME', time(target.rsaPublicKeyLastSet)],
    ['RSA_PUBLIC_KEY_2', target.rsaPublicKey2 ?? 'null'],
    ['RSA_PUBLIC_KEY_2_FP', target.rsaPublicKey2 ? fingerprintOfBody(target.rsaPublicKey2) : 'null'],
    ['RSA_PUBLIC_KEY_2_LAST_SET_TIME', time(target.rsaPublicKey2LastSet)],
  ];
  return {
    kind: 'rows',
    label: 'desc-user',
    rowType: [text('property'), text('value'), text('default'), text('description')],
    rows: rows.map(([property, value]) => [
      property,
      value,
      'null',
      `${property.toLowerCase().replaceAll('_', ' ')}`,
    ]),
  };
}

/**
 * `SHOW USER WORKLOAD IDENTITY AUTHENTICATION METHODS [FOR USER u]`: one row per workload identity,
 * `(name, type, comment, last_used, created_on, additional_info)`; an AWS row's `additional_info` is
 * `{"awsPartition", "awsAccount", "type": "IAM_ROLE"|"IAM_USER", "iamRole"}`.
 */
function showWorkloadIdentities(name: string, ctx: ExecutionContext): StatementOutcome {
  const target = ctx.users.get(name);
  if (!target || (target !== ctx.user && !target.keyAdminRoles.has(ctx.role))) {
    return userNotFound('show-workload-identities', name);
  }
  const rows = target.workloadIdentities.flatMap((identity) => {
    const arn = /^arn:([^:]+):iam::(\d{12}):(role|user)\/(?:.*\/)?([^/]+)$/.exec(identity.arn);
    if (!arn) return [];
    const info = {
      awsPartition: arn[1],
      awsAccount: arn[2],
      type: arn[3] === 'user' ? 'IAM_USER' : 'IAM_ROLE',
      iamRole: arn[4],
    };
    return [[identity.name, 'AWS', null, null, snowflakeTimestamp(identity.createdOn), JSON.stringify(info)]];
  });
  return {
    kind: 'rows',
    label: 'show-workload-identities',
    rowType: [
      text('name'),
      text('type'),
      text('comment'),
      text('last_used'),
      text('created_on'),
      text('additional_info'),
    ],
    rows,
  };
}

function alterUserKey(
  name: string,
  action: 'set' | 'unset',
  property: string,
  rest: string,
  ctx: ExecutionContext,
): StatementOutcome {
  const target = ctx.users.get(name);
  if (!target) return userNotFound('alter-user', name);
  if (!target.keyAdminRoles.has(ctx.role)) {
    return error(
      'alter-user',
      '003001',
      '42501',
      `SQL access control error:\nInsufficient privileges to operate on user '${name}'.`,
    );
  }
  const slot2 = property === 'RSA_PUBLIC_KEY_2';
  if (action === 'unset') {
    if (rest.trim() !== '') return syntaxError(rest);
    if (slot2) {
      target.rsaPublicKey2 = undefined;
      target.rsaPublicKey2LastSet = undefined;
    } else {
      target.rsaPublicKey = undefined;
      target.rsaPublicKeyLastSet = undefined;
    }
    return statusRow('alter-user', 'Statement executed successfully.');
  }
  const match = /^=\s*/.exec(rest);
  const literal = match ? readLiteral(rest, match[0].length) : undefined;
  if (!literal || rest.slice(literal.end).trim() !== '') return syntaxError(rest);
  let body: string;
  try {
    body = publicKeyBodyOf(literal.value);
    const key = createPublicKey({ key: Buffer.from(body, 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
      throw new Error('not RSA-2048+');
  } catch {
    return error(
      'alter-user',
      '002023',
      '22023',
      'Invalid public key: expected the base64 body of an RSA public key of at least 2048 bits.',
    );
  }
  if (slot2) {
    target.rsaPublicKey2 = body;
    target.rsaPublicKey2LastSet = ctx.now;
  } else {
    target.rsaPublicKey = body;
    target.rsaPublicKeyLastSet = ctx.now;
  }
  return statusRow('alter-user', 'Statement executed successfully.');
}

function statusRow(label: string, status: string): StatementOutcome {
  return { kind: 'rows', label, rowType: [text('status')], rows: [[status]] };
}
