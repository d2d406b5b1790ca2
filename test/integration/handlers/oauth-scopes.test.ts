import type { APIGatewayProxyResult } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lambdaContext, ROLE_SESSION, restEvent } from '../../support/events';
import { type VendingHarness, vendingHarness } from '../../support/vending';

/**
 * The OAuth scope escalation of issue 15: a principal granted only `useraccount` must never receive a
 * token carrying the token endpoint's default scopes (`useraccount admin` for the emulated client).
 */
describe('OAuth scopes: never vacuous, never wider than asked', () => {
  let h: VendingHarness;
  // A fresh vendor (and cache) per test.
  beforeEach(async () => {
    h = await vendingHarness();
  });
  afterEach(async () => {
    await h.close();
  });
  const oauth = async (body: unknown) =>
    (await h.http(
      restEvent('/v1/tokens/oauth', body, ROLE_SESSION),
      lambdaContext(),
    )) as APIGatewayProxyResult;

  it('refuses an empty scope list with 400 before any token request', async () => {
    // Act
    const response = await oauth({ integration: 'servicenow', scopes: [] });
    // Assess
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).error.code).toBe('INVALID_REQUEST');
    expect(h.emulator.accessTokens.size).toBe(0);
  });

  it('asks for the granted scopes explicitly when the request names none', async () => {
    // Act
    const response = await oauth({ integration: 'servicenow' });
    // Assess: the emulated client's default would be "useraccount admin"
    expect(response.statusCode).toBe(200);
    const body = JSON.parse(response.body);
    expect(body.scopes).toEqual(['useraccount']);
    const issued = h.emulator.accessTokens.get(body.token);
    expect(issued?.scopes).toEqual(['useraccount']);
    expect(h.records[0]).toMatchObject({
      event: 'token.issued',
      resolved: { integration: 'servicenow', scopes: ['useraccount'] },
    });
  });

  it('refuses (502, audited, never vended) a token whose scope is wider than asked', async () => {
    // Prepare: a token endpoint that grants more than it was asked for
    const client = h.emulator.oauthClients.get('token-vendor')!;
    h.emulator.oauthClients.set('token-vendor', { ...client, extraScopes: ['admin'] });
    // Act
    const response = await oauth({ integration: 'servicenow', scopes: ['useraccount'] });
    // Assess
    expect(response.statusCode).toBe(502);
    expect(JSON.parse(response.body).error.code).toBe('OAUTH_SCOPE_EXCEEDED');
    const [issued] = [...h.emulator.accessTokens.keys()];
    expect(issued).toBeDefined();
    expect(response.body).not.toContain(issued!);
    expect(h.records).toHaveLength(1);
    expect(h.records[0]).toMatchObject({
      event: 'token.failed',
      errorCode: 'OAUTH_SCOPE_EXCEEDED',
      errorDetail: expect.stringContaining('admin'),
    });
    expect(JSON.stringify(h.records)).not.toContain(issued!);
  });

  it('does not serve a cached token for a different scope set', async () => {
    // Act
    const granted = JSON.parse((await oauth({ integration: 'servicenow' })).body);
    const asked = JSON.parse((await oauth({ integration: 'servicenow', scopes: ['useraccount'] })).body);
    const beyond = await oauth({ integration: 'servicenow', scopes: ['useraccount', 'admin'] });
    // Assess: same resolved scope set → same cache entry; a scope beyond the grant → denied
    expect(asked.token).toBe(granted.token);
    expect(beyond.statusCode).toBe(403);
  });
});
