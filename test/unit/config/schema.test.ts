import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatPath, parseConfig, parseConfigText } from '../../../lambda/config/load';
import { instanceKey } from '../../../lambda/config/schema';

const example = () => JSON.parse(readFileSync('config/example.json', 'utf8'));

/** Apply `edit` to a fresh copy of the example and return the ConfigError message. */
function errorFor(edit: (c: any) => void): string {
  const config = example();
  edit(config);
  try {
    parseConfig(config);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('CONFIG_INVALID');
    return (error as Error).message;
  }
  throw new Error('config unexpectedly valid');
}

describe('config schema', () => {
  it('accepts the shipped example and fills defaults', () => {
    const config = parseConfig(example());
    expect(config.connections.analytics!.statementTimeoutSeconds).toBe(30);
    expect(config.postgresInstances[0]!.sslmode).toBe('require');
    expect(config.connections.analytics!.key).toEqual({
      secretsManager: { secretId: 'token-vendor/snowflake/analytics', cacheTtlSeconds: 300 },
    });
  });

  it.each<[string, (c: any) => void, string]>([
    [
      'bad account',
      (c) => (c.connections.analytics.account = 'xy12345.aws'),
      'connections.analytics.account: Cannot interpret Snowflake account',
    ],
    [
      'two key sources',
      (c) => (c.connections.analytics.key.kms = { keyId: 'k' }),
      'connections.analytics.key: give exactly one key source',
    ],
    [
      'JWT lifetime over an hour',
      (c) => (c.connections.analytics.jwtLifetimeSeconds = 3601),
      'connections.analytics.jwtLifetimeSeconds',
    ],
    [
      'unknown field',
      (c) => (c.connections.analytics.passwd = 'x'),
      'connections.analytics: Unrecognized key: "passwd"',
    ],
    [
      'wildcard principal',
      (c) => (c.grants[0].principal = 'arn:aws:iam::111122223333:role/*'),
      'grants[0].principal: must not contain wildcards',
    ],
    [
      'session ARN as principal',
      (c) => (c.grants[0].principal = 'arn:aws:sts::111122223333:assumed-role/r/s'),
      'grants[0].principal: is an STS session ARN',
    ],
    [
      'user not allowed on instance',
      (c) => (c.grants[0].postgres[0].usernames = ['Reporting_User']),
      'grants[0].postgres[0].usernames[0]: "Reporting_User" is not in that instance\'s allowedUsers',
    ],
    [
      'unknown instance',
      (c) => (c.grants[1].postgres[0].instance = 'nope'),
      'grants[1].postgres[0].instance: "nope" is not in postgresInstances',
    ],
    [
      'unknown connection on instance',
      (c) => (c.postgresInstances[0].connection = 'other'),
      'postgresInstances[0].connection: names connection "other"',
    ],
    [
      'unknown JWT connection',
      (c) => (c.grants[1].snowflakeJwt = ['other']),
      'grants[1].snowflakeJwt[0]: names connection "other"',
    ],
    [
      'scope not allowed',
      (c) => (c.grants[1].oauth[0].scopes = ['admin']),
      'grants[1].oauth[0].scopes[0]: "admin" is not in the integration\'s allowedScopes',
    ],
    [
      'direct invoke unknown user',
      (c) => (c.directInvoke.postgres[0].usernames = ['root']),
      'directInvoke.postgres[0].usernames[0]',
    ],
    [
      'control char in user',
      (c) => (c.postgresInstances[0].allowedUsers = ['a\nb']),
      'postgresInstances[0].allowedUsers[0]: must not contain control or format characters',
    ],
    [
      'http API URL',
      (c) => (c.connections.analytics.apiBaseUrl = 'http://example.com'),
      'connections.analytics.apiBaseUrl: must be an https:// URL',
    ],
    [
      'overdue before due',
      (c) => (c.connections.analytics.rotation = { rotateAfterDays: 90, overdueAfterDays: 30 }),
      'connections.analytics.rotation.overdueAfterDays',
    ],
    [
      'min remaining over Postgres lifetime',
      (c) => (c.tokens.postgres.minRemainingSeconds = 900),
      'tokens.postgres.minRemainingSeconds: must be less than 900',
    ],
    [
      'client credentials without secret',
      (c) => delete c.oauthIntegrations.servicenow.clientSecret,
      'oauthIntegrations.servicenow.clientSecret: CLIENT_CREDENTIALS needs a clientSecret',
    ],
    ['no connections', (c) => (c.connections = {}), 'connections: define at least one connection'],
  ])('%s → names the field', (_name, edit, expected) => {
    expect(errorFor(edit)).toContain(expected);
  });

  it('accepts loopback http for the emulator', () => {
    const config = example();
    config.connections.analytics.apiBaseUrl = 'http://127.0.0.1:4566';
    expect(parseConfig(config).connections.analytics!.apiBaseUrl).toBe('http://127.0.0.1:4566');
  });

  it('matches grant instances case-insensitively unless quoted, like Snowflake', () => {
    const config = example();
    config.grants[0].postgres[0].instance = 'REPORTING_SERVER';
    expect(() => parseConfig(config)).not.toThrow();
    config.grants[0].postgres[0].instance = '"REPORTING_SERVER"';
    expect(() => parseConfig(config)).not.toThrow(); // quoted exact == uppercased unquoted
    config.grants[0].postgres[0].instance = '"reporting_server"';
    expect(() => parseConfig(config)).toThrow(/is not in postgresInstances/);
    expect(instanceKey('"Reporting_server"')).toBe('Reporting_server');
  });

  it('reports invalid JSON as a ConfigError naming the origin', () => {
    expect(() => parseConfigText('{"connections": ', 'cfg.json')).toThrow(
      /Invalid token vendor cfg.json: not valid JSON/,
    );
  });

  it('formats paths', () => {
    expect(formatPath(['grants', 0, 'postgres', 1, 'usernames'])).toBe('grants[0].postgres[1].usernames');
    expect(formatPath([])).toBe('(root)');
  });
});
