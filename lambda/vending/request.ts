import { z } from 'zod';
import { InstanceName, PostgresUserName } from '../config/schema';

/** `POST /v1/tokens/postgres` body (and the direct event without `tokenType`). */
export const PostgresRequestSchema = z.strictObject({
  instance: InstanceName,
  username: PostgresUserName,
  /** Needed only when two Snowflake connections have an instance of this name. */
  connection: z.string().min(1).max(64).optional(),
});

/** `POST /v1/tokens/snowflake-jwt` body. */
export const SnowflakeJwtRequestSchema = z.strictObject({
  connection: z.string().min(1).max(64),
});

/** `POST /v1/tokens/oauth` body. */
export const OAuthRequestSchema = z.strictObject({
  integration: z.string().min(1).max(64),
  /** A subset of the granted scopes; default: all granted scopes. */
  scopes: z.array(z.string().min(1).max(256)).max(50).optional(),
});

/** What a caller asks for, whichever entry it came through. */
export type VendRequest =
  | ({ readonly tokenType: 'postgres' } & z.infer<typeof PostgresRequestSchema>)
  | ({ readonly tokenType: 'snowflake-jwt' } & z.infer<typeof SnowflakeJwtRequestSchema>)
  | ({ readonly tokenType: 'oauth' } & z.infer<typeof OAuthRequestSchema>);

export type TokenType = VendRequest['tokenType'];

/** The request schema of each token type. */
export const REQUEST_SCHEMAS = {
  postgres: PostgresRequestSchema,
  'snowflake-jwt': SnowflakeJwtRequestSchema,
  oauth: OAuthRequestSchema,
} as const;

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
  }
}
