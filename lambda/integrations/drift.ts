import { instanceKey } from '../config/instance-key';
import type { Config, OAuthIntegration } from '../config/schema';
import { TokenVendorError } from '../errors';
import { SnowflakeError } from '../snowflake/errors';
import { recordsOf, type SqlApiClient } from '../snowflake/sql-api';
import type { SnowflakeConnection } from '../vending/vendor';

export type IntegrationStatus = 'OK' | 'DRIFTED' | 'DISABLED' | 'NOT_FOUND' | 'ERROR';

/** One property Snowflake holds differently from what the vendor was configured for (never the secret). */
export interface PropertyDrift {
  readonly property: string;
  readonly expected: string;
  readonly actual: string;
}

export interface IntegrationReport {
  /** The vendor's name for it (`oauthIntegrations.<name>`). */
  readonly integration: string;
  /** The Snowflake security integration it mirrors, and the connection that reads it. */
  readonly snowflakeIntegration: string;
  readonly connection: string;
  readonly status: IntegrationStatus;
  readonly detail: string;
  readonly differences: readonly PropertyDrift[];
  readonly errorCode?: string;
}

/** `"NAME"`: an integration name as Snowflake resolves it (upper-cased unless quoted), quoted. */
export function integrationIdentifier(name: string): string {
  return `"${instanceKey(name).replaceAll('"', '""')}"`;
}

/**
 * What `DESCRIBE INTEGRATION` should show for an integration the vendor was configured with: derived from
 * the vendor's own config (grant, token endpoint, client id, validity, allowed scopes, enabled).
 *
 * @example
 * ```ts
 * expectedProperties(config.oauthIntegrations.servicenow); // { ENABLED: 'true', OAUTH_GRANT: 'CLIENT_CREDENTIALS', … }
 * ```
 */
export function expectedProperties(integration: OAuthIntegration): Record<string, string> {
  return {
    ENABLED: String(integration.enabled),
    OAUTH_GRANT: integration.grant,
    OAUTH_TOKEN_ENDPOINT: integration.tokenEndpoint,
    OAUTH_CLIENT_AUTH_METHOD: integration.clientAuthMethod,
    OAUTH_CLIENT_ID: integration.clientId,
    ...(integration.accessTokenValiditySeconds === undefined
      ? {}
      : { OAUTH_ACCESS_TOKEN_VALIDITY: String(integration.accessTokenValiditySeconds) }),
    ...(integration.grant === 'CLIENT_CREDENTIALS'
      ? { OAUTH_ALLOWED_SCOPES: normalizeScopes(integration.allowedScopes.join(',')) }
      : {}),
  };
}

/** A scope list as `DESCRIBE` prints it (`a,b`, `[a, b]`, …) → sorted, de-duplicated, comma-joined. */
function normalizeScopes(value: string): string {
  const scopes = value
    .replace(/^\[|\]$/g, '')
    .split(',')
    .map((s) => s.trim().replace(/^"|"$/g, ''))
    .filter((s) => s !== '');
  return [...new Set(scopes)].sort().join(',');
}

/**
 * `DESCRIBE INTEGRATION <name>` as a property → value map, or undefined when Snowflake says it does not
 * exist (or the role may not see it: 002003).
 */
export async function describeIntegration(
  sql: SqlApiClient,
  name: string,
  options: { deadline?: number } = {},
): Promise<Map<string, string> | undefined> {
  try {
    const result = await sql.execute(`DESCRIBE INTEGRATION ${integrationIdentifier(name)}`, options);
    return new Map(recordsOf(result).map((r) => [String(r.property), r.property_value ?? '']));
  } catch (error) {
    if (error instanceof SnowflakeError && error.snowflakeCode === '002003') return undefined;
    throw error;
  }
}

/** `ALTER SECURITY INTEGRATION <name> SET ENABLED = TRUE|FALSE` (needs OWNERSHIP of the integration). */
export async function setIntegrationEnabled(
  sql: SqlApiClient,
  name: string,
  enabled: boolean,
  options: { deadline?: number } = {},
): Promise<void> {
  await sql.execute(
    `ALTER SECURITY INTEGRATION ${integrationIdentifier(name)} SET ENABLED = ${enabled ? 'TRUE' : 'FALSE'}`,
    options,
  );
}

/**
 * The drift check: each OAuth integration that names the Snowflake security integration it mirrors is
 * described and compared property by property with the vendor's config. One integration's failure
 * (`ERROR`) never hides the others'.
 *
 * @example
 * ```ts
 * const reports = await checkIntegrations(config, runtime.connection, { deadline });
 * ```
 */
export async function checkIntegrations(
  config: Config,
  connection: (name: string) => SnowflakeConnection,
  options: { deadline?: number; only?: string } = {},
): Promise<IntegrationReport[]> {
  const mirrored = Object.entries(config.oauthIntegrations).filter(
    ([name, i]) => i.snowflakeIntegration && (!options.only || options.only === name),
  );
  return Promise.all(
    mirrored.map(async ([name, integration]): Promise<IntegrationReport> => {
      const { connection: via, name: snowflakeName } = integration.snowflakeIntegration!;
      const base = { integration: name, snowflakeIntegration: instanceKey(snowflakeName), connection: via };
      try {
        const actual = await describeIntegration(connection(via).sql, snowflakeName, options);
        if (!actual) {
          return {
            ...base,
            status: 'NOT_FOUND',
            differences: [],
            detail: `Snowflake has no security integration ${base.snowflakeIntegration} that connection "${via}" may see (002003): create it, or grant its role USAGE.`,
          };
        }
        const differences = Object.entries(expectedProperties(integration)).flatMap(
          ([property, expected]) => {
            const raw = actual.get(property) ?? '';
            const value = property === 'OAUTH_ALLOWED_SCOPES' ? normalizeScopes(raw) : raw;
            return value === expected ? [] : [{ property, expected, actual: value }];
          },
        );
        const disabled = integration.enabled && actual.get('ENABLED') === 'false';
        const listed = differences.map(
          (d) => `${d.property} is ${JSON.stringify(d.actual)}, expected ${JSON.stringify(d.expected)}`,
        );
        if (disabled) {
          return {
            ...base,
            status: 'DISABLED',
            differences,
            detail: `${base.snowflakeIntegration} is disabled in Snowflake (${listed.join('; ')}). If that was not an incident response, run: token-vendor integrations enable ${name}`,
          };
        }
        if (differences.length > 0) {
          return {
            ...base,
            status: 'DRIFTED',
            differences,
            detail: `${base.snowflakeIntegration} differs from the vendor's config: ${listed.join('; ')}.`,
          };
        }
        return {
          ...base,
          status: 'OK',
          differences: [],
          detail: `${base.snowflakeIntegration} matches the vendor's config.`,
        };
      } catch (error) {
        const code = error instanceof TokenVendorError ? error.code : 'INTERNAL';
        return {
          ...base,
          status: 'ERROR',
          differences: [],
          errorCode: code,
          detail: `The check failed (${code}): ${error instanceof TokenVendorError ? error.message : 'unexpected error'}`,
        };
      }
    }),
  );
}
