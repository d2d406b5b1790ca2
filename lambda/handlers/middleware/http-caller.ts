import type middy from '@middy/core';
import { NotAuthorizedError } from '../../vending/errors';
import { invocationOf } from '../invocation';

/** The parts of REST (v1) and HTTP API (v2) proxy events that identify the caller. */
interface ProxyEvent {
  readonly requestContext?: {
    readonly requestId?: string;
    readonly identity?: {
      readonly userArn?: string | null;
      readonly sourceIp?: string;
      readonly userAgent?: string | null;
    };
    readonly authorizer?: { readonly iam?: { readonly userArn?: string } } | null;
    readonly http?: { readonly sourceIp?: string; readonly userAgent?: string };
  };
}

const defaults = { now: Date.now };

/**
 * Takes the IAM principal that API Gateway verified from the event: `requestContext.identity.userArn`
 * (REST API, `AWS_IAM`) or `requestContext.authorizer.iam.userArn` (HTTP API, IAM authorizer). A
 * request without one never reaches the vendor.
 *
 * @example
 * ```ts
 * middy(handler).use(httpCaller());
 * ```
 */
export function httpCaller(options: { now?: () => number } = {}): middy.MiddlewareObj<ProxyEvent> {
  const { now } = { ...defaults, ...options };
  return {
    before: (request) => {
      const invocation = invocationOf(request.context, 'http', now);
      const context = request.event?.requestContext;
      if (context?.requestId) invocation.requestId = context.requestId;
      const principalArn = context?.identity?.userArn ?? context?.authorizer?.iam?.userArn ?? undefined;
      const sourceIp = context?.identity?.sourceIp ?? context?.http?.sourceIp;
      const userAgent = context?.identity?.userAgent ?? context?.http?.userAgent ?? undefined;
      if (typeof principalArn !== 'string' || principalArn === '') {
        throw new NotAuthorizedError(
          'The request carries no IAM identity; call the API with SigV4 (AWS_IAM authorization).',
        );
      }
      invocation.caller = {
        kind: 'http',
        principalArn,
        ...(sourceIp ? { sourceIp } : {}),
        ...(userAgent ? { userAgent } : {}),
      };
    },
  };
}
