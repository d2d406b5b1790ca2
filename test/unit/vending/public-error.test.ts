import { describe, expect, it } from 'vitest';
import { TokenVendorError } from '../../../lambda/errors';
import { KeyMaterialError } from '../../../lambda/keys/errors';
import { OAuthError } from '../../../lambda/oauth/errors';
import { SnowflakeError } from '../../../lambda/snowflake/errors';
import { NotAuthorizedError } from '../../../lambda/vending/errors';
import { PUBLIC_ERRORS, publicError } from '../../../lambda/vending/public-error';

describe('publicError', () => {
  it.each<[string, unknown, string, number]>([
    ['denial', new NotAuthorizedError(), 'NOT_AUTHORIZED', 403],
    ['bad name', new TokenVendorError('POSTGRES_NAME_INVALID', 'x'), 'INVALID_REQUEST', 400],
    [
      'auth failure',
      new SnowflakeError('SNOWFLAKE_AUTH_FAILED', 'x', { httpStatus: 401 }),
      'SNOWFLAKE_AUTH_FAILED',
      502,
    ],
    [
      'statement failure',
      new SnowflakeError('SNOWFLAKE_REJECTED', 'x', { httpStatus: 422 }),
      'SNOWFLAKE_REJECTED',
      502,
    ],
    [
      'statement timeout',
      new SnowflakeError('SNOWFLAKE_STATEMENT_TIMEOUT', 'x', { httpStatus: 408 }),
      'UPSTREAM_UNAVAILABLE',
      503,
    ],
    [
      'throttling',
      new SnowflakeError('SNOWFLAKE_UNAVAILABLE', 'x', { httpStatus: 429, retryAfterSeconds: 30 }),
      'THROTTLED',
      429,
    ],
    [
      '5xx',
      new SnowflakeError('SNOWFLAKE_UNAVAILABLE', 'x', { httpStatus: 503 }),
      'UPSTREAM_UNAVAILABLE',
      503,
    ],
    ['key problem', new KeyMaterialError('KEY_WRONG_PASSPHRASE', 'x'), 'CONFIG_ERROR', 500],
    ['key source down', new KeyMaterialError('KEY_SOURCE_UNAVAILABLE', 'x'), 'UPSTREAM_UNAVAILABLE', 503],
    ['oauth refusal', new OAuthError('OAUTH_REJECTED', 'x'), 'OAUTH_REJECTED', 502],
    ['oauth down', new OAuthError('OAUTH_UNAVAILABLE', 'x'), 'UPSTREAM_UNAVAILABLE', 503],
    ['bug', new TypeError('x is undefined'), 'INTERNAL', 500],
    ['a thrown string', 'oops', 'INTERNAL', 500],
  ])('%s → %s %i', (_name, error, code, status) => {
    const mapped = publicError(error);
    expect(mapped).toMatchObject({
      code,
      status,
      name: PUBLIC_ERRORS[code as keyof typeof PUBLIC_ERRORS].name,
    });
    if (status === 429 || status === 503) expect(mapped.retryAfterSeconds).toBeGreaterThan(0);
  });

  it('passes the Retry-After Snowflake asked for', () => {
    expect(
      publicError(
        new SnowflakeError('SNOWFLAKE_UNAVAILABLE', 'x', { httpStatus: 429, retryAfterSeconds: 42 }),
      ).retryAfterSeconds,
    ).toBe(42);
  });

  it('gives every public code a PascalCase name', () => {
    for (const { name } of Object.values(PUBLIC_ERRORS)) expect(name).toMatch(/^[A-Z][A-Za-z]+$/);
  });
});
