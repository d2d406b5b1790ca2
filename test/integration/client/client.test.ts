import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TokenVendorClient, TokenVendorClientError } from '../../../client';
import { type LocalStack, startLocalStack } from '../../../dev/local/local-stack';
import type { AuditRecord } from '../../../lambda/audit/record';
import { tempDir } from '../../support/keys';

describe('TokenVendorClient against the local gateway', () => {
  let stack: LocalStack;
  const records: AuditRecord[] = [];
  beforeAll(async () => {
    stack = await startLocalStack({
      dir: tempDir('tv-client-'),
      port: 0,
      auditSink: { info: (_m, a) => records.push(a as unknown as AuditRecord) },
    });
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    records.length = 0;
  });

  const credentials = () => ({
    accessKeyId: stack.credentials[0]!.accessKeyId,
    secretAccessKey: stack.credentials[0]!.secretAccessKey,
  });
  const pg = { instance: 'reporting_server', username: 'reporting_user' };

  it('signs with SigV4 and returns typed tokens', async () => {
    const client = new TokenVendorClient({ endpoint: stack.gateway.url, credentials: credentials() });
    const token = await client.postgres(pg);
    expect(token).toMatchObject({
      tokenType: 'snowflake-postgres',
      instance: 'reporting_server',
      username: 'reporting_user',
      connection: { port: 5432 },
    });
    expect(token.issuedAt).toBeInstanceOf(Date);
    expect(token.refreshAt.getTime()).toBeGreaterThan(token.issuedAt.getTime());
    const jwt = await client.snowflakeJwt({ connection: 'demo' });
    expect(jwt.publicKeyFingerprint).toMatch(/^SHA256:/);
    const oauth = await client.oauth({ integration: 'demo-oauth', scopes: ['read'] });
    expect(oauth.scopes).toEqual(['read']);
  });

  it('uses the default AWS credential chain when given no credentials', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = credentials().accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = credentials().secretAccessKey;
    try {
      const token = await new TokenVendorClient({ endpoint: stack.gateway.url }).postgres(pg);
      expect(token.tokenType).toBe('snowflake-postgres');
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved.id;
      process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });

  it('caches until a jittered moment before refreshAt, then asks again', async () => {
    // Prepare: the client's clock is ours; jitter draws the earliest moment (random() = 1 → 10 % early)
    let offset = 0;
    const client = new TokenVendorClient({
      endpoint: stack.gateway.url,
      credentials: credentials(),
      now: () => Date.now() + offset,
      random: () => 1,
    });
    const first = await client.postgres(pg);
    const span = first.refreshAt.getTime() - Date.now();
    // Act
    offset = span * 0.85; // before the renewal point (refreshAt − 10 % of the span)
    await client.postgres(pg);
    const callsBeforeRenewal = records.length;
    offset = span * 0.95; // past it
    await client.postgres(pg);
    // Assess
    expect(callsBeforeRenewal).toBe(1);
    expect(records).toHaveLength(2);
  });

  it('shares one call among concurrent requests for the same target', async () => {
    const client = new TokenVendorClient({ endpoint: stack.gateway.url, credentials: credentials() });
    const tokens = await Promise.all(Array.from({ length: 25 }, () => client.postgres(pg)));
    expect(new Set(tokens.map((t) => t.token)).size).toBe(1);
    expect(records).toHaveLength(1);
  });

  it('throws typed errors: the vendor’s code, API Gateway’s refusals, network failures', async () => {
    const denied = await new TokenVendorClient({ endpoint: stack.gateway.url, credentials: credentials() })
      .postgres({ instance: 'reporting_server', username: 'postgres' })
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(TokenVendorClientError);
    expect(denied).toMatchObject({ code: 'NOT_AUTHORIZED', status: 403, requestId: expect.any(String) });

    const badSecret = await new TokenVendorClient({
      endpoint: stack.gateway.url,
      credentials: { ...credentials(), secretAccessKey: 'wrong' },
    })
      .postgres(pg)
      .catch((e: unknown) => e);
    expect(badSecret).toMatchObject({ code: 'INVALID_SIGNATURE', status: 403 });

    const down = await new TokenVendorClient({
      endpoint: 'http://127.0.0.1:1',
      credentials: credentials(),
      timeoutMs: 2000,
    })
      .postgres(pg)
      .catch((e: unknown) => e);
    expect(down).toMatchObject({ code: 'NETWORK_ERROR', status: 0 });
  });

  it('does not cache a failure', async () => {
    const client = new TokenVendorClient({ endpoint: stack.gateway.url, credentials: credentials() });
    await expect(client.postgres({ instance: 'reporting_server', username: 'postgres' })).rejects.toThrow();
    await expect(client.postgres({ instance: 'reporting_server', username: 'postgres' })).rejects.toThrow();
    expect(records.filter((r) => r.event === 'token.denied')).toHaveLength(2);
  });
});
