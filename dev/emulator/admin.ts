import {
  Cursor,
  identifier,
  properties,
  qualifiedName,
  SqlFailure,
  type StatementResult,
  syntax,
} from './sql-cursor';
import { type EmulatedAccount, type EmulatedUser, snowflakeTimestamp, type UserType } from './state';

/**
 * The SQL a Snowflake administrator runs to make a user ready for programmatic access tokens, as
 * Snowflake documents it: `CREATE USER … TYPE = …`, `CREATE ROLE`, `GRANT ROLE … TO USER` / `REVOKE ROLE … FROM USER`, `CREATE
 * DATABASE`, `CREATE SCHEMA`, `CREATE NETWORK RULE … TYPE = IPV4 MODE = INGRESS VALUE_LIST = (…)` (a
 * network rule lives in a schema), `CREATE NETWORK POLICY … ALLOWED_NETWORK_RULE_LIST = (…)
 * [BLOCKED_NETWORK_RULE_LIST = (…)]`, `ALTER USER … SET | UNSET NETWORK_POLICY`, `ALTER USER … SET TYPE`,
 * `ALTER ACCOUNT SET | UNSET NETWORK_POLICY`, `GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER …
 * TO ROLE …`; and what the vendor reads back: `SHOW PARAMETERS LIKE 'NETWORK_POLICY' IN USER …` and `SHOW
 * GRANTS TO USER …`.
 *
 * Privileges are coarse here: these statements need ACCOUNTADMIN, SECURITYADMIN, USERADMIN or SYSADMIN
 * (Snowflake's own split between them is finer). Reading a user's parameters and grants needs what
 * managing its PATs needs: the user itself, or OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS on it.
 */

export interface AdminContext {
  readonly user: EmulatedUser;
  readonly role: string;
  readonly users: Map<string, EmulatedUser>;
  readonly account: EmulatedAccount;
  readonly now: Date;
  /** The session's current database and schema (the SQL API body's `database` and `schema`). */
  readonly database?: string;
  readonly schema?: string;
  /** Make a user (`CREATE USER`): no key, no roles but PUBLIC, managed by no role until a GRANT. */
  readonly createUser: (spec: { name: string; type: UserType; defaultRole?: string }) => void;
}

const ADMIN_ROLES = new Set(['ACCOUNTADMIN', 'SECURITYADMIN', 'USERADMIN', 'SYSADMIN']);
const ok = (label: string): StatementResult => ({
  kind: 'status',
  label,
  message: 'Statement executed successfully.',
});
const missing = (what: string, name: string) =>
  new SqlFailure(
    '002003',
    '02000',
    `SQL compilation error:\n${what} '${name}' does not exist or not authorized.`,
  );
const exists = (what: string, name: string) =>
  new SqlFailure(
    '002002',
    '42710',
    `SQL compilation error:\nObject '${name}' already exists.`.replace('Object', what),
  );
const denied = () =>
  new SqlFailure(
    '003001',
    '42501',
    'SQL access control error:\nInsufficient privileges to operate on account.',
  );

/** The administrator's statements above; undefined for any other statement. */
export function executeAdminStatement(statement: string, ctx: AdminContext): StatementResult | undefined {
  const c = new Cursor(statement);
  const admin = () => {
    if (!ADMIN_ROLES.has(ctx.role)) throw denied();
  };
  if (c.keyword('CREATE')) {
    const orReplace = c.clause('OR', 'REPLACE');
    if (c.keyword('ROLE')) {
      admin();
      const ifNotExists = c.clause('IF', 'NOT', 'EXISTS');
      const name = identifier(c);
      end(c);
      if (ctx.account.roles.has(name) && !ifNotExists && !orReplace) throw exists('Role', name);
      ctx.account.roles.add(name);
      return ok('create-role');
    }
    if (c.keyword('USER')) {
      admin();
      const ifNotExists = c.clause('IF', 'NOT', 'EXISTS');
      const name = identifier(c);
      const props = properties(c);
      for (const key of props.keys())
        if (!['TYPE', 'DEFAULT_ROLE', 'COMMENT'].includes(key)) throw syntax(key);
      if (ctx.users.has(name)) {
        if (ifNotExists) return ok('create-user');
        if (!orReplace) throw exists('User', name);
      }
      const type = props.get('TYPE');
      const typeName = type === undefined ? 'PERSON' : String(type.value).toUpperCase();
      if (!['PERSON', 'SERVICE', 'LEGACY_SERVICE'].includes(typeName))
        throw new SqlFailure(
          '002211',
          '22023',
          `SQL compilation error:\ninvalid value [${typeName}] for parameter 'TYPE'`,
        );
      const defaultRole = props.get('DEFAULT_ROLE');
      ctx.createUser({
        name,
        type: typeName as UserType,
        ...(defaultRole ? { defaultRole: String(defaultRole.value) } : {}),
      });
      return ok('create-user');
    }
    if (c.keyword('DATABASE')) {
      admin();
      const ifNotExists = c.clause('IF', 'NOT', 'EXISTS');
      const name = identifier(c);
      end(c);
      if (ctx.account.databases.has(name)) {
        if (ifNotExists) return ok('create-database');
        if (!orReplace) throw exists('Database', name);
      }
      ctx.account.databases.set(name, new Set(['PUBLIC']));
      return ok('create-database');
    }
    if (c.keyword('SCHEMA')) {
      admin();
      const ifNotExists = c.clause('IF', 'NOT', 'EXISTS');
      const [database, schema] = inDatabase(qualifiedName(c, 2), ctx);
      end(c);
      const schemas = ctx.account.databases.get(database);
      if (!schemas) throw missing('Database', database);
      if (schemas.has(schema)) {
        if (ifNotExists) return ok('create-schema');
        if (!orReplace) throw exists('Schema', `${database}.${schema}`);
      }
      schemas.add(schema);
      return ok('create-schema');
    }
    if (c.keyword('NETWORK')) {
      if (c.keyword('RULE')) {
        admin();
        const ifNotExists = c.clause('IF', 'NOT', 'EXISTS');
        const qualified = inSchema(qualifiedName(c, 3), ctx);
        const props = properties(c);
        const type = props.get('TYPE');
        const mode = props.get('MODE') ?? { kind: 'word', value: 'INGRESS' };
        const values = props.get('VALUE_LIST');
        for (const key of props.keys())
          if (!['TYPE', 'MODE', 'VALUE_LIST', 'COMMENT'].includes(key)) throw syntax(key);
        // Only what a PAT's network policy needs: IPv4 ingress rules.
        if (type?.kind !== 'word' || type.value !== 'IPV4') throw syntax(String(type?.value ?? 'TYPE'));
        if (mode.kind !== 'word' || mode.value !== 'INGRESS') throw syntax(String(mode.value));
        if (values?.kind !== 'list') throw syntax('VALUE_LIST');
        for (const v of values.value)
          if (!/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(v))
            throw new SqlFailure(
              '002211',
              '22023',
              `SQL compilation error:\ninvalid value [${v}] for parameter 'VALUE_LIST'`,
            );
        if (ctx.account.networkRules.has(qualified)) {
          if (ifNotExists) return ok('create-network-rule');
          if (!orReplace) throw exists('Network rule', qualified);
        }
        ctx.account.networkRules.set(qualified, {
          qualifiedName: qualified,
          type: 'IPV4',
          mode: 'INGRESS',
          values: values.value,
        });
        return ok('create-network-rule');
      }
      if (c.keyword('POLICY')) {
        admin();
        const ifNotExists = c.clause('IF', 'NOT', 'EXISTS');
        const name = identifier(c);
        const props = properties(c);
        for (const key of props.keys())
          if (!['ALLOWED_NETWORK_RULE_LIST', 'BLOCKED_NETWORK_RULE_LIST', 'COMMENT'].includes(key))
            throw syntax(key);
        const rules = (key: string) => {
          const v = props.get(key);
          if (v === undefined) return [];
          if (v.kind !== 'list') throw syntax(key);
          return v.value.map((r) => {
            const qualified = inSchema(qualifiedName(new Cursor(r), 3), ctx);
            if (!ctx.account.networkRules.has(qualified)) throw missing('Network rule', qualified);
            return qualified;
          });
        };
        const policy = {
          name,
          allowedRules: rules('ALLOWED_NETWORK_RULE_LIST'),
          blockedRules: rules('BLOCKED_NETWORK_RULE_LIST'),
        };
        if (ctx.account.networkPolicies.has(name)) {
          if (ifNotExists) return ok('create-network-policy');
          if (!orReplace) throw exists('Network policy', name);
        }
        ctx.account.networkPolicies.set(name, policy);
        return ok('create-network-policy');
      }
    }
    return undefined;
  }
  if (c.keyword('GRANT')) {
    if (c.keyword('ROLE')) {
      admin();
      const role = identifier(c);
      c.expect('TO');
      c.expect('USER');
      const user = userNamed(identifier(c), ctx);
      end(c);
      if (!ctx.account.roles.has(role)) throw missing('Role', role);
      user.roles.add(role);
      return ok('grant-role');
    }
    if (c.keyword('MODIFY')) {
      c.expect('PROGRAMMATIC');
      c.expect('AUTHENTICATION');
      c.expect('METHODS');
      c.expect('ON');
      c.expect('USER');
      const user = userNamed(identifier(c), ctx);
      c.expect('TO');
      c.expect('ROLE');
      const role = identifier(c);
      end(c);
      admin();
      if (!ctx.account.roles.has(role)) throw missing('Role', role);
      user.keyAdminRoles.add(role);
      return ok('grant-modify-programmatic-authentication-methods');
    }
    return undefined;
  }
  if (c.keyword('REVOKE')) {
    if (!c.keyword('ROLE')) return undefined;
    admin();
    const role = identifier(c);
    c.expect('FROM');
    c.expect('USER');
    const user = userNamed(identifier(c), ctx);
    end(c);
    user.roles.delete(role);
    return ok('revoke-role');
  }
  if (c.keyword('ALTER')) {
    if (c.keyword('ACCOUNT')) {
      admin();
      if (c.keyword('SET')) {
        c.expect('NETWORK_POLICY');
        if (!c.symbol('=')) throw syntax(c.rest());
        const name = identifier(c);
        end(c);
        if (!ctx.account.networkPolicies.has(name)) throw missing('Network policy', name);
        ctx.account.networkPolicy = name;
      } else {
        c.expect('UNSET');
        c.expect('NETWORK_POLICY');
        end(c);
        ctx.account.networkPolicy = undefined;
      }
      return ok('alter-account');
    }
    if (!c.keyword('USER')) return undefined;
    const ifExists = c.clause('IF', 'EXISTS');
    const name = identifier(c);
    const save = c.i;
    if (c.keyword('SET')) {
      const props = properties(c);
      const policy = props.get('NETWORK_POLICY');
      const type = props.get('TYPE');
      if (props.size !== 1 || (!policy && !type)) {
        c.i = save;
        return undefined; // another property (RSA_PUBLIC_KEY, …): another family's
      }
      admin();
      const user = ctx.users.get(name);
      if (!user) {
        if (ifExists) return ok('alter-user');
        throw missing('User', name);
      }
      if (policy) {
        if (policy.kind !== 'word' && policy.kind !== 'string') throw syntax('NETWORK_POLICY');
        const resolved = policy.kind === 'string' ? policy.value : policy.value.toUpperCase();
        if (!ctx.account.networkPolicies.has(resolved)) throw missing('Network policy', resolved);
        user.networkPolicy = resolved;
      } else {
        const value =
          type!.kind === 'word' || type!.kind === 'string' ? String(type!.value).toUpperCase() : '';
        if (!['PERSON', 'SERVICE', 'LEGACY_SERVICE'].includes(value))
          throw new SqlFailure(
            '002211',
            '22023',
            `SQL compilation error:\ninvalid value [${value}] for parameter 'TYPE'`,
          );
        user.type = value as UserType;
      }
      return ok('alter-user');
    }
    if (c.keyword('UNSET')) {
      if (!c.keyword('NETWORK_POLICY')) {
        c.i = save;
        return undefined;
      }
      end(c);
      admin();
      const user = ctx.users.get(name);
      if (!user) {
        if (ifExists) return ok('alter-user');
        throw missing('User', name);
      }
      user.networkPolicy = undefined;
      return ok('alter-user');
    }
    return undefined;
  }
  if (c.keyword('SHOW')) {
    if (c.keyword('PARAMETERS')) {
      c.expect('LIKE');
      const pattern = c.value();
      c.expect('IN');
      c.expect('USER');
      const user = readable(identifier(c), ctx);
      end(c);
      if (pattern.kind !== 'string') throw syntax(String(pattern.value));
      // Only the parameter the PAT rules read.
      if (!/^network_policy$/i.test(pattern.value.replaceAll('%', '')))
        return { kind: 'rows', label: 'show-parameters', columns: PARAMETER_COLUMNS, rows: [] };
      const own = user.networkPolicy;
      const value = own ?? ctx.account.networkPolicy ?? '';
      return {
        kind: 'rows',
        label: 'show-parameters',
        columns: PARAMETER_COLUMNS,
        rows: [
          [
            'NETWORK_POLICY',
            value,
            '',
            own ? 'USER' : ctx.account.networkPolicy ? 'ACCOUNT' : '',
            'Network policy that applies to the user',
            'STRING',
          ],
        ],
      };
    }
    if (c.keyword('GRANTS')) {
      c.expect('TO');
      c.expect('USER');
      const user = readable(identifier(c), ctx);
      end(c);
      const rows = [...user.roles]
        .filter((r) => r !== 'PUBLIC')
        .sort()
        .map((role) => [snowflakeTimestamp(ctx.now), role, 'USER', user.name, 'SECURITYADMIN']);
      return {
        kind: 'rows',
        label: 'show-grants-to-user',
        columns: ['created_on', 'role', 'granted_to', 'grantee_name', 'granted_by'],
        rows,
      };
    }
    return undefined;
  }
  return undefined;
}

const PARAMETER_COLUMNS = ['key', 'value', 'default', 'level', 'description', 'type'];

function end(c: Cursor): void {
  if (!c.done()) throw syntax(c.rest());
}

function userNamed(name: string, ctx: AdminContext): EmulatedUser {
  const user = ctx.users.get(name);
  if (!user) throw missing('User', name);
  return user;
}

/** A user whose parameters and grants the session may read. */
function readable(name: string, ctx: AdminContext): EmulatedUser {
  const user = ctx.users.get(name);
  if (!user || (user !== ctx.user && !user.keyAdminRoles.has(ctx.role) && !ADMIN_ROLES.has(ctx.role)))
    throw missing('User', name);
  return user;
}

/** `[db.]schema` with the session's database filled in. */
function inDatabase(parts: string[], ctx: AdminContext): [string, string] {
  if (parts.length === 2) return [parts[0]!, parts[1]!];
  if (!ctx.database)
    throw new SqlFailure(
      '090105',
      '22000',
      "Cannot perform CREATE SCHEMA. This session does not have a current database. Call 'USE DATABASE', or use a qualified name.",
    );
  return [ctx.database.toUpperCase(), parts[0]!];
}

/** `[[db.]schema.]name`, qualified with the session's database and schema, which must exist. */
function inSchema(parts: string[], ctx: AdminContext): string {
  const [database, schema, name] =
    parts.length === 3
      ? parts
      : parts.length === 2
        ? [ctx.database?.toUpperCase(), parts[0], parts[1]]
        : [ctx.database?.toUpperCase(), ctx.schema?.toUpperCase(), parts[0]];
  if (!database || !schema)
    throw new SqlFailure(
      '090106',
      '22000',
      "This session does not have a current schema. Call 'USE SCHEMA', or use a qualified name.",
    );
  if (!ctx.account.databases.get(database)?.has(schema)) throw missing('Schema', `${database}.${schema}`);
  return `${database}.${schema}.${name}`;
}
