import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type {
  APIGatewayProxyEvent,
  APIGatewayProxyEventV2WithIAMAuthorizer,
  APIGatewayProxyResult,
  Context,
} from 'aws-lambda';
import { MAX_BODY_BYTES, ROUTES, TOKEN_TYPES, tokenTypeOf } from '../api/routes';
import type { AuditLog } from '../audit/audit-log';
import { auditLog, defaultRuntime, metrics, prepareDefaultRuntime } from '../runtime';
import { InvalidRequestError, PayloadTooLargeError, UnknownTargetError } from '../vending/errors';
import { parseVendRequest, type VendRequest } from '../vending/request';
import type { TokenVendor } from '../vending/vendor';
import { deadlineOf, invocationOf } from './invocation';
import { auditTrail } from './middleware/audit-trail';
import { httpCaller } from './middleware/http-caller';
import { httpErrorResponse, responseHeaders } from './middleware/http-error-response';

export { MAX_BODY_BYTES };

export type HttpEvent = APIGatewayProxyEvent | APIGatewayProxyEventV2WithIAMAuthorizer;

export interface HttpHandlerDeps {
  /** The vendor, built lazily on the first request (config parse, clients). */
  readonly vendor: () => TokenVendor | Promise<TokenVendor>;
  readonly audit: AuditLog;
  /** EMF metrics; omitted by the local stack, which has no CloudWatch to send them to. */
  readonly metrics?: Metrics;
  readonly now?: () => number;
}

/**
 * The API Gateway entry: REST API proxy events with `AWS_IAM`, or HTTP API (v2) events with the IAM
 * authorizer. Routes, validates the JSON body (64 KiB at most, unknown fields refused), vends, and
 * answers with `Cache-Control: no-store` and the request id.
 *
 * @example
 * ```ts
 * export const handler = createHttpHandler({ vendor: () => runtime().vendor, audit, metrics });
 * ```
 */
export function createHttpHandler(deps: HttpHandlerDeps) {
  const now = deps.now ?? Date.now;
  const handler = middy<HttpEvent, APIGatewayProxyResult, Error, Context>().use(httpErrorResponse({ now }));
  if (deps.metrics) handler.use(logMetrics(deps.metrics));
  return handler
    .use(
      auditTrail({
        audit: deps.audit,
        ...(deps.metrics ? { metrics: deps.metrics } : {}),
        trigger: 'http',
        now,
      }),
    )
    .use(httpCaller({ now }))
    .handler(async (event, context) => {
      const invocation = invocationOf(context, 'http', now);
      const request = parseRequest(event);
      invocation.request = request;
      if (invocation.caller?.kind !== 'http') throw new Error('httpCaller middleware did not run');
      const outcome = await (await deps.vendor()).vend(invocation.caller, request, {
        deadline: deadlineOf(context, now()),
      });
      invocation.outcome = outcome;
      return {
        statusCode: 200,
        headers: responseHeaders(invocation.requestId),
        body: JSON.stringify(outcome.response),
      };
    });
}

/** Route and body of a v1 or v2 event → a validated request. */
export function parseRequest(event: HttpEvent): VendRequest {
  const { method, path } = routeOf(event);
  const tokenType = tokenTypeOf(path);
  if (!tokenType || method !== ROUTES[tokenType].method) {
    throw new UnknownTargetError(
      `No route ${method} ${path}. Routes: ${TOKEN_TYPES.map((t) => `${ROUTES[t].method} ${ROUTES[t].path}`).join(', ')}.`,
    );
  }
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.length > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new InvalidRequestError('The body must be a JSON object.');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new InvalidRequestError('The body must be a JSON object.');
  return parseVendRequest(tokenType, json, 'request');
}

function routeOf(event: HttpEvent): { method: string; path: string } {
  if ('httpMethod' in event) {
    const resource = event.resource && !event.resource.includes('{') ? event.resource : event.path;
    return { method: event.httpMethod, path: resource ?? '/' };
  }
  const method = event.requestContext?.http?.method ?? 'GET';
  if (event.routeKey && event.routeKey !== '$default') {
    const [, path = '/'] = event.routeKey.split(' ');
    return { method, path };
  }
  const stage = event.requestContext?.stage;
  const rawPath = event.rawPath ?? '/';
  const path =
    stage && stage !== '$default' && rawPath.startsWith(`/${stage}/`)
      ? rawPath.slice(stage.length + 1)
      : rawPath;
  return { method, path };
}

// Init: config, runtime, SDK clients and a warm fetch engine before the first request (see runtime.ts).
await prepareDefaultRuntime();

/** The Lambda entry point for API Gateway. */
export const handler = createHttpHandler({
  vendor: async () => (await defaultRuntime()).vendor,
  audit: auditLog,
  metrics,
});
