import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type EmulatorFixture, emulatorFixture } from '../../../support/emulator';
import { rsaKeyPair } from '../../../support/keys';
import { fp, rawJwt } from '../../../support/raw-jwt';

/** Sends requests by hand so each rule of the emulator can be broken on purpose. */
describe('Snowflake emulator strictness', () => {
  let fx: EmulatorFixture;
  const other = rsaKeyPair();
  const nowS = () => Math.floor(Date.now() / 1000);
  const goodClaims = () => ({
    iss: `MYORG-ACCT.SVC.${fp(fx.key.privateKey)}`,
    sub: 'MYORG-ACCT.SVC',
    iat: nowS(),
    exp: nowS() + 3000,
  });

  beforeAll(async () => {
    fx = await emulatorFixture();
  });
  afterAll(() => fx.emulator.close());
  beforeEach(() => fx.emulator.clearRecords());

  async function submit(
    token: string,
    body: unknown = { statement: 'SELECT 1', timeout: 10 },
    {
      headers = {},
      query = `requestId=${randomUUID()}`,
    }: { headers?: Record<string, string | undefined>; query?: string } = {},
  ) {
    const all: Record<string, string> = {
      Authorization: `Bearer ${token}`,
      'X-Snowflake-Authorization-Token-Type': 'KEYPAIR_JWT',
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'User-Agent': 'emulator-test/1.0',
    };
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined) delete all[k];
      else all[k] = v;
    }
    const response = await fetch(`${fx.emulator.url}/api/v2/statements?${query}`, {
      method: 'POST',
      headers: all,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return {
      status: response.status,
      json: (await response.json()) as Record<string, any>,
      headers: response.headers,
    };
  }

  it('answers a valid request with the jsonv2 result-set shape', async () => {
    const { status, json } = await submit(rawJwt(goodClaims(), fx.key.privateKey));
    expect(status).toBe(200);
    expect(json).toMatchObject({
      code: '090001',
      sqlState: '00000',
      statementHandle: expect.stringMatching(/^[0-9a-f-]{36}$/),
      statementStatusUrl: expect.stringMatching(/^\/api\/v2\/statements\//),
      createdOn: expect.any(Number),
      resultSetMetaData: {
        numRows: 1,
        format: 'jsonv2',
        rowType: [expect.objectContaining({ name: '1', type: 'fixed' })],
      },
      data: [['1']],
    });
  });

  it('accepts the account locator as well as the org-account name, and iat in milliseconds', async () => {
    const claims = {
      ...goodClaims(),
      iss: `XY12345.SVC.${fp(fx.key.privateKey)}`,
      sub: 'XY12345.SVC',
      iat: Date.now(),
      exp: Date.now() + 60_000,
    };
    expect((await submit(rawJwt(claims, fx.key.privateKey))).status).toBe(200);
  });

  it.each<[string, string, () => string]>([
    ['a bad signature', '390144', () => rawJwt(goodClaims(), other.privateKey)],
    [
      'a region left in the account',
      '394300',
      () =>
        rawJwt(
          {
            ...goodClaims(),
            iss: `XY12345.US-EAST-2.AWS.SVC.${fp(fx.key.privateKey)}`,
            sub: 'XY12345.US-EAST-2.AWS.SVC',
          },
          fx.key.privateKey,
        ),
    ],
    [
      'a lowercase account',
      '390144',
      () =>
        rawJwt(
          { ...goodClaims(), iss: `myorg-acct.SVC.${fp(fx.key.privateKey)}`, sub: 'myorg-acct.SVC' },
          fx.key.privateKey,
        ),
    ],
    [
      'a lowercase user',
      '390144',
      () =>
        rawJwt(
          { ...goodClaims(), iss: `MYORG-ACCT.svc.${fp(fx.key.privateKey)}`, sub: 'MYORG-ACCT.svc' },
          fx.key.privateKey,
        ),
    ],
    [
      'another account',
      '394307',
      () =>
        rawJwt(
          { ...goodClaims(), iss: `OTHER-ACCT.SVC.${fp(fx.key.privateKey)}`, sub: 'OTHER-ACCT.SVC' },
          fx.key.privateKey,
        ),
    ],
    [
      'a wrong fingerprint',
      '394304',
      () => rawJwt({ ...goodClaims(), iss: `MYORG-ACCT.SVC.${fp(other.privateKey)}` }, other.privateKey),
    ],
    [
      'an exp more than 3600 s after iat',
      '390144',
      () => rawJwt({ ...goodClaims(), exp: nowS() + 3601 }, fx.key.privateKey),
    ],
    [
      'an expired token',
      '394303',
      () => rawJwt({ ...goodClaims(), iat: nowS() - 600, exp: nowS() - 1 }, fx.key.privateKey),
    ],
    [
      'an iat in the future',
      '394302',
      () => rawJwt({ ...goodClaims(), iat: nowS() + 600, exp: nowS() + 1200 }, fx.key.privateKey),
    ],
    ['an empty sub', '390144', () => rawJwt({ ...goodClaims(), sub: '' }, fx.key.privateKey)],
    [
      'iss not starting with sub',
      '390144',
      () => rawJwt({ ...goodClaims(), sub: 'MYORG-ACCT.OTHER' }, fx.key.privateKey),
    ],
    [
      'an unknown user',
      '394300',
      () =>
        rawJwt(
          { ...goodClaims(), iss: `MYORG-ACCT.NOBODY.${fp(fx.key.privateKey)}`, sub: 'MYORG-ACCT.NOBODY' },
          fx.key.privateKey,
        ),
    ],
    ['HS256', '394305', () => rawJwt(goodClaims(), fx.key.privateKey, { alg: 'HS256', typ: 'JWT' })],
    ['garbage', '390144', () => 'not.a.jwt'],
  ])('rejects %s with 401 %s and runs nothing', async (_name, code, token) => {
    const { status, json } = await submit(token());
    expect(status).toBe(401);
    expect(json.code).toBe(code);
    expect(json.message).toMatch(/^JWT token is invalid.*\[[0-9a-f-]{36}\]$/);
    expect(fx.emulator.executions).toHaveLength(0);
  });

  it('refuses a request without User-Agent', async () => {
    // fetch always adds a User-Agent, so this one goes through node:http.
    const body = JSON.stringify({ statement: 'SELECT 1' });
    const { status, json } = await new Promise<{ status: number; json: any }>((resolve, reject) => {
      const req = request(`${fx.emulator.url}/api/v2/statements?requestId=${randomUUID()}`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${rawJwt(goodClaims(), fx.key.privateKey)}`,
          'Content-Type': 'application/json',
        },
      });
      req.on('response', async (res) =>
        resolve({ status: res.statusCode ?? 0, json: JSON.parse(await text(res)) }),
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(400);
    expect(json.code).toBe('391903');
    expect(fx.emulator.requests.at(-1)?.headers['user-agent']).toBeUndefined();
    expect(fx.emulator.executions).toHaveLength(0);
  });

  it.each<[string, Record<string, string | undefined>, unknown, number, string]>([
    ['a wrong content type', { 'Content-Type': 'text/plain' }, undefined, 415, '391902'],
    ['a missing Authorization', { Authorization: undefined }, undefined, 401, '390101'],
    ['an OAuth token type', { 'X-Snowflake-Authorization-Token-Type': 'OAUTH' }, undefined, 401, '390144'],
    ['a body that is not JSON', {}, '{"statement": ', 400, '390142'],
    ['a body without a statement', {}, { timeout: 1 }, 400, '390142'],
  ])('refuses %s', async (_name, headers, body, status, code) => {
    const result = await submit(rawJwt(goodClaims(), fx.key.privateKey), body ?? { statement: 'SELECT 1' }, {
      headers,
    });
    expect(result.status).toBe(status);
    expect(result.json.code).toBe(code);
    expect(fx.emulator.executions).toHaveLength(0);
  });

  it('refuses a requestId that is not a UUID', async () => {
    const result = await submit(rawJwt(goodClaims(), fx.key.privateKey), undefined, {
      query: 'requestId=42',
    });
    expect(result.status).toBe(400);
  });

  it('answers statement failures with 422 {code, sqlState, message, statementHandle}', async () => {
    const token = rawJwt(goodClaims(), fx.key.privateKey);
    const cases: [string, string][] = [
      ["SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('nope', 'u')", '002003'],
      ['DROP DATABASE prod', '001003'],
      ['SELECT 1; SELECT 2', '000008'],
    ];
    for (const [statement, code] of cases) {
      const { status, json } = await submit(token, { statement });
      expect(status).toBe(422);
      expect(json).toMatchObject({
        code,
        sqlState: expect.any(String),
        message: expect.any(String),
        statementHandle: expect.any(String),
      });
    }
    const noUsage = await submit(token, {
      statement: "SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('reporting_server', 'u')",
      role: 'NO_USAGE',
    });
    expect(noUsage.json.code).toBe('002003');
    const notGranted = await submit(token, { statement: 'SELECT 1', role: 'ACCOUNTADMIN' });
    expect(notGranted).toMatchObject({ status: 422, json: { code: '390189' } });
  });

  it('runs a retried requestId once with retry=true, and again without it', async () => {
    const token = rawJwt(goodClaims(), fx.key.privateKey);
    const requestId = randomUUID();
    const first = await submit(token, { statement: 'SELECT 1' }, { query: `requestId=${requestId}` });
    const retried = await submit(
      token,
      { statement: 'SELECT 1' },
      { query: `requestId=${requestId}&retry=true` },
    );
    expect(retried.json.statementHandle).toBe(first.json.statementHandle);
    expect(fx.emulator.executions).toHaveLength(1);
    await submit(token, { statement: 'SELECT 1' }, { query: `requestId=${requestId}` });
    expect(fx.emulator.executions).toHaveLength(2);
  });

  it('answers 202 with a handle and keeps answering 202 to polls until the statement is done', async () => {
    fx.emulator.faults.push({ kind: 'async', polls: 2 });
    const token = rawJwt(goodClaims(), fx.key.privateKey);
    const accepted = await submit(token, { statement: 'SELECT CURRENT_USER()' });
    expect(accepted).toMatchObject({
      status: 202,
      json: { code: '333334', statementHandle: expect.any(String) },
    });
    const poll = () =>
      fetch(`${fx.emulator.url}/api/v2/statements/${accepted.json.statementHandle}`, {
        headers: { Authorization: `Bearer ${token}`, 'User-Agent': 't/1', Accept: 'application/json' },
      });
    expect((await poll()).status).toBe(202);
    expect((await poll()).status).toBe(202);
    const done = await poll();
    expect(done.status).toBe(200);
    expect(((await done.json()) as any).data).toEqual([['SVC']]);
  });

  it('produces 429 with and without Retry-After, 5xx, 408, dropped connections and malformed JSON on demand', async () => {
    const token = rawJwt(goodClaims(), fx.key.privateKey);
    fx.emulator.faults.push({ kind: 'throttle', retryAfterSeconds: 7 });
    fx.emulator.faults.push({ kind: 'throttle' });
    fx.emulator.faults.push({ kind: 'server-error', status: 503 });
    fx.emulator.faults.push({ kind: 'statement-timeout' });
    const throttled = await submit(token);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('7');
    const bare = await submit(token);
    expect(bare.status).toBe(429);
    expect(bare.headers.get('retry-after')).toBeNull();
    expect((await submit(token)).status).toBe(503);
    expect((await submit(token)).json).toMatchObject({ code: '000630', sqlState: '57014' });
    fx.emulator.faults.push({ kind: 'drop' });
    await expect(submit(token)).rejects.toThrow();
    fx.emulator.faults.push({ kind: 'malformed' });
    await expect(submit(token)).rejects.toThrow(SyntaxError);
    expect(fx.emulator.faults.pending).toBe(0);
  });

  it('describes a user with both key slots and their fingerprints, and sets/unsets keys', async () => {
    const token = rawJwt(goodClaims(), fx.key.privateKey);
    const body = other.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    await submit(token, { statement: `ALTER USER svc SET RSA_PUBLIC_KEY_2 = '${body}'` });
    const desc = await submit(token, { statement: 'DESC USER SVC' });
    const props = Object.fromEntries((desc.json.data as string[][]).map(([p, v]) => [p, v]));
    expect(desc.json.resultSetMetaData.rowType.map((c: any) => c.name)).toEqual([
      'property',
      'value',
      'default',
      'description',
    ]);
    expect(props.RSA_PUBLIC_KEY_FP).toBe(fp(fx.key.privateKey));
    expect(props.RSA_PUBLIC_KEY_2_FP).toBe(fp(other.privateKey));
    expect(props.RSA_PUBLIC_KEY_2).toBe(body);
    // The new key now authenticates too.
    expect(
      (
        await submit(
          rawJwt({ ...goodClaims(), iss: `MYORG-ACCT.SVC.${fp(other.privateKey)}` }, other.privateKey),
        )
      ).status,
    ).toBe(200);
    await submit(token, { statement: 'ALTER USER SVC UNSET RSA_PUBLIC_KEY_2' });
    const after = await submit(token, { statement: 'DESCRIBE USER svc' });
    expect(
      Object.fromEntries((after.json.data as string[][]).map(([p, v]) => [p, v])).RSA_PUBLIC_KEY_2_FP,
    ).toBe('null');
    const bad = await submit(token, { statement: "ALTER USER SVC SET RSA_PUBLIC_KEY_2 = 'bm90IGEga2V5'" });
    expect(bad.status).toBe(422);
  });

  it('answers every JWT problem with the generic 390144 when told to, as production usually does', async () => {
    const generic = await emulatorFixture({ genericJwtErrors: true });
    try {
      const response = await fetch(`${generic.emulator.url}/api/v2/statements?requestId=${randomUUID()}`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${rawJwt(goodClaims(), other.privateKey)}`,
          'User-Agent': 't/1',
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({ statement: 'SELECT 1' }),
      });
      expect(response.status).toBe(401);
      expect(((await response.json()) as any).code).toBe('390144');
    } finally {
      await generic.emulator.close();
    }
  });
});
