import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Fault } from '../../../dev/emulator/faults';
import { SnowflakeError } from '../../../lambda/snowflake/errors';
import { recordsOf } from '../../../lambda/snowflake/sql-api';
import { USER_AGENT } from '../../../lambda/version';
import { type EmulatorFixture, emulatorFixture } from '../../support/emulator';
import { rsaKeyPair } from '../../support/keys';
import { fp } from '../../support/raw-jwt';
import { memorySigner } from '../../support/signers';

describe('SqlApiClient against the emulator', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await emulatorFixture();
  });
  afterAll(() => fx.emulator.close());
  beforeEach(() => {
    fx.emulator.clearRecords();
    fx.emulator.faults.clear();
  });

  const submissions = () => fx.emulator.requests.filter((r) => r.method === 'POST');

  it('submits with requestId, the required headers and the session context, and returns typed rows', async () => {
    // Act
    const result = await fx.client().execute('SELECT CURRENT_USER()');
    // Assess
    expect(result.rows).toEqual([['SVC']]);
    expect(result.columns).toEqual([{ name: 'CURRENT_USER()', type: 'text', nullable: true }]);
    expect(result).toMatchObject({
      attempts: 1,
      polls: 0,
      statementHandle: fx.emulator.executions[0]!.statementHandle,
    });
    expect(result.createdOn).toBeGreaterThanOrEqual(result.sentAt);
    const [post] = submissions();
    expect(post!.query).toEqual({ requestId: result.requestId });
    expect(post!.headers).toMatchObject({
      'x-snowflake-authorization-token-type': 'KEYPAIR_JWT',
      'content-type': 'application/json',
      accept: 'application/json',
      'user-agent': USER_AGENT,
      authorization: expect.stringMatching(/^Bearer ey/),
    });
    expect(JSON.parse(post!.body)).toEqual({
      statement: 'SELECT CURRENT_USER()',
      timeout: 30,
      warehouse: 'VENDOR_WH',
      role: 'TOKEN_VENDOR',
    });
  });

  it('sends database, schema, bindings and query_tag when given', async () => {
    const client = fx.client({ database: 'DB', schema: 'S', statementTimeoutSeconds: 5 });
    await client.execute('SELECT 1', {
      bindings: { '1': { type: 'TEXT', value: 'x' } },
      queryTag: 'token-vendor',
    });
    expect(JSON.parse(submissions()[0]!.body)).toMatchObject({
      database: 'DB',
      schema: 'S',
      timeout: 5,
      bindings: { '1': { type: 'TEXT', value: 'x' } },
      parameters: { query_tag: 'token-vendor' },
    });
  });

  const recoverable: [string, Fault, number][] = [
    ['429 without Retry-After', { kind: 'throttle' }, 2],
    ['500', { kind: 'server-error', status: 500 }, 2],
    ['502 (HTML body)', { kind: 'server-error', status: 502 }, 2],
    ['503', { kind: 'server-error', status: 503 }, 2],
    ['504 (HTML body)', { kind: 'server-error', status: 504 }, 2],
    ['503 after the statement ran', { kind: 'server-error', status: 503, afterExecute: true }, 1],
    ['a dropped connection', { kind: 'drop' }, 2],
    ['a dropped connection after the statement ran', { kind: 'drop', afterExecute: true }, 1],
    ['malformed JSON after the statement ran', { kind: 'malformed', afterExecute: true }, 1],
    ['a short delay', { kind: 'delay', ms: 150 }, 1],
  ];

  it.each(recoverable)('recovers from %s ×2, executing the statement exactly once', async (_name, fault) => {
    // Prepare
    fx.emulator.faults.push(fault, 2);
    // Act
    const result = await fx.client().execute('SELECT CURRENT_USER()', { deadline: Date.now() + 10_000 });
    // Assess
    expect(result.rows).toEqual([['SVC']]);
    expect(fx.emulator.executions).toHaveLength(1);
    const posts = submissions();
    expect(new Set(posts.map((p) => p.query.requestId))).toEqual(new Set([result.requestId]));
    expect(posts[0]!.query.retry).toBeUndefined();
    for (const resend of posts.slice(1)) expect(resend.query.retry).toBe('true');
  });

  it('waits as long as Retry-After says on a 429', async () => {
    fx.emulator.faults.push({ kind: 'throttle', retryAfterSeconds: 1 });
    const started = Date.now();
    await fx.client().execute('SELECT 1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    expect(fx.emulator.executions).toHaveLength(1);
  });

  it('fails at once when Retry-After outlasts the deadline, saying how long to wait', async () => {
    fx.emulator.faults.push({ kind: 'throttle', retryAfterSeconds: 30 });
    const started = Date.now();
    const error = await fx
      .client()
      .execute('SELECT 1', { deadline: Date.now() + 2000 })
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error).toMatchObject({ code: 'SNOWFLAKE_UNAVAILABLE', httpStatus: 429, retryAfterSeconds: 30 });
  });

  it('follows a 202 by polling the statement handle until it finishes', async () => {
    fx.emulator.faults.push({ kind: 'async', polls: 3 });
    const result = await fx.client().execute('SELECT CURRENT_USER()');
    expect(result).toMatchObject({ rows: [['SVC']], polls: 4, attempts: 1 });
    const polls = fx.emulator.requests.filter((r) => r.method === 'GET');
    expect(polls).toHaveLength(4);
    expect(polls.every((p) => p.path === `/api/v2/statements/${result.statementHandle}`)).toBe(true);
    expect(fx.emulator.executions).toHaveLength(1);
  });

  it('retries a poll that meets a 503', async () => {
    fx.emulator.faults.push({ kind: 'async', polls: 0 });
    fx.emulator.faults.push({ kind: 'server-error', status: 503 });
    const result = await fx.client().execute('SELECT 1');
    expect(result.rows).toEqual([['1']]);
    expect(fx.emulator.executions).toHaveLength(1);
  });

  it.each<[string, Fault]>([
    ['persistent 503s', { kind: 'server-error', status: 503 }],
    ['persistent drops', { kind: 'drop' }],
    ['a delay longer than the deadline', { kind: 'delay', ms: 5000 }],
  ])('gives up on %s within the deadline with SNOWFLAKE_UNAVAILABLE', async (_name, fault) => {
    fx.emulator.faults.push(fault, 1000);
    const started = Date.now();
    const error = await fx
      .client({ retry: { baseDelayMs: 50, maxDelayMs: 400, maxAttempts: 100 } })
      .execute('SELECT 1', { deadline: Date.now() + 1200 })
      .catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(SnowflakeError);
    expect(error).toMatchObject({ code: 'SNOWFLAKE_UNAVAILABLE' });
    expect(elapsed).toBeLessThan(1200 + 150);
  });

  it('gives up on a 202 that never finishes at the deadline, naming the handle', async () => {
    fx.emulator.faults.push({ kind: 'async', polls: 10_000 });
    const started = Date.now();
    const error = await fx
      .client()
      .execute('SELECT 1', { deadline: Date.now() + 800 })
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(800 + 150);
    expect(error).toMatchObject({ code: 'SNOWFLAKE_UNAVAILABLE', statementHandle: expect.any(String) });
  });

  it('stops after maxAttempts submissions', async () => {
    fx.emulator.faults.push({ kind: 'server-error', status: 500 }, 10);
    const error = await fx
      .client({ retry: { maxAttempts: 3, baseDelayMs: 1 } })
      .execute('SELECT 1')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SNOWFLAKE_UNAVAILABLE', attempts: 3, httpStatus: 500 });
    expect(submissions()).toHaveLength(3);
  });

  it('maps 408 to SNOWFLAKE_STATEMENT_TIMEOUT and 422 to SNOWFLAKE_REJECTED with Snowflake details', async () => {
    fx.emulator.faults.push({ kind: 'statement-timeout' });
    await expect(fx.client().execute('SELECT 1')).rejects.toMatchObject({
      code: 'SNOWFLAKE_STATEMENT_TIMEOUT',
      httpStatus: 408,
      snowflakeCode: '000630',
    });
    const error = (await fx
      .client()
      .execute('SELECT nope()')
      .catch((e: unknown) => e)) as SnowflakeError;
    expect(error).toMatchObject({
      code: 'SNOWFLAKE_REJECTED',
      httpStatus: 422,
      snowflakeCode: '001003',
      sqlState: '42000',
      statementHandle: expect.any(String),
    });
    expect(error.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(submissions()).toHaveLength(2); // neither was retried
  });

  it('reuses one JWT across calls and concurrent callers until near its expiry, then renews it', async () => {
    // Prepare: one clock for client and emulator
    let offset = 0;
    const now = () => Date.now() + offset;
    const clocked = await emulatorFixture({ key: fx.key, now });
    try {
      const client = clocked.client({ now, jwtLifetimeSeconds: 600 });
      // Act
      await Promise.all(Array.from({ length: 10 }, () => client.execute('SELECT 1')));
      offset = 500_000; // 83 % of the lifetime
      await client.execute('SELECT 1');
      offset = 545_000; // past 90 %
      await client.execute('SELECT 1');
      // Assess
      const tokens = clocked.emulator.requests.map((r) => r.headers.authorization);
      expect(new Set(tokens.slice(0, 11)).size).toBe(1);
      expect(tokens[11]).not.toBe(tokens[0]);
    } finally {
      await clocked.emulator.close();
    }
  });

  it('replaces a JWT that Snowflake says has expired, once', async () => {
    // Prepare: Snowflake's clock runs 3500 s ahead of the client's, so a JWT the client thinks is fresh expires there
    let clientOffset = 0;
    const snowflakeNow = () => Date.now() + 3_500_000 + clientOffset;
    const skewed = await emulatorFixture({ key: fx.key, now: snowflakeNow });
    try {
      const signer = memorySigner(fx.key.privateKey);
      const client = skewed.client({ now: () => Date.now() + clientOffset, signer });
      await client.execute('SELECT 1');
      clientOffset = 100_000; // the first JWT (exp = iat + 3540) is now expired for Snowflake only
      // Act
      const result = await client.execute('SELECT CURRENT_USER()');
      // Assess
      expect(result.rows).toEqual([['SVC']]);
      const [, expired, renewed] = skewed.emulator.requests;
      expect(expired!.status).toBe(401);
      expect(renewed!.status).toBe(200);
      expect(renewed!.headers.authorization).not.toBe(expired!.headers.authorization);
      expect(renewed!.query.retry).toBe('true');
      expect(signer.refreshes).toBe(0); // an expired JWT is not a key problem
    } finally {
      await skewed.emulator.close();
    }
  });

  it('re-reads the key once on 394304 and succeeds when the key was rotated under it', async () => {
    // Prepare: Snowflake already has the new key; the vendor's cached key is the old, unregistered one
    const old = rsaKeyPair();
    const signer = memorySigner(old.privateKey);
    signer.refresh = function refresh() {
      this.refreshes += 1;
      this.swap(fx.key.privateKey);
    };
    // Act
    const result = await fx.client({ signer }).execute('SELECT 1');
    // Assess
    expect(result.rows).toEqual([['1']]);
    expect(signer.refreshes).toBe(1);
    expect(submissions().map((s) => s.status)).toEqual([401, 200]);
  });

  it('fails with SNOWFLAKE_AUTH_FAILED naming the fingerprint when the key is not registered', async () => {
    const unregistered = rsaKeyPair();
    const signer = memorySigner(unregistered.privateKey);
    const error = (await fx
      .client({ signer })
      .execute('SELECT 1')
      .catch((e: unknown) => e)) as SnowflakeError;
    expect(error).toBeInstanceOf(SnowflakeError);
    expect(error).toMatchObject({ code: 'SNOWFLAKE_AUTH_FAILED', httpStatus: 401, snowflakeCode: '394304' });
    expect(error.message).toContain(fp(unregistered.privateKey));
    expect(error.message).toContain('MYORG-ACCT.SVC');
    expect(signer.refreshes).toBe(1);
    expect(submissions()).toHaveLength(2);
    expect(fx.emulator.executions).toHaveLength(0);
  });

  it('also re-reads the key on the generic 390144 that production Snowflake usually sends', async () => {
    const generic = await emulatorFixture({ key: fx.key, genericJwtErrors: true });
    try {
      const unregistered = rsaKeyPair();
      const signer = memorySigner(unregistered.privateKey);
      const error = await generic
        .client({ signer })
        .execute('SELECT 1')
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'SNOWFLAKE_AUTH_FAILED', snowflakeCode: '390144' });
      expect((error as Error).message).toContain(fp(unregistered.privateKey));
      expect(signer.refreshes).toBe(1);
    } finally {
      await generic.emulator.close();
    }
  });

  it('reads DESC USER as records', async () => {
    const records = recordsOf(await fx.client().execute('DESC USER SVC'));
    const fingerprint = records.find((r) => r.property === 'RSA_PUBLIC_KEY_FP');
    expect(fingerprint?.value).toBe(fp(fx.key.privateKey));
  });

  it('propagates the caller abort signal without retrying', async () => {
    fx.emulator.faults.push({ kind: 'delay', ms: 2000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('caller gave up')), 100);
    await expect(fx.client().execute('SELECT 1', { signal: controller.signal })).rejects.toThrow(
      'caller gave up',
    );
    expect(submissions()).toHaveLength(1);
  });
});
