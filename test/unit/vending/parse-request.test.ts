import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenVendorError } from '../../../lambda/errors';
import { parseDirectEvent } from '../../../lambda/handlers/direct';
import { parseRequest } from '../../../lambda/handlers/http';
import { publicError } from '../../../lambda/vending/public-error';
import { ROLE_SESSION, restEvent } from '../../support/events';

/** Whatever a caller sends, parsing yields a request or a 4xx, never a crash or a 500. */
describe('request parsing never crashes (fuzz)', () => {
  const paths = fc.constantFrom(
    '/v1/tokens/postgres',
    '/v1/tokens/snowflake-jwt',
    '/v1/tokens/oauth',
    '/v1/tokens/',
    '/',
    '/v1/tokens/postgres/',
  );

  it('HTTP bodies: any JSON value or any string', () => {
    fc.assert(
      fc.property(
        paths,
        fc.oneof(fc.jsonValue(), fc.string(), fc.record({ instance: fc.string(), username: fc.string() })),
        (path, body) => {
          try {
            const request = parseRequest(
              restEvent(path, typeof body === 'string' ? body : JSON.stringify(body), ROLE_SESSION),
            );
            expect(['postgres', 'snowflake-jwt', 'oauth']).toContain(request.tokenType);
          } catch (error) {
            expect(error).toBeInstanceOf(TokenVendorError);
            expect(publicError(error).status).toBeGreaterThanOrEqual(400);
            expect(publicError(error).status).toBeLessThan(500);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('direct events: any JSON value', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue(),
          fc.record({
            tokenType: fc.constantFrom('postgres', 'oauth', 'snowflake-jwt', 'x'),
            instance: fc.string(),
            username: fc.string(),
          }),
        ),
        (event) => {
          try {
            parseDirectEvent(event);
          } catch (error) {
            expect(publicError(error).code).toBe('INVALID_REQUEST');
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
