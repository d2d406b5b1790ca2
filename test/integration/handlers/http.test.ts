import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tokenId } from '../../../lambda/audit/token-id';
import { ALICE, httpApiEvent, lambdaContext, ROLE_SESSION, restEvent } from '../../support/events';
import { rsaKeyPair } from '../../support/keys';
import { type VendingHarness, vendingHarness } from '../../support/vending';
import { verifyRs256 } from '../../support/verify-jwt';

const pgBody = { instance: 'reporting_server', username: 'reporting_user' };

describe('HTTP handler (REST v1 and HTTP API v2) through the real vendor and the emulator', () => {
  let h: VendingHarness;
  beforeAll(async () => {
    h = await vendingHarness();
  });
  afterAll(() => h.close());
  beforeEach(() => {
    h.records.length = 0;
    h.emulator.clearRecords();
  });

  const call = async (event: Parameters<VendingHarness['http']>[0]) => {
    const response = (await h.http(event, lambdaContext())) as APIGatewayProxyResult;
    return { ...response, json: JSON.parse(response.body) };
  };

  it('audits the configured target a differently-spelled request resolved to; look-alikes are a 400', async () => {
    // Act
    const upper = await call(
      restEvent('/v1/tokens/postgres', { ...pgBody, instance: 'REPORTING_SERVER' }, ROLE_SESSION),
    );
    const lookAlike = await call(
      restEvent('/v1/tokens/postgres', { ...pgBody, instance: 'reporting_\u017Ferver' }, ROLE_SESSION),
    );
    // Assess
    expect(upper.statusCode).toBe(200);
    expect(h.records[0]).toMatchObject({
      target: { instance: 'REPORTING_SERVER' },
      resolved: { connection: 'demo', instance: 'reporting_server', username: 'reporting_user' },
    });
    expect(lookAlike.statusCode).toBe(400);
    expect(lookAlike.json.error.code).toBe('INVALID_REQUEST');
  });

  it('vends a Postgres token to an assumed role granted by its role ARN (path dropped), with TTL and connection info', async () => {
    // Act
    const res = await call(restEvent('/v1/tokens/postgres', pgBody, ROLE_SESSION));
    // Assess
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({
      'Content-Type': 'application/json',
      'Cache-Control': 'no-store',
      'X-Request-Id': expect.any(String),
    });
    expect(res.json).toEqual({
      tokenType: 'snowflake-postgres',
      token: expect.any(String),
      instance: 'reporting_server',
      username: 'reporting_user',
      issuedAt: expect.stringMatching(/Z$/),
      expiresAt: expect.stringMatching(/Z$/),
      expiresIn: expect.any(Number),
      refreshAt: expect.stringMatching(/Z$/),
      connection: { host: 'pg.example.snowflake.app', port: 5432, sslmode: 'require' },
    });
    expect(h.emulator.validatePostgresToken(res.json.token)).toMatchObject({ username: 'reporting_user' });
    expect(Date.parse(res.json.expiresAt) - Date.parse(res.json.issuedAt)).toBe(900_000);
    expect(Date.parse(res.json.refreshAt) - Date.parse(res.json.issuedAt)).toBe(720_000);
  });

  it('serves the second request from the cache: same token, one SQL API call, expiresIn counting down', async () => {
    const first = await call(restEvent('/v1/tokens/postgres', pgBody, ROLE_SESSION));
    const second = await call(restEvent('/v1/tokens/postgres', pgBody, ROLE_SESSION));
    expect(second.json.token).toBe(first.json.token);
    expect(second.json.expiresIn).toBeLessThanOrEqual(first.json.expiresIn);
    expect(h.emulator.executionsOf('generate-postgres-token').length).toBeLessThanOrEqual(1);
    expect(h.records.map((r) => r.cache)).toEqual([expect.stringMatching(/hit|miss/), 'hit']);
  });

  it('writes one token.issued audit record with the token id, never the token', async () => {
    const res = await call(restEvent('/v1/tokens/postgres', { ...pgBody }, ROLE_SESSION));
    expect(h.records).toHaveLength(1);
    const [record] = h.records;
    expect(record).toMatchObject({
      event: 'token.issued',
      trigger: 'http',
      principalArn: ROLE_SESSION,
      sourceIp: '203.0.113.7',
      userAgent: 'test-client/1.0',
      tokenType: 'postgres',
      target: { instance: 'reporting_server', username: 'reporting_user' },
      tokenId: tokenId(res.json.token),
      issuedAt: res.json.issuedAt,
      expiresAt: res.json.expiresAt,
      requestId: res.headers!['X-Request-Id'],
      durationMs: expect.any(Number),
    });
    expect(JSON.stringify(record)).not.toContain(res.json.token);
  });

  it('accepts HTTP API v2 events with the IAM authorizer', async () => {
    const res = await call(
      httpApiEvent('/v1/tokens/postgres', { instance: 'REPORTING_SERVER', username: 'etl_user' }, ALICE),
    );
    expect(res.statusCode).toBe(200);
    expect(res.json).toMatchObject({ instance: 'reporting_server', username: 'etl_user' });
    expect(h.records[0]).toMatchObject({
      principalArn: ALICE,
      sourceIp: '198.51.100.9',
      userAgent: 'test-client/2.0',
    });
  });

  it('accepts a base64-encoded body', async () => {
    const event = restEvent(
      '/v1/tokens/postgres',
      Buffer.from(JSON.stringify(pgBody)).toString('base64'),
      ROLE_SESSION,
      { isBase64Encoded: true },
    );
    expect((await call(event)).statusCode).toBe(200);
  });

  it('vends a Snowflake key-pair JWT signed with the Secrets Manager key, usable against the SQL API', async () => {
    const res = await call(restEvent('/v1/tokens/snowflake-jwt', { connection: 'demo' }, ROLE_SESSION));
    expect(res.statusCode).toBe(200);
    expect(res.json).toMatchObject({
      tokenType: 'KEYPAIR_JWT',
      account: 'MYORG-ACCT',
      user: 'SVC',
      publicKeyFingerprint: expect.stringMatching(/^SHA256:/),
    });
    const { payload } = verifyRs256(res.json.token, h.key.publicKey);
    expect(payload.sub).toBe('MYORG-ACCT.SVC');
    const answer = await fetch(`${h.emulator.url}/api/v2/statements`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${res.json.token}`,
        'Content-Type': 'application/json',
        'User-Agent': 'caller/1',
      },
      body: JSON.stringify({ statement: 'SELECT CURRENT_USER()' }),
    });
    expect(answer.status).toBe(200);
  });

  it('vends a JWT signed by KMS for a KMS-backed connection', async () => {
    const res = await call(restEvent('/v1/tokens/snowflake-jwt', { connection: 'kmsconn' }, ROLE_SESSION));
    expect(res.statusCode).toBe(200);
    expect(res.json.account).toBe('XY12345');
    expect(() => verifyRs256(res.json.token, h.key.publicKey)).toThrow();
    const answer = await fetch(`${h.emulator.url}/api/v2/statements`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${res.json.token}`,
        'Content-Type': 'application/json',
        'User-Agent': 'caller/1',
      },
      body: JSON.stringify({ statement: 'SELECT 1' }),
    });
    expect(answer.status).toBe(200); // the emulator has the KMS public key in slot 2
  });

  it('vends an OAuth access token with the smaller of expires_in and the integration validity', async () => {
    const res = await call(restEvent('/v1/tokens/oauth', { integration: 'servicenow' }, ROLE_SESSION));
    expect(res.statusCode).toBe(200);
    expect(res.json).toMatchObject({
      tokenType: 'oauth-access-token',
      integration: 'servicenow',
      scopes: ['useraccount'],
    });
    expect(h.emulator.accessTokens.get(res.json.token)).toMatchObject({
      clientId: 'token-vendor',
      scopes: ['useraccount'],
    });
    expect(Date.parse(res.json.expiresAt) - Date.parse(res.json.issuedAt)).toBe(1_800_000);
  });

  it('refuses OAuth scopes beyond the grant', async () => {
    const res = await call(
      restEvent('/v1/tokens/oauth', { integration: 'servicenow', scopes: ['admin'] }, ROLE_SESSION),
    );
    expect(res.statusCode).toBe(403);
    expect(h.records[0]).toMatchObject({
      event: 'token.denied',
      errorCode: 'NOT_AUTHORIZED',
      target: { integration: 'servicenow', scopes: ['admin'] },
    });
  });

  it('picks up a key rotated in Secrets Manager when Snowflake reports the old one unregistered', async () => {
    // Prepare: a fresh harness whose cached key is then replaced and deregistered
    const fresh = await vendingHarness();
    try {
      const first = (await fresh.http(
        restEvent('/v1/tokens/postgres', pgBody, ROLE_SESSION),
        lambdaContext(),
      )) as APIGatewayProxyResult;
      expect(first.statusCode).toBe(200);
      const next = rsaKeyPair();
      fresh.sm
        .on(GetSecretValueCommand, { SecretId: 'tv/demo' })
        .resolves({ SecretString: next.pkcs8Pem, VersionId: 'v2' });
      fresh.emulator.setUserKey('SVC', 1, next.publicKey);
      // Act: a different user so the cache misses and Snowflake is asked
      const res = (await fresh.http(
        restEvent('/v1/tokens/postgres', { instance: 'reporting_server', username: 'etl_user' }, ALICE),
        lambdaContext(),
      )) as APIGatewayProxyResult;
      // Assess
      expect(res.statusCode).toBe(200);
      expect(fresh.emulator.requests.filter((r) => r.method === 'POST').map((r) => r.status)).toEqual([
        200, 401, 200,
      ]);
    } finally {
      await fresh.close();
    }
  });
});
