import { ROUTES, type TokenType } from '../api/routes';
import type { OAuthRequest, PatRequest, PostgresRequest, SnowflakeJwtRequest } from '../api/schemas';
import { formatIssues } from '../config/issues';
import { InvalidRequestError } from './errors';

/** What a caller asks for, whichever entry it came through. */
export type VendRequest =
  | ({ readonly tokenType: 'postgres' } & PostgresRequest)
  | ({ readonly tokenType: 'snowflake-jwt' } & SnowflakeJwtRequest)
  | ({ readonly tokenType: 'oauth' } & OAuthRequest)
  | ({ readonly tokenType: 'pat' } & PatRequest);

/**
 * Validate the fields of a request for `tokenType` against the contract's schema (the HTTP body, or a
 * direct event without its `tokenType`). Throws {@link InvalidRequestError} naming each bad field.
 *
 * @example
 * ```ts
 * const request = parseVendRequest('postgres', JSON.parse(body), 'request');
 * ```
 */
export function parseVendRequest(tokenType: TokenType, fields: unknown, what: string): VendRequest {
  const parsed = ROUTES[tokenType].request.safeParse(fields);
  if (!parsed.success)
    throw new InvalidRequestError(`Invalid ${tokenType} ${what}:\n${formatIssues(parsed.error.issues)}`);
  return { tokenType, ...parsed.data } as VendRequest;
}

/** Who is asking: an IAM principal through API Gateway, or a direct invoke (Step Functions). */
export type Caller =
  | {
      readonly kind: 'http';
      readonly principalArn: string;
      readonly sourceIp?: string;
      readonly userAgent?: string;
    }
  | { readonly kind: 'direct' };

/**
 * The target of a request, for the audit trail: names only, never secrets.
 *
 * @example
 * ```ts
 * describeTarget({ tokenType: 'postgres', instance: 'reporting_server', username: 'reporting_user' });
 * ```
 */
export function describeTarget(request: VendRequest): Record<string, string | string[]> {
  switch (request.tokenType) {
    case 'postgres':
      return {
        instance: request.instance,
        username: request.username,
        ...(request.connection ? { connection: request.connection } : {}),
      };
    case 'snowflake-jwt':
      return { connection: request.connection };
    case 'oauth':
      return { integration: request.integration, ...(request.scopes ? { scopes: request.scopes } : {}) };
    case 'pat':
      return {
        target: request.target,
        role: request.role,
        ...(request.lifetimeSeconds !== undefined
          ? { lifetimeSeconds: String(request.lifetimeSeconds) }
          : {}),
      };
  }
}
