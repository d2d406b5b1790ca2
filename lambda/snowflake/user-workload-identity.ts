import { SnowflakeError, SnowflakeErrorCode } from './errors';
import { recordsOf, type SqlApiClient } from './sql-api';
import { userIdentifier } from './user-keys';

/** An AWS workload identity registered for a Snowflake user, as `SHOW USER WORKLOAD IDENTITY …` lists it. */
export interface RegisteredAwsIdentity {
  /** `DEFAULT` for the `WORKLOAD_IDENTITY` user property, or the name given to `ADD WORKLOAD IDENTITY`. */
  readonly name: string;
  readonly partition: string;
  readonly account: string;
  /** `IAM_ROLE` or `IAM_USER`. */
  readonly principalType: string;
  /** The role (or user) name. */
  readonly principalName: string;
}

/**
 * The user's AWS workload identities, from `SHOW USER WORKLOAD IDENTITY AUTHENTICATION METHODS FOR USER`:
 * rows `(name, type, comment, last_used, created_on, additional_info)`, where `additional_info` of an
 * AWS row is an OBJECT `{awsPartition, awsAccount, type, iamRole}`.
 *
 * @example
 * ```ts
 * const identities = await showUserAwsIdentities(sql, 'TOKEN_VENDOR_KEYLESS');
 * ```
 */
export async function showUserAwsIdentities(
  sql: SqlApiClient,
  user: string,
  options: { deadline?: number } = {},
): Promise<RegisteredAwsIdentity[]> {
  const result = await sql.execute(
    `SHOW USER WORKLOAD IDENTITY AUTHENTICATION METHODS FOR USER ${userIdentifier(user)}`,
    { deadline: options.deadline },
  );
  return recordsOf(result).flatMap((row) => {
    if (row.type !== 'AWS') return [];
    let info: Record<string, unknown>;
    try {
      info = JSON.parse(row.additional_info ?? '') as Record<string, unknown>;
    } catch {
      throw new SnowflakeError(
        SnowflakeErrorCode.Protocol,
        'additional_info of an AWS workload identity is not JSON.',
        {
          statementHandle: result.statementHandle,
        },
      );
    }
    const text = (key: string) => (typeof info[key] === 'string' ? (info[key] as string) : '');
    return [
      {
        name: row.name ?? '',
        partition: text('awsPartition'),
        account: text('awsAccount'),
        principalType: text('type'),
        principalName: text('iamRole'),
      },
    ];
  });
}

/** `arn:<partition>:iam::<account>:role/<name>` (or `user/`), as the identity names its principal. */
export function arnOfIdentity(identity: RegisteredAwsIdentity): string {
  const kind = identity.principalType === 'IAM_USER' ? 'user' : 'role';
  return `arn:${identity.partition}:iam::${identity.account}:${kind}/${identity.principalName}`;
}

/**
 * Whether a registered identity is the role ARN: same partition, account and role name (a role's path
 * is not part of what Snowflake matches).
 */
export function identityMatches(identity: RegisteredAwsIdentity, roleArn: string): boolean {
  const match = /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  return (
    !!match &&
    identity.principalType === 'IAM_ROLE' &&
    identity.partition === match[1] &&
    identity.account === match[2] &&
    identity.principalName === match[3]
  );
}
