import { AccountIdentifierError } from './errors';

/** How the configured identifier was written; returned so callers can show what was understood. */
export type AccountForm =
  | 'locator' // xy12345
  | 'locator-region' // xy12345.us-east-2.aws, xy12345.us-east-1.privatelink, xy12345.privatelink
  | 'org-account' // myorg-myaccount, myorg-myaccount.privatelink
  | 'org.account' // myorg.myaccount (the spelling SQL shows)
  | 'global'; // xy12345-abcdefgh.global

export interface ParsedAccount {
  /** The account part of the JWT `iss`/`sub` claims: uppercase, no region, no periods. */
  readonly accountPart: string;
  readonly form: AccountForm;
  /** The identifier as it appears in the SQL API host name, lowercase (`myorg-myaccount`, `xy12345.us-east-2.aws`). */
  readonly hostPrefix: string;
  /** True when the input was a host name or URL rather than a bare identifier. */
  readonly fromHost: boolean;
}

const ACCEPTED_FORMS =
  'Accepted forms: an account locator (xy12345); a locator with region, cloud or privatelink ' +
  '(xy12345.us-east-2.aws, xy12345.us-east-1.privatelink); an org-account name (myorg-myaccount, ' +
  'myorg-myaccount.privatelink); the SQL spelling org.account (myorg.myaccount); a global URL ' +
  '(xy12345-abcdefgh.global); or a host name or URL ending in .snowflakecomputing.com.';

const HOST_SUFFIX = /\.snowflakecomputing\.(com|cn)\.?$/i;
const LABEL = /^[a-z0-9_-]+$/i;
/** Every Snowflake region id (AWS us-east-2, Azure east-us-2, GCP us-central1) contains a hyphen. */
const REGION = /^[a-z0-9]+(-[a-z0-9]+)+$/i;
const CLOUDS = new Set(['aws', 'azure', 'gcp']);
const RESERVED = new Set([...CLOUDS, 'privatelink', 'global']);
/** Account locators and names: letters, digits, underscores; no hyphen, no period. */
const NAME = /^[a-z0-9_]+$/i;

/**
 * Parse a Snowflake account identifier (or host name, or URL) into the account part of a key-pair
 * JWT's `iss`/`sub` claims, and the host prefix of the SQL API URL.
 *
 * The rules are the ones the official connectors converge on, made explicit: each accepted form is
 * recognised by its shape and nothing is guessed. The `org.account` spelling and a locator with a
 * region cannot be confused, because every region id has a hyphen and no account name does.
 * Underscores are never rewritten. Anything else is an {@link AccountIdentifierError} that lists the
 * accepted forms.
 *
 * @example
 * ```ts
 * parseAccountIdentifier('xy12345.us-east-2.aws').accountPart; // 'XY12345'
 * parseAccountIdentifier('myorg.myaccount').accountPart;       // 'MYORG-MYACCOUNT'
 * ```
 */
export function parseAccountIdentifier(input: string): ParsedAccount {
  const raw = typeof input === 'string' ? input.trim() : '';
  if (raw === '')
    throw new AccountIdentifierError(`The Snowflake account identifier is empty. ${ACCEPTED_FORMS}`);

  let identifier = raw;
  let fromHost = false;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw invalid(raw, 'it looks like a URL but cannot be parsed');
    }
    if (!HOST_SUFFIX.test(url.hostname))
      throw invalid(raw, 'the URL host does not end in .snowflakecomputing.com');
    identifier = url.hostname;
  }
  if (HOST_SUFFIX.test(identifier)) {
    identifier = identifier.replace(HOST_SUFFIX, '');
    fromHost = true;
  }

  const labels = identifier.split('.');
  for (const label of labels) {
    if (!LABEL.test(label))
      throw invalid(raw, 'it contains an empty part or a character other than letters, digits, _ and -');
  }
  const [first, ...rest] = labels as [string, ...string[]];
  const hostPrefix = identifier.toLowerCase();
  const result = (accountPart: string, form: AccountForm, prefix = hostPrefix): ParsedAccount => ({
    accountPart: accountPart.toUpperCase(),
    form,
    hostPrefix: prefix,
    fromHost,
  });

  if (rest.length === 1 && rest[0]!.toLowerCase() === 'global') {
    const cut = first.lastIndexOf('-');
    if (cut <= 0) throw invalid(raw, 'a global URL is <account>-<hash>.global');
    return result(first.slice(0, cut), 'global');
  }

  if (first.includes('-')) {
    if (first.startsWith('-') || first.endsWith('-'))
      throw invalid(raw, 'an org-account name cannot start or end with -');
    if (rest.length === 0) return result(first, 'org-account');
    if (rest.length === 1 && rest[0]!.toLowerCase() === 'privatelink') return result(first, 'org-account');
    throw invalid(raw, 'an org-account name may only be followed by .privatelink');
  }

  if (!NAME.test(first)) throw invalid(raw, 'the first part is not an account locator or name');
  if (rest.length === 0) return result(first, 'locator');

  if (isRegionSuffix(rest)) return result(first, 'locator-region');

  if (rest.length === 1 && NAME.test(rest[0]!) && !RESERVED.has(rest[0]!.toLowerCase())) {
    // The SQL API page: periods make the JWT invalid and become hyphens; the host uses the hyphen too.
    const dashed = `${first}-${rest[0]}`;
    return result(dashed, 'org.account', dashed.toLowerCase());
  }
  throw invalid(raw, `"${rest.join('.')}" is neither a region/cloud/privatelink suffix nor an account name`);
}

/**
 * The account part of a key-pair JWT's `iss` and `sub` claims for an account identifier.
 *
 * @example
 * ```ts
 * accountForJwt('xy12345.us-east-1.privatelink'); // 'XY12345'
 * ```
 */
export function accountForJwt(input: string): string {
  return parseAccountIdentifier(input).accountPart;
}

/** `region[.cloud][.privatelink]`, or `privatelink` alone (a us-west-2 locator). */
function isRegionSuffix(rest: readonly string[]): boolean {
  const parts = rest.map((p) => p.toLowerCase());
  if (parts[parts.length - 1] === 'privatelink') parts.pop();
  if (parts.length === 0) return true;
  const [region, cloud, ...extra] = parts;
  if (extra.length > 0 || region === undefined || !REGION.test(region)) return false;
  return cloud === undefined || CLOUDS.has(cloud);
}

function invalid(raw: string, why: string): AccountIdentifierError {
  // The identifier is not secret, but bound its length so a pasted blob does not flood a log line.
  const shown = raw.length > 80 ? `${raw.slice(0, 80)}…` : raw;
  return new AccountIdentifierError(
    `Cannot interpret Snowflake account "${shown}": ${why}. ${ACCEPTED_FORMS}`,
  );
}

/**
 * The default SQL API base URL for an account identifier: `https://<identifier as in the URL>.snowflakecomputing.com`.
 * Privatelink identifiers keep their `.privatelink` part; configure `apiBaseUrl` for anything else.
 *
 * @example
 * ```ts
 * defaultSqlApiBaseUrl('myorg.myaccount'); // 'https://myorg-myaccount.snowflakecomputing.com'
 * ```
 */
export function defaultSqlApiBaseUrl(input: string): string {
  return `https://${parseAccountIdentifier(input).hostPrefix}.snowflakecomputing.com`;
}
