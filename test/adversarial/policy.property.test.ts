import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../lambda/api/routes';
import { parseConfig } from '../../lambda/config/load';
import { InvalidRequestError, NotAuthorizedError } from '../../lambda/vending/errors';
import { authorize } from '../../lambda/vending/policy';
import type { Caller, VendRequest } from '../../lambda/vending/request';

/**
 * Property: no request outside a grant is ever authorized, whatever the principal, names, case,
 * look-alikes, empty or duplicate lists. The oracle below is written from the config's meaning
 * (DESIGN.md "Who may have what"), independently of `policy.ts`: exact principal match (session → role
 * by account and name), ASCII-only case folding of unquoted instance names, exact user names, and for
 * OAuth a non-empty scope set inside grant ∩ allowedScopes.
 */
const A = '111122223333';
const ROLES = ['reporting-api', 'etl', 'ops', 'Reporting-Api'];
const USERS = ['reporting_user', 'etl_user', 'Reporting_User', 'admin'];
const INSTANCES = [
  'reporting_server',
  'REPORTING_SERVER',
  '"reporting_server"',
  '"REPORTING_SERVER"',
  'sales_db',
  'reporting_ſerver',
  'reportıng_server',
  'reporting_server\u0000',
  '"Sales_DB"',
  'sales_DB',
];
const SCOPES = ['read', 'write', 'admin', 'READ'];
const CONNECTIONS = ['demo', 'other', 'DEMO', 'missing'];

const raw = {
  connections: {
    demo: { account: 'myorg-acct', user: 'svc', key: { file: { path: 'k.p8' } } },
    other: { account: 'myorg-acct2', user: 'svc', key: { file: { path: 'k.p8' } } },
  },
  postgresInstances: [
    {
      connection: 'demo',
      instance: 'reporting_server',
      host: 'h',
      allowedUsers: ['reporting_user', 'etl_user', 'Reporting_User'],
    },
    { connection: 'demo', instance: '"Sales_DB"', host: 'h', allowedUsers: ['reporting_user'] },
    { connection: 'other', instance: 'sales_db', host: 'h', allowedUsers: ['etl_user'] },
  ],
  oauthIntegrations: {
    crm: {
      grant: 'CLIENT_CREDENTIALS' as const,
      tokenEndpoint: 'https://crm.example/token',
      clientId: 'c',
      clientSecret: { env: 'S' },
      allowedScopes: ['read', 'write'],
    },
    off: {
      grant: 'CLIENT_CREDENTIALS' as const,
      tokenEndpoint: 'https://off.example/token',
      clientId: 'c',
      clientSecret: { env: 'S' },
      allowedScopes: ['read'],
      enabled: false,
    },
  },
  patTargets: {
    bi: { connection: 'demo', user: 'BI_SVC', roles: ['READER', 'WRITER'] },
    saas: { connection: 'other', user: 'SAAS_SVC', roles: ['READER'], maxLeaseSeconds: 3600 },
  },
  grants: [
    {
      principal: `arn:aws:iam::${A}:role/services/reporting-api`,
      postgres: [{ instance: 'reporting_server', usernames: ['reporting_user'] }],
      snowflakeJwt: ['demo'],
      oauth: [{ integration: 'crm', scopes: ['read'] }],
      pat: [{ target: 'bi', roles: ['READER'] }],
    },
    {
      principal: `arn:aws:iam::${A}:role/etl`,
      postgres: [
        { instance: 'REPORTING_SERVER', usernames: ['etl_user', 'Reporting_User'] },
        { instance: 'sales_db', connection: 'other', usernames: ['etl_user'] },
      ],
      oauth: [
        { integration: 'crm', scopes: ['read', 'write'] },
        { integration: 'off', scopes: ['read'] },
      ],
    },
    {
      principal: `arn:aws:iam::${A}:role/ops`,
      postgres: [{ instance: '"Sales_DB"', usernames: ['reporting_user'] }],
    },
  ],
  directInvoke: {
    postgres: [],
    snowflakeJwt: ['other'],
    oauth: [],
    pat: [{ target: 'saas', roles: ['READER'] }],
  },
};
const config = parseConfig(raw);

/** Which grants a caller gets, by hand: sessions match a role by account and exact name. */
function grantsOf(caller: Caller) {
  if (caller.kind === 'direct') return [raw.directInvoke];
  const m = /^arn:aws:sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(caller.principalArn);
  if (!m || m[1] !== A) return [];
  return raw.grants.filter((g) => g.principal.split('/').pop() === m[2]);
}
const fold = (name: string) =>
  name.startsWith('"')
    ? name.slice(1, -1)
    : /^[A-Za-z_][A-Za-z0-9_$]*$/.test(name)
      ? name.toUpperCase()
      : `\u0000invalid:${name}`;

function oracle(caller: Caller, request: VendRequest): boolean {
  const grants = grantsOf(caller);
  switch (request.tokenType) {
    case 'postgres':
      return grants.some((g) =>
        (g.postgres ?? []).some((t: { instance: string; usernames: string[]; connection?: string }) => {
          if (fold(t.instance) !== fold(request.instance) || !t.usernames.includes(request.username))
            return false;
          if (request.connection && t.connection && request.connection !== t.connection) return false;
          const candidates = raw.postgresInstances.filter(
            (p) =>
              fold(p.instance) === fold(request.instance) &&
              (!(t.connection ?? request.connection) ||
                p.connection === (t.connection ?? request.connection)),
          );
          return candidates.length === 1;
        }),
      );
    case 'snowflake-jwt':
      return grants.some((g) => (g.snowflakeJwt ?? []).includes(request.connection));
    case 'oauth': {
      const integration = (
        raw.oauthIntegrations as Record<string, { allowedScopes: string[]; enabled?: boolean }>
      )[request.integration];
      if (!integration || integration.enabled === false) return false;
      return grants.some((g) =>
        (g.oauth ?? []).some((t) => {
          if (t.integration !== request.integration) return false;
          const granted = t.scopes.filter((s) => integration.allowedScopes.includes(s));
          const asked = request.scopes ?? granted;
          return asked.length > 0 && asked.every((s) => granted.includes(s));
        }),
      );
    }
    case 'pat': {
      const target = (raw.patTargets as Record<string, { roles: string[]; maxLeaseSeconds?: number }>)[
        request.target
      ];
      if (!target || !Object.hasOwn(raw.patTargets, request.target)) return false;
      if ((request.lifetimeSeconds ?? 3600) > (target.maxLeaseSeconds ?? 86_400)) return false;
      return grants.some((g) =>
        ((g as { pat?: { target: string; roles: string[] }[] }).pat ?? []).some(
          (t) =>
            t.target === request.target &&
            t.roles.includes(request.role) &&
            target.roles.includes(request.role),
        ),
      );
    }
  }
}

const callerArb: fc.Arbitrary<Caller> = fc.oneof(
  fc.constantFrom<Caller>({ kind: 'direct' }),
  fc
    .tuple(fc.constantFrom(A, '999999999999'), fc.constantFrom(...ROLES), fc.constantFrom('s', 'i-0abc'))
    .map(([account, role, session]) => ({
      kind: 'http' as const,
      principalArn: `arn:aws:sts::${account}:assumed-role/${role}/${session}`,
    })),
  fc.string().map((principalArn) => ({ kind: 'http' as const, principalArn })),
);
const scopesArb = fc.option(fc.array(fc.constantFrom(...SCOPES), { minLength: 0, maxLength: 4 }), {
  nil: undefined,
});
const requestArb: fc.Arbitrary<VendRequest> = fc
  .oneof(
    fc.record({
      tokenType: fc.constant('postgres' as const),
      instance: fc.oneof(fc.constantFrom(...INSTANCES), fc.string({ maxLength: 20 })),
      username: fc.oneof(fc.constantFrom(...USERS), fc.string({ maxLength: 10 })),
      connection: fc.option(fc.constantFrom(...CONNECTIONS), { nil: undefined }),
    }),
    fc.record({
      tokenType: fc.constant('snowflake-jwt' as const),
      connection: fc.oneof(fc.constantFrom(...CONNECTIONS), fc.string()),
    }),
    fc.record({
      tokenType: fc.constant('oauth' as const),
      integration: fc.constantFrom('crm', 'off', 'CRM', 'missing'),
      scopes: scopesArb,
    }),
    fc.record({
      tokenType: fc.constant('pat' as const),
      target: fc.constantFrom('bi', 'saas', 'BI', 'missing', 'toString', '__proto__'),
      role: fc.constantFrom('READER', 'WRITER', 'reader', 'ACCOUNTADMIN', ''),
      lifetimeSeconds: fc.option(fc.constantFrom(300, 3600, 7200, 86_400, 86_401), { nil: undefined }),
    }),
  )
  .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as VendRequest);

/** What the request schema lets through to the policy (the handler refuses the rest with 400 first). */
function schemaAccepts(request: VendRequest): boolean {
  const { tokenType, ...fields } = request;
  if (tokenType === 'postgres') return ROUTES.postgres.request.safeParse(fields).success;
  if (tokenType === 'oauth') return ROUTES.oauth.request.safeParse(fields).success;
  if (tokenType === 'pat') return ROUTES.pat.request.safeParse(fields).success;
  return ROUTES['snowflake-jwt'].request.safeParse(fields).success;
}

describe('adversarial: the policy never vends outside a grant (property)', () => {
  it('authorize agrees with the hand-written oracle on every generated request', () => {
    fc.assert(
      fc.property(callerArb, requestArb, (caller, request) => {
        let allowed: boolean;
        let target: ReturnType<typeof authorize> | undefined;
        try {
          target = authorize(config, caller, request);
          allowed = true;
        } catch (error) {
          // A lease past the target's maximum is the caller's mistake about a target it may have (400)
          if (!(error instanceof InvalidRequestError)) expect(error).toBeInstanceOf(NotAuthorizedError);
          allowed = false;
        }
        const valid = schemaAccepts(request);
        // Invalid names never reach the policy in production; if they did, they must not be allowed.
        expect(allowed).toBe(valid && oracle(caller, request));
        if (target?.tokenType === 'pat') {
          // Never shared: the holder is the caller's own principal (a session stands for its role)
          expect(target.holder).toBe(
            caller.kind === 'direct'
              ? 'direct'
              : caller.principalArn
                  .replace(/^arn:aws:sts::(\d+):assumed-role\/([^/]+)\/.*$/, 'arn:aws:iam::$1:role/$2')
                  .toLowerCase(),
          );
          expect(target.cacheKey).toContain(target.holder);
        }
        if (target?.tokenType === 'oauth') {
          expect(target.scopes.length).toBeGreaterThan(0);
          expect(new Set(target.scopes).size).toBe(target.scopes.length);
          for (const s of target.scopes) expect(target.integration.allowedScopes).toContain(s);
        }
      }),
      { numRuns: 20_000, seed: 1515 },
    );
  });

  it('never authorizes an empty scope list, for any caller', () => {
    for (const principalArn of [
      `arn:aws:sts::${A}:assumed-role/reporting-api/s`,
      `arn:aws:sts::${A}:assumed-role/etl/s`,
    ]) {
      expect(() =>
        authorize(
          config,
          { kind: 'http', principalArn },
          { tokenType: 'oauth', integration: 'crm', scopes: [] },
        ),
      ).toThrow(NotAuthorizedError);
    }
  });

  it('refuses look-alike and control-character names at the schema (400), never folding them into a match', () => {
    for (const instance of [
      'reporting_ſerver',
      'reportıng_server',
      'reporting_server\u0000',
      'reporting\tserver',
      'reporting_server\u200b',
    ]) {
      expect(ROUTES.postgres.request.safeParse({ instance, username: 'reporting_user' }).success).toBe(false);
    }
    for (const scopes of [['read\u0000'], ['re\tad'], [], ['read write']]) {
      expect(ROUTES.oauth.request.safeParse({ integration: 'crm', scopes }).success).toBe(false);
    }
    expect(ROUTES.oauth.request.safeParse({ integration: 'crm\u0000' }).success).toBe(false);
    expect(
      ROUTES.postgres.request.safeParse({
        instance: 'reporting_server',
        username: 'reporting_user',
        connection: 'demo\t',
      }).success,
    ).toBe(false);
  });
});
