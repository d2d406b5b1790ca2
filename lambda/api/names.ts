import * as z from 'zod/mini';

/**
 * The name rules of the API contract, shared with the config schema, so a request can only name what a
 * config could define. Each rule is a regular expression where one can express it (so the JSON Schema,
 * the OpenAPI document and API Gateway's request models carry it too), plus refinements for what a
 * JSON Schema pattern cannot say portably (Unicode control and format characters, UTF-8 byte length). Control (`\p{Cc}`) and format (`\p{Cf}`: zero-width, bidi overrides) characters
 * are refused everywhere: they corrupt SQL literals, log lines and HTTP headers, and hide look-alikes.
 */
export const noControl = (value: string) => !/[\p{Cc}\p{Cf}]/u.test(value);

/** Names the config itself defines (connections, integrations): safe in URLs, logs and metric dimensions. */
export const CONFIG_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const ConfigName = z
  .string()
  .check(
    z.regex(CONFIG_NAME_PATTERN, 'must be 1–64 letters, digits, _, . or -, starting with a letter or digit'),
  );

/**
 * A Snowflake Postgres instance name as `GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER` takes it: an unquoted
 * identifier (ASCII letters, digits, `_`, `$`; Snowflake folds it to upper case) or a double-quoted one
 * (exact, `""` for a quote). Only ASCII is folded, and only after this check: `reporting_ſerver`
 * (U+017F, which `toUpperCase()` turns into `S`) is refused instead of matching `reporting_server`.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse control characters, in a pattern JSON Schema can carry
const IDENTIFIER = /^(?:[A-Za-z_][A-Za-z0-9_$]{0,254}|"(?:[^"\x00-\x1F\x7F]|""){1,255}")$/;
const INSTANCE_MESSAGE =
  'must be a Snowflake identifier: ASCII letters, digits, _ and $ (starting with a letter or _), or a "double-quoted" name';
export const InstanceName = z
  .string()
  .check(z.regex(IDENTIFIER, INSTANCE_MESSAGE), z.refine(noControl, INSTANCE_MESSAGE));

/** A Postgres role name: case-sensitive (compared exactly, never folded), at most 63 bytes. */
export const PostgresUserName = z.string().check(
  z.minLength(1),
  z.maxLength(63),
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse control characters, in a pattern JSON Schema can carry
  z.regex(/^[^\x00-\x1F\x7F]+$/, 'must not contain control or format characters'),
  z.refine((v) => Buffer.byteLength(v, 'utf8') <= 63, 'must be at most 63 bytes (a PostgreSQL role name)'),
  z.refine(noControl, 'must not contain control or format characters'),
);

/** A Snowflake object name as SHOW prints it (case-sensitive in the SQL API body). */
export const SnowflakeName = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(255),
    z.refine(noControl, 'must not contain control or format characters'),
  );

/** An OAuth scope token (RFC 6749 §3.3): printable ASCII except space, `"` and `\`. */
export const OAUTH_SCOPE_PATTERN = /^[\x21\x23-\x5B\x5D-\x7E]{1,256}$/;
export const OAuthScope = z.string().check(z.regex(OAUTH_SCOPE_PATTERN, 'is not a valid OAuth scope'));
