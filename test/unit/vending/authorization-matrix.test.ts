import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lambda/config/load';
import { NotAuthorizedError } from '../../../lambda/vending/errors';
import { authorize } from '../../../lambda/vending/policy';
import type { Caller, VendRequest } from '../../../lambda/vending/request';

const A = '111122223333';
const OTHER = '999999999999';
const config = parseConfig({
  connections: {
    demo: { account: 'myorg-acct', user: 'svc', key: { file: { path: 'k.p8' } } },
    other: { account: 'myorg-acct', user: 'svc2', key: { file: { path: 'k.p8' } } },
  },
  postgresInstances: [
    {
      connection: 'demo',
      instance: 'reporting_server',
      host: 'h',
      allowedUsers: ['reporting_user', 'etl_user', 'Reporting_User'],
    },
  ],
  oauthIntegrations: {
    servicenow: {
      grant: 'CLIENT_CREDENTIALS',
      tokenEndpoint: 'https://sn.example/oauth',
      clientId: 'c',
      clientSecret: { env: 'S' },
      allowedScopes: ['useraccount', 'admin'],
    },
  },
  grants: [
    {
      principal: `arn:aws:iam::${A}:role/services/reporting-api`,
      postgres: [{ instance: 'reporting_server', usernames: ['reporting_user'] }],
      snowflakeJwt: ['demo'],
    },
    {
      principal: `arn:aws:iam::${A}:role/etl`,
      postgres: [{ instance: 'REPORTING_SERVER', usernames: ['etl_user'] }],
    },
    { principal: `arn:aws:iam::${A}:user/alice`, snowflakeJwt: ['other'] },
    {
      principal: `arn:aws:iam::${A}:user/ops/bob`,
      oauth: [{ integration: 'servicenow', scopes: ['useraccount'] }],
    },
  ],
  directInvoke: { postgres: [{ instance: 'reporting_server', usernames: ['Reporting_User'] }] },
});

type GrantKey = 'reporting' | 'etl' | 'alice' | 'bob' | 'direct' | 'none';

/** Every principal form, with the grant it must match (worked out by hand, not by the code under test). */
const callers: [string, Caller, GrantKey][] = [
  ['session of a role with a path', http(`arn:aws:sts::${A}:assumed-role/reporting-api/i-0abc`), 'reporting'],
  [
    'session with an email session name',
    http(`arn:aws:sts::${A}:assumed-role/reporting-api/jane.doe@example.com`),
    'reporting',
  ],
  ['the role ARN itself, with its path', http(`arn:aws:iam::${A}:role/services/reporting-api`), 'reporting'],
  ['the role ARN without its path', http(`arn:aws:iam::${A}:role/reporting-api`), 'none'],
  ['the role ARN under another path', http(`arn:aws:iam::${A}:role/other/reporting-api`), 'none'],
  ['session of a role without a path', http(`arn:aws:sts::${A}:assumed-role/etl/run-42`), 'etl'],
  ['same role name, other account', http(`arn:aws:sts::${OTHER}:assumed-role/reporting-api/s`), 'none'],
  ['look-alike: suffix', http(`arn:aws:sts::${A}:assumed-role/reporting-api2/s`), 'none'],
  ['look-alike: prefix', http(`arn:aws:sts::${A}:assumed-role/reporting-ap/s`), 'none'],
  ['look-alike: case', http(`arn:aws:sts::${A}:assumed-role/Reporting-Api/s`), 'none'],
  ['look-alike: underscore', http(`arn:aws:sts::${A}:assumed-role/reporting_api/s`), 'none'],
  ['look-alike: trailing space', http(`arn:aws:sts::${A}:assumed-role/reporting-api /s`), 'none'],
  ['session without a session name', http(`arn:aws:sts::${A}:assumed-role/reporting-api`), 'none'],
  [
    'role name smuggled into the session',
    http(`arn:aws:sts::${A}:assumed-role/intruder/reporting-api`),
    'none',
  ],
  ['other partition', http(`arn:aws-cn:sts::${A}:assumed-role/reporting-api/s`), 'none'],
  ['IAM user', http(`arn:aws:iam::${A}:user/alice`), 'alice'],
  ['IAM user, other case', http(`arn:aws:iam::${A}:user/Alice`), 'none'],
  ['IAM user, other account', http(`arn:aws:iam::${OTHER}:user/alice`), 'none'],
  ['IAM user under a path', http(`arn:aws:iam::${A}:user/ops/bob`), 'bob'],
  ['IAM user without its path', http(`arn:aws:iam::${A}:user/bob`), 'none'],
  ['a role named like a granted user', http(`arn:aws:sts::${A}:assumed-role/alice/s`), 'none'],
  ['federated user', http(`arn:aws:sts::${A}:federated-user/alice`), 'none'],
  ['account root', http(`arn:aws:iam::${A}:root`), 'none'],
  ['empty ARN', http(''), 'none'],
  ['garbage', http('reporting-api'), 'none'],
  ['wildcard-looking ARN', http(`arn:aws:sts::${A}:assumed-role/*/s`), 'none'],
  ['direct invoke', { kind: 'direct' }, 'direct'],
];

/** Every target form, with the grants that must allow it. */
const targets: [string, VendRequest, GrantKey[]][] = [
  ['pg reporting_user', pg('reporting_server', 'reporting_user'), ['reporting']],
  ['pg reporting_user, instance uppercased', pg('REPORTING_SERVER', 'reporting_user'), ['reporting']],
  ['pg reporting_user, instance mixed case', pg('Reporting_Server', 'reporting_user'), ['reporting']],
  [
    'pg reporting_user, instance quoted lowercase (case-sensitive: another instance)',
    pg('"reporting_server"', 'reporting_user'),
    [],
  ],
  ['pg reporting_user, instance quoted uppercase', pg('"REPORTING_SERVER"', 'reporting_user'), ['reporting']],
  ['pg Reporting_User (case differs)', pg('reporting_server', 'Reporting_User'), ['direct']],
  ['pg REPORTING_USER', pg('reporting_server', 'REPORTING_USER'), []],
  ['pg "reporting_user " (trailing space)', pg('reporting_server', 'reporting_user '), []],
  ['pg etl_user', pg('reporting_server', 'etl_user'), ['etl']],
  ['pg etl_user with the right connection', pg('reporting_server', 'etl_user', 'demo'), ['etl']],
  ['pg etl_user with a wrong connection', pg('reporting_server', 'etl_user', 'other'), []],
  ['pg on an unknown instance', pg('secret_server', 'reporting_user'), []],
  ['jwt demo', { tokenType: 'snowflake-jwt', connection: 'demo' }, ['reporting']],
  ['jwt other', { tokenType: 'snowflake-jwt', connection: 'other' }, ['alice']],
  ['jwt DEMO (case)', { tokenType: 'snowflake-jwt', connection: 'DEMO' }, []],
  ['jwt __proto__', { tokenType: 'snowflake-jwt', connection: '__proto__' }, []],
  ['oauth default scopes', { tokenType: 'oauth', integration: 'servicenow' }, ['bob']],
  [
    'oauth granted scope',
    { tokenType: 'oauth', integration: 'servicenow', scopes: ['useraccount'] },
    ['bob'],
  ],
  // Never vacuously true: an empty list is denied here (and refused with 400 by the request schema first).
  ['oauth no scopes', { tokenType: 'oauth', integration: 'servicenow', scopes: [] }, []],
  [
    'oauth duplicate granted scope',
    { tokenType: 'oauth', integration: 'servicenow', scopes: ['useraccount', 'useraccount'] },
    ['bob'],
  ],
  ['oauth scope beyond the grant', { tokenType: 'oauth', integration: 'servicenow', scopes: ['admin'] }, []],
  [
    'oauth mixed scopes',
    { tokenType: 'oauth', integration: 'servicenow', scopes: ['useraccount', 'admin'] },
    [],
  ],
  ['oauth unknown integration', { tokenType: 'oauth', integration: 'jira' }, []],
  ['oauth constructor', { tokenType: 'oauth', integration: 'constructor' }, []],
];

function http(principalArn: string): Caller {
  return { kind: 'http', principalArn };
}
function pg(instance: string, username: string, connection?: string): VendRequest {
  return { tokenType: 'postgres', instance, username, ...(connection ? { connection } : {}) };
}

describe('authorization matrix: every principal form × every target', () => {
  const cells = callers.flatMap(([callerName, caller, grant]) =>
    targets.map(([targetName, request, allowedFor]) => ({
      callerName,
      caller,
      targetName,
      request,
      expected: allowedFor.includes(grant),
    })),
  );

  it(`decides all ${callers.length * targets.length} cells as worked out by hand: no false allow, no false deny`, () => {
    const falseAllows: string[] = [];
    const falseDenies: string[] = [];
    for (const cell of cells) {
      let allowed: boolean;
      try {
        authorize(config, cell.caller, cell.request);
        allowed = true;
      } catch (error) {
        expect(error).toBeInstanceOf(NotAuthorizedError);
        allowed = false;
      }
      if (allowed && !cell.expected) falseAllows.push(`${cell.callerName} → ${cell.targetName}`);
      if (!allowed && cell.expected) falseDenies.push(`${cell.callerName} → ${cell.targetName}`);
    }
    expect(falseAllows).toEqual([]);
    expect(falseDenies).toEqual([]);
    expect(cells.filter((c) => c.expected).length).toBeGreaterThan(10);
  });

  it('gives every denial the same message, whether or not the target exists', () => {
    const messages = new Set<string>();
    for (const cell of cells.filter((c) => !c.expected)) {
      try {
        authorize(config, cell.caller, cell.request);
      } catch (error) {
        messages.add((error as Error).message);
      }
    }
    expect(messages.size).toBe(1);
  });
});
