import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { KMSClient } from '@aws-sdk/client-kms';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { isTokenType, TOKEN_TYPES } from '../api/routes';
import type { AuditLog } from '../audit/audit-log';
import { auditLog, defaultRuntime, metrics, prepareDefaultRuntime } from '../runtime';
import { type SealedToken, sealForConsumer } from '../vending/envelope';
import { InvalidRequestError } from '../vending/errors';
import { publicError } from '../vending/public-error';
import { parseVendRequest, type VendRequest } from '../vending/request';
import type { TokenResponse, TokenVendor } from '../vending/vendor';
import { deadlineOf, invocationOf } from './invocation';
import { auditTrail } from './middleware/audit-trail';

export interface DirectHandlerDeps {
  readonly vendor: () => TokenVendor | Promise<TokenVendor>;
  readonly audit: AuditLog;
  readonly metrics: Metrics;
  /** When set, tokens are returned sealed (`encryptedToken`, an Encryption SDK message) instead of in plain text. */
  readonly envelope?: { readonly kms: () => KMSClient | Promise<KMSClient>; readonly keyId: string };
  readonly now?: () => number;
}

/** The answer to a direct invoke: the HTTP answer, or the same with the token sealed (`encryptedToken`) instead of `token`. */
export type DirectResult = TokenResponse | (Omit<TokenResponse, 'token'> & SealedToken);

/** A failure Step Functions can `Retry`/`Catch` on by its PascalCase `name` (`NotAuthorized`, `UpstreamUnavailable`, …). */
export class DirectInvokeError extends Error {
  readonly code: string;
  readonly retryAfterSeconds?: number;

  constructor(name: string, code: string, message: string, retryAfterSeconds?: number) {
    super(message);
    this.name = name;
    this.code = code;
    if (retryAfterSeconds !== undefined) this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * The direct-invoke entry for Step Functions: event `{"tokenType": "postgres", "instance", "username"}`
 * (or `snowflake-jwt`, `oauth` with the HTTP body's fields). What it may vend is `directInvoke` in the
 * config, separate from HTTP grants. Failures throw errors named by stable PascalCase codes.
 *
 * @example
 * ```ts
 * export const handler = createDirectHandler({ vendor: () => runtime().vendor, audit, metrics });
 * ```
 */
export function createDirectHandler(deps: DirectHandlerDeps) {
  const now = deps.now ?? Date.now;
  return middy<unknown, DirectResult, Error, Context>()
    .use({
      onError: (request) => {
        const { requestId } = invocationOf(request.context, 'direct', now);
        const mapped = publicError(request.error);
        request.error = new DirectInvokeError(
          mapped.name,
          mapped.code,
          `${mapped.message} (requestId ${requestId})`,
          mapped.retryAfterSeconds,
        );
      },
    })
    .use(logMetrics(deps.metrics))
    .use(auditTrail({ audit: deps.audit, metrics: deps.metrics, trigger: 'direct', now }))
    .handler(async (event, context) => {
      const invocation = invocationOf(context, 'direct', now);
      invocation.caller = { kind: 'direct' };
      const request = parseDirectEvent(event);
      invocation.request = request;
      const outcome = await (await deps.vendor()).vend(invocation.caller, request, {
        deadline: deadlineOf(context, now()),
      });
      invocation.outcome = outcome;
      if (!deps.envelope) return outcome.response;
      const { token, ...rest } = outcome.response;
      const sealed = await sealForConsumer(await deps.envelope.kms(), deps.envelope.keyId, token, {
        'token-vendor:tokenType': outcome.response.tokenType,
        'token-vendor:tokenId': outcome.audit.tokenId,
        'token-vendor:requestId': invocation.requestId,
      });
      return { ...rest, ...sealed };
    });
}

/** Validate a direct event: `tokenType` plus the fields of that type's HTTP body, nothing else. */
export function parseDirectEvent(event: unknown): VendRequest {
  if (event === null || typeof event !== 'object' || Array.isArray(event))
    throw new InvalidRequestError('The event must be a JSON object.');
  const { tokenType, ...fields } = event as Record<string, unknown>;
  if (!isTokenType(tokenType)) {
    throw new InvalidRequestError(`tokenType must be one of ${TOKEN_TYPES.map((t) => `"${t}"`).join(', ')}.`);
  }
  return parseVendRequest(tokenType, fields, 'event');
}

const envelopeKeyId = process.env.TOKEN_VENDOR_ENVELOPE_KEY_ID;

// Init: config, runtime, SDK clients and a warm fetch engine before the first request (see runtime.ts).
await prepareDefaultRuntime();

/** The Lambda entry point for direct invokes (Step Functions). */
export const handler = createDirectHandler({
  vendor: async () => (await defaultRuntime()).vendor,
  audit: auditLog,
  metrics,
  ...(envelopeKeyId
    ? { envelope: { kms: async () => (await defaultRuntime()).kms(), keyId: envelopeKeyId } }
    : {}),
});
