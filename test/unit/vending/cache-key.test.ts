import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lambda/config/load';
import type { ConfigInput } from '../../../lambda/config/schema';
import { authorize } from '../../../lambda/vending/policy';
import type { VendRequest } from '../../../lambda/vending/request';

/**
 * The cache key (local and shared) covers every setting that decides a token: a token minted under
 * other settings is never served for these. Settings that do not decide it (where a key is kept, its
 * rotation schedule, who else is granted) leave the key alone, so a harmless change is not a fleet-wide miss.
 */
const PRINCIPAL = 'arn:aws:iam::111122223333:role/app';
const base: ConfigInput = {
  connections: {
    demo: {
      account: 'myorg-acct',
      user: 'svc',
      role: 'TOKEN_VENDOR',
      key: { secretsManager: { secretId: 'sf/demo' } },
    },
  },
  postgresInstances: [{ connection: 'demo', instance: 'reporting_server', host: 'h', allowedUsers: ['u'] }],
  oauthIntegrations: {
    sn: {
      grant: 'CLIENT_CREDENTIALS',
      tokenEndpoint: 'https://sn.example/oauth',
      clientId: 'c',
      clientSecret: { secretsManager: { secretId: 'sn' } },
      allowedScopes: ['a', 'b'],
    },
  },
  grants: [
    {
      principal: PRINCIPAL,
      postgres: [{ instance: 'reporting_server', usernames: ['u'] }],
      snowflakeJwt: ['demo'],
      oauth: [{ integration: 'sn', scopes: ['a'] }],
    },
  ],
};
const requests: Record<'postgres' | 'jwt' | 'oauth', VendRequest> = {
  postgres: { tokenType: 'postgres', instance: 'reporting_server', username: 'u' },
  jwt: { tokenType: 'snowflake-jwt', connection: 'demo' },
  oauth: { tokenType: 'oauth', integration: 'sn', scopes: ['a'] },
};
const keyOf = (input: ConfigInput, request: VendRequest) =>
  authorize(parseConfig(input), { kind: 'http', principalArn: PRINCIPAL }, request).cacheKey;
const withConnection = (changes: Record<string, unknown>): ConfigInput => ({
  ...base,
  connections: { demo: { ...base.connections!.demo!, ...changes } as never },
});
const withIntegration = (changes: Record<string, unknown>): ConfigInput => ({
  ...base,
  oauthIntegrations: { sn: { ...base.oauthIntegrations!.sn!, ...changes } as never },
});

describe('the cache key', () => {
  it('is the same for the same settings, whatever order they were written in', () => {
    const reordered = withConnection({});
    const { role, ...rest } = reordered.connections!.demo!;
    reordered.connections!.demo = { role, ...rest } as never;
    for (const request of Object.values(requests))
      expect(keyOf(reordered, request)).toBe(keyOf(base, request));
  });

  it.each<[string, Record<string, unknown>]>([
    ['the role', { role: 'NO_USAGE' }],
    ['the user', { user: 'svc2' }],
    ['the account', { account: 'myorg-other' }],
    ['the API base URL', { apiBaseUrl: 'https://proxy.example' }],
    ['the warehouse', { warehouse: 'WH2' }],
  ])('changes with %s of the connection, for Postgres and JWT tokens', (_name, changes) => {
    const changed = withConnection(changes);
    expect(keyOf(changed, requests.postgres)).not.toBe(keyOf(base, requests.postgres));
    expect(keyOf(changed, requests.jwt)).not.toBe(keyOf(base, requests.jwt));
  });

  it('changes with the sign-in mode: a key pair, or the workload identity of one region or another', () => {
    const noJwt = (input: ConfigInput): ConfigInput => ({
      ...input,
      grants: input.grants!.map(({ snowflakeJwt: _, ...g }) => g),
    });
    const keyless = (region?: string) =>
      noJwt(
        withConnection({
          key: undefined,
          workloadIdentity: { provider: 'AWS', ...(region ? { region } : {}) },
        }),
      );
    const keys = [noJwt(base), keyless(), keyless('eu-west-1')].map((c) => keyOf(c, requests.postgres));
    expect(new Set(keys).size).toBe(3);
  });

  it('ignores where a key is kept for Postgres tokens (a moved key signs in as the same user), not for a JWT (its signature)', () => {
    const moved = withConnection({ key: { secretsManager: { secretId: 'sf/demo-v2' } } });
    expect(keyOf(moved, requests.postgres)).toBe(keyOf(base, requests.postgres));
    expect(keyOf(moved, requests.jwt)).not.toBe(keyOf(base, requests.jwt));
    const rotation = withConnection({ rotation: { rotateAfterDays: 30, overdueAfterDays: 45 } });
    expect(keyOf(rotation, requests.postgres)).toBe(keyOf(base, requests.postgres));
  });

  it.each<[string, Record<string, unknown>]>([
    ['the token endpoint', { tokenEndpoint: 'https://other.example/oauth' }],
    ['the client id', { clientId: 'c2' }],
    ['the validity', { accessTokenValiditySeconds: 60 }],
  ])('changes with %s of an OAuth integration', (_name, changes) => {
    expect(keyOf(withIntegration(changes), requests.oauth)).not.toBe(keyOf(base, requests.oauth));
  });

  it('ignores what does not decide an OAuth token: the other allowed scopes, the client secret’s place', () => {
    expect(keyOf(withIntegration({ allowedScopes: ['a', 'b', 'c'] }), requests.oauth)).toBe(
      keyOf(base, requests.oauth),
    );
    expect(
      keyOf(withIntegration({ clientSecret: { secretsManager: { secretId: 'sn-2' } } }), requests.oauth),
    ).toBe(keyOf(base, requests.oauth));
  });
});
