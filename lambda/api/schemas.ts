import * as z from 'zod/mini';
import { ConfigName, InstanceName, OAuthScope, PostgresUserName, SnowflakeName } from './names';

// zod's tree-shakable build, as for the config: the full build would add ~450 KB to every function.
// Requests only: what the vendor validates. What it answers is in responses.ts, which the functions do
// not load (they build their answers; the client and openapi.json check and describe them).
//
// Each schema is built on first use (`ROUTES[type].request`): a function builds the schemas of the
// token types it is asked for, not all of them at import (bench/cold-start.bench.ts).

/** `POST /v1/tokens/postgres` body (and the direct event without `tokenType`). */
const postgres = () =>
  z.strictObject({
    instance: InstanceName,
    username: PostgresUserName,
    /** Needed only when two Snowflake connections have an instance of this name. */
    connection: z.optional(ConfigName),
  });

/** `POST /v1/tokens/snowflake-jwt` body. */
const snowflakeJwt = () =>
  z.strictObject({
    connection: ConfigName,
  });

/** `POST /v1/tokens/oauth` body. */
const oauth = () =>
  z.strictObject({
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

/** A PAT lease: at least five minutes, at most a day (Snowflake keeps the token a day; the vendor removes it at the lease's end). */
export const PAT_LEASE_SECONDS = { min: 300, max: 86_400 } as const;

/** `POST /v1/tokens/pat` body. */
const pat = () =>
  z.strictObject({
    /** A PAT target of the config (a Snowflake user the vendor makes tokens for). */
    target: ConfigName,
    /** The role the token is restricted to (`ROLE_RESTRICTION`): one the grant names, as Snowflake prints it. */
    role: SnowflakeName,
    /** The lease: the vendor removes the token this long after it made it. Default: the target's `leaseSeconds`. */
    lifetimeSeconds: z.optional(z.int().check(z.gte(PAT_LEASE_SECONDS.min), z.lte(PAT_LEASE_SECONDS.max))),
  });

/** `build()` on the first call, the same schema on every later one. */
function once<T>(build: () => T): () => T {
  let schema: T | undefined;
  return () => {
    schema ??= build();
    return schema;
  };
}

/** The request schema of each token type, built on first use. */
export const requestSchemas = {
  postgres: once(postgres),
  'snowflake-jwt': once(snowflakeJwt),
  oauth: once(oauth),
  pat: once(pat),
} as const;

export type PostgresRequestSchema = ReturnType<typeof postgres>;
export type SnowflakeJwtRequestSchema = ReturnType<typeof snowflakeJwt>;
export type OAuthRequestSchema = ReturnType<typeof oauth>;
export type PatRequestSchema = ReturnType<typeof pat>;

export type PostgresRequest = z.output<PostgresRequestSchema>;
export type SnowflakeJwtRequest = z.output<SnowflakeJwtRequestSchema>;
export type OAuthRequest = z.output<OAuthRequestSchema>;
export type PatRequest = z.output<PatRequestSchema>;
