import { GetSecretValueCommand, ResourceNotFoundException } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ALICE, lambdaContext, ROLE_SESSION, restEvent } from '../../support/events';
import { type VendingHarness, vendingHarness } from '../../support/vending';

type Case = {
  name: string;
  status: number;
  code: string;
  cause?: string;
  event: () => ReturnType<typeof restEvent>;
  arrange?: (h: VendingHarness) => void;
  retryAfter?: boolean;
  audit: 'token.denied' | 'token.failed';
};

const pg =
  (
    body: unknown = { instance: 'reporting_server', username: 'reporting_user' },
    arn: string | null = ROLE_SESSION,
  ) =>
  () =>
    restEvent('/v1/tokens/postgres', body, arn);

const cases: Case[] = [
  {
    name: 'no IAM identity on the request',
    status: 403,
    code: 'NOT_AUTHORIZED',
    event: pg(undefined, null),
    audit: 'token.denied',
  },
  {
    name: 'a principal without any grant',
    status: 403,
    code: 'NOT_AUTHORIZED',
    event: pg(undefined, 'arn:aws:sts::111122223333:assumed-role/intruder/s'),
    audit: 'token.denied',
  },
  {
    name: 'the same role name in another account',
    status: 403,
    code: 'NOT_AUTHORIZED',
    event: pg(undefined, 'arn:aws:sts::999999999999:assumed-role/reporting-api/s'),
    audit: 'token.denied',
  },
  {
    name: 'a Postgres user in another case',
    status: 403,
    code: 'NOT_AUTHORIZED',
    event: pg({ instance: 'reporting_server', username: 'Reporting_User' }),
    audit: 'token.denied',
  },
  {
    name: 'an instance that does not exist (same answer as not granted)',
    status: 403,
    code: 'NOT_AUTHORIZED',
    event: pg({ instance: 'secret_server', username: 'reporting_user' }),
    audit: 'token.denied',
  },
  {
    name: 'a JWT connection not granted',
    status: 403,
    code: 'NOT_AUTHORIZED',
    event: () => restEvent('/v1/tokens/snowflake-jwt', { connection: 'demo' }, ALICE),
    audit: 'token.denied',
  },
  {
    name: 'an unknown route',
    status: 404,
    code: 'UNKNOWN_TARGET',
    event: () => restEvent('/v1/tokens/aws-keys', {}, ROLE_SESSION),
    audit: 'token.failed',
  },
  {
    name: 'a GET',
    status: 404,
    code: 'UNKNOWN_TARGET',
    event: () => restEvent('/v1/tokens/postgres', '', ROLE_SESSION, { httpMethod: 'GET' }),
    audit: 'token.failed',
  },
  {
    name: 'a body that is not JSON',
    status: 400,
    code: 'INVALID_REQUEST',
    event: pg('{"instance": '),
    audit: 'token.failed',
  },
  { name: 'an empty body', status: 400, code: 'INVALID_REQUEST', event: pg(''), audit: 'token.failed' },
  { name: 'a JSON array', status: 400, code: 'INVALID_REQUEST', event: pg([1, 2]), audit: 'token.failed' },
  {
    name: 'an unknown field',
    status: 400,
    code: 'INVALID_REQUEST',
    event: pg({ instance: 'reporting_server', username: 'reporting_user', role: 'ACCOUNTADMIN' }),
    audit: 'token.failed',
  },
  {
    name: 'a missing field',
    status: 400,
    code: 'INVALID_REQUEST',
    event: pg({ instance: 'reporting_server' }),
    audit: 'token.failed',
  },
  {
    name: 'a wrong type',
    status: 400,
    code: 'INVALID_REQUEST',
    event: pg({ instance: 'reporting_server', username: 42 }),
    audit: 'token.failed',
  },
  {
    name: 'a control character in the user',
    status: 400,
    code: 'INVALID_REQUEST',
    event: pg({ instance: 'reporting_server', username: 'reporting_user\u0000' }),
    audit: 'token.failed',
  },
  {
    name: 'a body over 64 KiB',
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    event: pg({ instance: 'reporting_server', username: 'reporting_user', pad: 'x'.repeat(70_000) }),
    audit: 'token.failed',
  },
  {
    name: 'Snowflake refusing the statement (role without USAGE)',
    status: 502,
    code: 'SNOWFLAKE_REJECTED',
    cause: 'SNOWFLAKE_REJECTED',
    event: pg(),
    arrange: (h) => h.emulator.instances.get('REPORTING_SERVER')!.usageRoles.clear(),
    audit: 'token.failed',
  },
  {
    name: 'Snowflake refusing the key (not registered)',
    status: 502,
    code: 'SNOWFLAKE_AUTH_FAILED',
    event: pg(),
    arrange: (h) => h.emulator.setUserKey('SVC', 1, undefined),
    audit: 'token.failed',
  },
  {
    name: 'Snowflake unavailable (503s past the deadline)',
    status: 503,
    code: 'UPSTREAM_UNAVAILABLE',
    cause: 'SNOWFLAKE_UNAVAILABLE',
    event: pg(),
    arrange: (h) => h.emulator.faults.push({ kind: 'server-error', status: 503 }, 1000),
    retryAfter: true,
    audit: 'token.failed',
  },
  {
    name: 'Snowflake throttling longer than the deadline',
    status: 429,
    code: 'THROTTLED',
    event: pg(),
    arrange: (h) => h.emulator.faults.push({ kind: 'throttle', retryAfterSeconds: 120 }),
    retryAfter: true,
    audit: 'token.failed',
  },
  {
    name: 'the key secret missing',
    status: 500,
    code: 'CONFIG_ERROR',
    cause: 'KEY_SECRET_NOT_FOUND',
    event: pg(),
    arrange: (h) =>
      h.sm
        .on(GetSecretValueCommand, { SecretId: 'tv/demo' })
        .rejects(new ResourceNotFoundException({ message: 'x', $metadata: {} })),
    audit: 'token.failed',
  },
  {
    name: 'a wrong passphrase in the secret',
    status: 500,
    code: 'CONFIG_ERROR',
    cause: 'KEY_WRONG_PASSPHRASE',
    event: pg(),
    arrange: (h) => {
      const pem = h.key.privateKey
        .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'a' })
        .toString();
      h.sm
        .on(GetSecretValueCommand, { SecretId: 'tv/demo' })
        .resolves({ SecretString: JSON.stringify({ privateKey: pem, passphrase: 'b' }) });
    },
    audit: 'token.failed',
  },
  {
    name: 'the OAuth server refusing the client',
    status: 502,
    code: 'OAUTH_REJECTED',
    event: () => restEvent('/v1/tokens/oauth', { integration: 'servicenow' }, ROLE_SESSION),
    arrange: (h) =>
      h.sm
        .on(GetSecretValueCommand, { SecretId: 'tv/oauth' })
        .resolves({ SecretString: JSON.stringify({ clientSecret: 'rotated-elsewhere' }) }),
    audit: 'token.failed',
  },
  {
    name: 'the OAuth server failing',
    status: 503,
    code: 'UPSTREAM_UNAVAILABLE',
    cause: 'OAUTH_UNAVAILABLE',
    event: () => restEvent('/v1/tokens/oauth', { integration: 'servicenow' }, ROLE_SESSION),
    arrange: (h) => h.emulator.oauthFaults.push({ kind: 'server-error', status: 500 }, 10),
    retryAfter: true,
    audit: 'token.failed',
  },
  {
    name: 'an unexpected bug',
    status: 500,
    code: 'INTERNAL',
    event: pg(),
    arrange: (h) => {
      vi.spyOn(h.runtime.vendor, 'vend').mockRejectedValueOnce(
        new TypeError("Cannot read properties of undefined (reading 'x')"),
      );
    },
    audit: 'token.failed',
  },
];

describe('HTTP error paths', () => {
  let h: VendingHarness;
  beforeEach(async () => {
    h = await vendingHarness();
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await h.close();
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s → documented status and code', async (_name, c) => {
    // Prepare
    c.arrange?.(h);
    // Act
    const response = (await h.http(c.event(), lambdaContext(4000))) as APIGatewayProxyResult;
    // Assess
    const json = JSON.parse(response.body);
    expect(response.statusCode).toBe(c.status);
    expect(json).toEqual({
      error: { code: c.code, message: expect.any(String), requestId: response.headers!['X-Request-Id'] },
    });
    expect(response.headers).toMatchObject({
      'Cache-Control': 'no-store',
      'Content-Type': 'application/json',
    });
    if (c.retryAfter) expect(Number(response.headers!['Retry-After'])).toBeGreaterThan(0);
    else expect(response.headers!['Retry-After']).toBeUndefined();
    expect(h.records).toHaveLength(1);
    expect(h.records[0]).toMatchObject({
      event: c.audit,
      errorCode: c.code,
      requestId: response.headers!['X-Request-Id'],
    });
    if (c.cause) expect(h.records[0]!.errorCause).toBe(c.cause);
  });

  it('never says which targets exist: a missing instance and an ungranted one read the same', async () => {
    const missing = (await h.http(
      pg({ instance: 'secret_server', username: 'u' })(),
      lambdaContext(),
    )) as APIGatewayProxyResult;
    const ungranted = (await h.http(
      pg({ instance: 'reporting_server', username: 'etl_user' })(),
      lambdaContext(),
    )) as APIGatewayProxyResult;
    const strip = (r: APIGatewayProxyResult) => ({
      status: r.statusCode,
      message: JSON.parse(r.body).error.message,
    });
    expect(strip(missing)).toEqual(strip(ungranted));
  });

  it('tells the caller a generic CONFIG_ERROR and puts the detail (secret id) in the audit record', async () => {
    // Prepare
    h.sm
      .on(GetSecretValueCommand, { SecretId: 'tv/demo' })
      .rejects(new ResourceNotFoundException({ message: 'x', $metadata: {} }));
    // Act
    const response = (await h.http(pg()(), lambdaContext())) as APIGatewayProxyResult;
    // Assess
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('tv/demo');
    expect(JSON.parse(response.body).error.message).toMatch(/misconfigured/);
    expect(h.records[0]).toMatchObject({
      errorCode: 'CONFIG_ERROR',
      errorCause: 'KEY_SECRET_NOT_FOUND',
      errorDetail: expect.stringContaining('tv/demo'),
    });
  });

  it('keeps an unexpected error message away from the caller', async () => {
    vi.spyOn(h.runtime.vendor, 'vend').mockRejectedValueOnce(
      new Error('connect ECONNREFUSED 10.0.0.5:5432 password=hunter2'),
    );
    const response = (await h.http(pg()(), lambdaContext())) as APIGatewayProxyResult;
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('hunter2');
    expect(response.body).not.toContain('10.0.0.5');
    expect(h.records[0]!.errorCause).toMatch(/^Error at [\w.-]+:\d+$/);
    expect(JSON.stringify(h.records)).not.toContain('hunter2');
  });

  it('does not cache a failed mint: the next request mints again', async () => {
    h.emulator.faults.push({ kind: 'server-error', status: 503 }, 1000);
    const failed = (await h.http(pg()(), lambdaContext(2500))) as APIGatewayProxyResult;
    h.emulator.faults.clear();
    const next = (await h.http(pg()(), lambdaContext())) as APIGatewayProxyResult;
    expect([failed.statusCode, next.statusCode]).toEqual([503, 200]);
  });
});
