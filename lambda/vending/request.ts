import * as z from 'zod/mini';

import { ConfigName, InstanceName, OAuthScope, PostgresUserName } from '../config/names';

// zod's tree-shakable build (as for the config): the full build would add ~450 KB to every function.
// The name rules are the config's own, so a request can only name what a config could define: ASCII
// identifiers where Snowflake would fold case, no control or format characters anywhere.

/** `POST /v1/tokens/postgres` body (and the direct event without `tokenType`). */
export const PostgresRequestSchema = z.strictObject({
  instance: InstanceName,
  username: PostgresUserName,
  /** Needed only when two Snowflake connections have an instance of this name. */
  connection: z.optional(ConfigName),
});

/** `POST /v1/tokens/snowflake-jwt` body. */
export const SnowflakeJwtRequestSchema = z.strictObject({
  connection: ConfigName,
});

/** `POST /v1/tokens/oauth` body. */
export const OAuthRequestSchema = z.strictObject({
  integration: ConfigName,
  /**
   * A non-empty subset of the granted scopes; omit it to get exactly the granted scopes. An empty list
   * is refused: it would let the token endpoint pick its default scopes.
   */
  scopes: z.optional(
    z
      .array(OAuthScope)
      .check(
        z.minLength(1, 'must list at least one scope (omit "scopes" to get the granted ones)'),
        z.maxLength(50),
      ),
  ),
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
