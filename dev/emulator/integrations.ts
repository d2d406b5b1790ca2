import { Cursor, identifier, invalidValue, properties, SqlFailure, syntax, type Value } from './sql-cursor';
import { resolveIdentifier, snowflakeTimestamp } from './state';

/**
 * External API Authentication security integrations (seed 002), as strictly as the emulator can tell:
 * `CREATE`, `ALTER … SET / UNSET` (properties and tags), `DESCRIBE INTEGRATION`, `SHOW INTEGRATIONS`.
 * The client secret is write-only: no statement ever shows it.
 */
export interface EmulatedIntegration {
  readonly name: string;
  ownerRole: string;
  readonly usageRoles: Set<string>;
  enabled: boolean;
  grant: OAuthGrant;
  tokenEndpoint?: string;
  authorizationEndpoint?: string;
  clientId?: string;
  /** Write-only: kept for the emulator's token endpoint and tests, never shown. */
  clientSecret?: string;
  accessTokenValidity?: number;
  refreshTokenValidity?: number;
  allowedScopes?: string[];
  comment?: string;
  readonly tags: Map<string, string>;
  readonly createdOn: Date;
}

export type OAuthGrant = 'CLIENT_CREDENTIALS' | 'AUTHORIZATION_CODE' | 'JWT_BEARER';

export interface IntegrationSpec {
  readonly name: string;
  readonly ownerRole: string;
  readonly usageRoles?: readonly string[];
  readonly grant: OAuthGrant;
  readonly tokenEndpoint: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly accessTokenValidity?: number;
  readonly allowedScopes?: readonly string[];
  readonly enabled?: boolean;
}

export function makeIntegration(spec: IntegrationSpec, now: Date): EmulatedIntegration {
  return {
    name: resolveIdentifier(spec.name),
    ownerRole: spec.ownerRole.toUpperCase(),
    usageRoles: new Set((spec.usageRoles ?? []).map((r) => r.toUpperCase())),
    enabled: spec.enabled ?? true,
    grant: spec.grant,
    tokenEndpoint: spec.tokenEndpoint,
    clientId: spec.clientId,
    clientSecret: spec.clientSecret,
    ...(spec.accessTokenValidity === undefined ? {} : { accessTokenValidity: spec.accessTokenValidity }),
    ...(spec.allowedScopes ? { allowedScopes: [...spec.allowedScopes] } : {}),
    tags: new Map(),
    createdOn: now,
  };
}

const notValidFor = (property: string, grant: OAuthGrant) =>
  new SqlFailure(
    '002211',
    '22023',
    `SQL compilation error:\ninvalid property '${property}' for 'API_AUTHENTICATION' integration with OAUTH_GRANT = '${grant}'`,
  );

export { SqlFailure };

/** Which properties each grant form of the seed's grammar accepts: a common core, and what each form adds. */
const COMMON = [
  'ENABLED',
  'OAUTH_TOKEN_ENDPOINT',
  'OAUTH_CLIENT_AUTH_METHOD',
  'OAUTH_CLIENT_ID',
  'OAUTH_CLIENT_SECRET',
  'OAUTH_GRANT',
  'OAUTH_ACCESS_TOKEN_VALIDITY',
  'COMMENT',
];
const USER_FLOWS = ['OAUTH_AUTHORIZATION_ENDPOINT', 'OAUTH_REFRESH_TOKEN_VALIDITY'];
const PROPERTIES: Record<OAuthGrant, ReadonlySet<string>> = {
  CLIENT_CREDENTIALS: new Set([...COMMON, 'OAUTH_ALLOWED_SCOPES']),
  AUTHORIZATION_CODE: new Set([...COMMON, ...USER_FLOWS]),
  JWT_BEARER: new Set([...COMMON, ...USER_FLOWS]),
};
/** `UNSET` accepts these (the seed: `ENABLED | [ , ... ]`, and COMMENT as every integration does). */
const UNSETTABLE = new Set(['ENABLED', 'COMMENT']);

const asString = (property: string, v: Value): string => {
  if (v.kind !== 'string') throw invalidValue(property, String(v.value));
  return v.value;
};

/** Apply validated properties to an integration (for CREATE on a fresh one, for ALTER … SET). */
function apply(target: EmulatedIntegration, props: Map<string, Value>): void {
  // OAUTH_GRANT first: it decides which other properties are valid.
  const grantValue = props.get('OAUTH_GRANT');
  if (grantValue) {
    const grant = asString('OAUTH_GRANT', grantValue).toUpperCase();
    if (!(grant in PROPERTIES)) throw invalidValue('OAUTH_GRANT', grant);
    target.grant = grant as OAuthGrant;
  }
  for (const [property, v] of props) {
    if (!PROPERTIES[target.grant].has(property)) {
      if (['TYPE', 'AUTH_TYPE'].includes(property) || !isKnown(property)) throw syntax(property);
      throw notValidFor(property, target.grant);
    }
    switch (property) {
      case 'ENABLED':
        if (v.kind !== 'word' || !['TRUE', 'FALSE'].includes(v.value))
          throw invalidValue(property, String(v.value));
        target.enabled = v.value === 'TRUE';
        break;
      case 'OAUTH_CLIENT_AUTH_METHOD':
        if (v.kind !== 'word' || v.value !== 'CLIENT_SECRET_POST')
          throw invalidValue(property, String(v.value));
        break;
      case 'OAUTH_TOKEN_ENDPOINT':
        target.tokenEndpoint = asString(property, v);
        break;
      case 'OAUTH_AUTHORIZATION_ENDPOINT':
        target.authorizationEndpoint = asString(property, v);
        break;
      case 'OAUTH_CLIENT_ID':
        target.clientId = asString(property, v);
        break;
      case 'OAUTH_CLIENT_SECRET':
        target.clientSecret = asString(property, v);
        break;
      case 'OAUTH_ACCESS_TOKEN_VALIDITY':
      case 'OAUTH_REFRESH_TOKEN_VALIDITY':
        if (v.kind !== 'number' || v.value < 0) throw invalidValue(property, String(v.value));
        if (property === 'OAUTH_ACCESS_TOKEN_VALIDITY') target.accessTokenValidity = v.value;
        else target.refreshTokenValidity = v.value;
        break;
      case 'OAUTH_ALLOWED_SCOPES':
        if (v.kind !== 'list') throw invalidValue(property, String(v.value));
        target.allowedScopes = v.value;
        break;
      case 'COMMENT':
        target.comment = asString(property, v);
        break;
      default:
        break; // OAUTH_GRANT, handled above
    }
  }
}

function isKnown(property: string): boolean {
  return Object.values(PROPERTIES).some((set) => set.has(property));
}

export interface IntegrationContext {
  readonly role: string;
  readonly integrations: Map<string, EmulatedIntegration>;
  readonly now: Date;
}

export type IntegrationOutcome =
  | { kind: 'rows'; label: string; columns: string[]; rows: (string | null)[][] }
  | { kind: 'status'; label: string; message: string };

const missing = (name: string) =>
  new SqlFailure(
    '002003',
    '02000',
    `SQL compilation error:\nIntegration '${name}' does not exist or not authorized.`,
  );
const noPrivilege = () =>
  new SqlFailure(
    '003001',
    '42501',
    'SQL access control error:\nInsufficient privileges to operate on integration',
  );

/**
 * Run a security-integration statement, or return undefined when `statement` is not one. Throws a
 * {@link SqlFailure} for a statement Snowflake would refuse.
 */
export function executeIntegrationStatement(
  statement: string,
  ctx: IntegrationContext,
): IntegrationOutcome | undefined {
  const c = new Cursor(statement);
  if (c.keyword('CREATE')) {
    const orReplace = c.keyword('OR');
    if (orReplace) c.expect('REPLACE');
    if (!c.keyword('SECURITY')) return undefined;
    c.expect('INTEGRATION');
    const ifNotExists = c.keyword('IF');
    if (ifNotExists) {
      c.expect('NOT');
      c.expect('EXISTS');
    }
    const name = identifier(c);
    const props = properties(c);
    const type = props.get('TYPE');
    const authType = props.get('AUTH_TYPE');
    if (type?.kind !== 'word' || type.value !== 'API_AUTHENTICATION')
      throw invalidValue('TYPE', String(type?.value ?? ''));
    if (authType?.kind !== 'word' || authType.value !== 'OAUTH2')
      throw invalidValue('AUTH_TYPE', String(authType?.value ?? ''));
    props.delete('TYPE');
    props.delete('AUTH_TYPE');
    const existing = ctx.integrations.get(name);
    if (existing && ifNotExists)
      return {
        kind: 'status',
        label: 'create-integration',
        message: `${name} already exists, statement succeeded.`,
      };
    if (existing && !orReplace)
      throw new SqlFailure('002002', '42710', `SQL compilation error:\nObject '${name}' already exists.`);
    if (existing && existing.ownerRole !== ctx.role) throw noPrivilege();
    if (!props.has('OAUTH_GRANT')) props.set('OAUTH_GRANT', { kind: 'string', value: 'CLIENT_CREDENTIALS' });
    const fresh: EmulatedIntegration = {
      name,
      ownerRole: ctx.role,
      usageRoles: new Set(),
      enabled: false,
      grant: 'CLIENT_CREDENTIALS',
      tags: new Map(),
      createdOn: ctx.now,
    };
    apply(fresh, props);
    ctx.integrations.set(name, fresh);
    return {
      kind: 'status',
      label: 'create-integration',
      message: `Integration ${name} successfully created.`,
    };
  }
  if (c.keyword('ALTER')) {
    const security = c.keyword('SECURITY');
    if (!c.keyword('INTEGRATION')) return undefined;
    const ifExists = c.keyword('IF');
    if (ifExists) c.expect('EXISTS');
    const name = identifier(c);
    const target = ctx.integrations.get(name);
    const done = {
      kind: 'status' as const,
      label: 'alter-integration',
      message: 'Statement executed successfully.',
    };
    if (!target) {
      if (ifExists) return done;
      throw missing(name);
    }
    if (target.ownerRole !== ctx.role) throw noPrivilege();
    if (c.keyword('SET')) {
      if (c.keyword('TAG')) {
        for (const [tag, v] of properties(c)) {
          const value = asString(tag, v);
          if (value.length > 256) throw invalidValue(tag, value.slice(0, 20));
          target.tags.set(tag, value);
        }
        return done;
      }
      if (!security) throw syntax(c.rest()); // SET of properties needs ALTER SECURITY INTEGRATION
      const props = properties(c);
      if (props.size === 0) throw syntax('<EOF>');
      // Validate against a copy first: a refused statement changes nothing.
      const copy: EmulatedIntegration = {
        ...target,
        tags: new Map(target.tags),
        usageRoles: new Set(target.usageRoles),
      };
      apply(copy, props);
      Object.assign(target, { ...copy, tags: target.tags, usageRoles: target.usageRoles });
      return done;
    }
    if (c.keyword('UNSET')) {
      if (c.keyword('TAG')) {
        for (let tag = c.word(); tag; tag = c.word()) target.tags.delete(tag.toUpperCase());
        return done;
      }
      const names: string[] = [];
      for (let w = c.word(); w; w = c.word()) names.push(w.toUpperCase());
      if (names.length === 0 || !c.done()) throw syntax(c.rest());
      for (const property of names) {
        if (!UNSETTABLE.has(property)) throw syntax(property);
        if (property === 'ENABLED') target.enabled = false;
        else target.comment = undefined;
      }
      return done;
    }
    throw syntax(c.rest());
  }
  if (c.keyword('DESC') || c.keyword('DESCRIBE')) {
    c.keyword('SECURITY');
    if (!c.keyword('INTEGRATION')) return undefined;
    const name = identifier(c);
    if (!c.done()) throw syntax(c.rest());
    const target = ctx.integrations.get(name);
    if (!target || (target.ownerRole !== ctx.role && !target.usageRoles.has(ctx.role))) throw missing(name);
    return { kind: 'rows', label: 'describe-integration', ...describe(target) };
  }
  if (c.keyword('SHOW')) {
    c.keyword('SECURITY');
    if (!c.keyword('INTEGRATIONS')) return undefined;
    let like: RegExp | undefined;
    if (c.keyword('LIKE')) {
      const pattern = c.value();
      if (pattern.kind !== 'string') throw syntax(String(pattern.value));
      like = new RegExp(
        `^${pattern.value
          .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
          .replace(/%/g, '.*')
          .replace(/_/g, '.')}$`,
        'i',
      );
    }
    if (!c.done()) throw syntax(c.rest());
    const visible = [...ctx.integrations.values()].filter(
      (i) => (i.ownerRole === ctx.role || i.usageRoles.has(ctx.role)) && (!like || like.test(i.name)),
    );
    return {
      kind: 'rows',
      label: 'show-integrations',
      columns: ['name', 'type', 'category', 'enabled', 'comment', 'created_on'],
      rows: visible.map((i) => [
        i.name,
        'API_AUTHENTICATION',
        'SECURITY',
        String(i.enabled),
        i.comment ?? null,
        snowflakeTimestamp(i.createdOn),
      ]),
    };
  }
  return undefined;
}

/** `DESCRIBE INTEGRATION`: `(property, property_type, property_value, property_default)`; never the secret. */
function describe(i: EmulatedIntegration): { columns: string[]; rows: (string | null)[][] } {
  const rows: [string, string, string, string][] = [
    ['ENABLED', 'Boolean', String(i.enabled), 'false'],
    ['OAUTH_GRANT', 'String', i.grant, ''],
    ['OAUTH_TOKEN_ENDPOINT', 'String', i.tokenEndpoint ?? '', ''],
    ['OAUTH_CLIENT_AUTH_METHOD', 'String', 'CLIENT_SECRET_POST', 'CLIENT_SECRET_POST'],
    ['OAUTH_CLIENT_ID', 'String', i.clientId ?? '', ''],
    [
      'OAUTH_ACCESS_TOKEN_VALIDITY',
      'Integer',
      i.accessTokenValidity === undefined ? '' : String(i.accessTokenValidity),
      '0',
    ],
    ...(i.grant === 'CLIENT_CREDENTIALS'
      ? [
          ['OAUTH_ALLOWED_SCOPES', 'List', (i.allowedScopes ?? []).join(','), '[]'] as [
            string,
            string,
            string,
            string,
          ],
        ]
      : [
          ['OAUTH_AUTHORIZATION_ENDPOINT', 'String', i.authorizationEndpoint ?? '', ''] as [
            string,
            string,
            string,
            string,
          ],
          [
            'OAUTH_REFRESH_TOKEN_VALIDITY',
            'Integer',
            i.refreshTokenValidity === undefined ? '' : String(i.refreshTokenValidity),
            '0',
          ] as [string, string, string, string],
        ]),
    ['COMMENT', 'String', i.comment ?? '', ''],
  ];
  return { columns: ['property', 'property_type', 'property_value', 'property_default'], rows };
}
