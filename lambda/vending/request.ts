import * as z from 'zod/mini';

// zod's tree-shakable build (as for the config): the full build would add ~450 KB to every function.
const noControl = (value: string) => !/\p{Cc}/u.test(value);

/** A Snowflake Postgres instance name; case-insensitive unless written in double quotes. */
const InstanceName = z
  .string()
  .check(z.minLength(1), z.maxLength(255), z.refine(noControl, 'must not contain control characters'));

/** A Postgres role name: case-sensitive, at most 63 bytes. */
const PostgresUserName = z.string().check(
  z.minLength(1),
  z.refine((v) => Buffer.byteLength(v, 'utf8') <= 63, 'must be at most 63 bytes (a PostgreSQL role name)'),
  z.refine(noControl, 'must not contain control characters'),
);

const Name = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));

/** `POST /v1/tokens/postgres` body (and the direct event without `tokenType`). */
export const PostgresRequestSchema = z.strictObject({
  instance: InstanceName,
  username: PostgresUserName,
  /** Needed only when two Snowflake connections have an instance of this name. */
  connection: z.optional(Name(64)),
});

/** `POST /v1/tokens/snowflake-jwt` body. */
export const SnowflakeJwtRequestSchema = z.strictObject({
  connection: Name(64),
});

/** `POST /v1/tokens/oauth` body. */
export const OAuthRequestSchema = z.strictObject({
  integration: Name(64),
  /** A subset of the granted scopes; default: all granted scopes. */
  scopes: z.optional(z.array(Name(256)).check(z.maxLength(50))),
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
