import type middy from '@middy/core';
import { publicError } from '../../vending/public-error';
import { invocationOf } from '../invocation';

const defaults = { now: Date.now };

/** Headers every answer carries: tokens must never be cached by anything in between. */
export function responseHeaders(requestId: string): Record<string, string> {
  return { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'X-Request-Id': requestId };
}

/**
 * Maps any error to the API's error answer: `{"error": {"code", "message", "requestId"}}` with the
 * stable status, `Retry-After` on 429/503, and no stack or internal text. Bad input never becomes a 500.
 *
 * @example
 * ```ts
 * middy(handler).use(httpErrorResponse());
 * ```
 */
export function httpErrorResponse(options: { now?: () => number } = {}): middy.MiddlewareObj {
  const { now } = { ...defaults, ...options };
  return {
    onError: (request) => {
      const { requestId } = invocationOf(request.context, 'http', now);
      const mapped = publicError(request.error);
      request.response = {
        statusCode: mapped.status,
        headers: {
          ...responseHeaders(requestId),
          ...(mapped.retryAfterSeconds === undefined
            ? {}
            : { 'Retry-After': String(mapped.retryAfterSeconds) }),
        },
        body: JSON.stringify({ error: { code: mapped.code, message: mapped.message, requestId } }),
      };
    },
  };
}
