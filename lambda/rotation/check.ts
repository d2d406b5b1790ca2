import type { Config } from '../config/schema';
import { TokenVendorError } from '../errors';
import { KmsSigner } from '../keys/kms-signer';
import { SnowflakeError } from '../snowflake/errors';
import { describeUserKeys, slotOf } from '../snowflake/user-keys';
import { arnOfIdentity, identityMatches, showUserAwsIdentities } from '../snowflake/user-workload-identity';
import { WorkloadIdentityAuthenticator } from '../snowflake/workload-identity';
import type { SnowflakeConnection } from '../vending/vendor';

export type KeyStatus = 'OK' | 'ROTATION_DUE' | 'OVERDUE' | 'NOT_REGISTERED' | 'WIF_MISMATCH' | 'ERROR';

/** The rotation check's finding for one connection. */
export interface ConnectionKeyReport {
  readonly connection: string;
  readonly status: KeyStatus;
  /** What the status means and what to do about it. */
  readonly detail: string;
  readonly account: string;
  readonly user: string;
  /** How the connection signs in: a key pair, or keyless as the function's IAM role. */
  readonly authentication: 'keypair' | 'wif';
  /** Keyless: the role ARN in the vendor's STS token, and the AWS identities Snowflake has for the user. */
  readonly roleArn?: string;
  readonly registeredArns?: readonly string[];
  /** Keyless: the vendor's sign-in roles Snowflake does not trust. */
  readonly missingArns?: readonly string[];
  readonly fingerprint?: string;
  /** The slot holding the key: 1 (`RSA_PUBLIC_KEY`) or 2 (`RSA_PUBLIC_KEY_2`). */
  readonly slot?: 1 | 2;
  readonly keyVersion?: string;
  readonly keyCreatedAt?: string;
  readonly ageDays?: number;
  readonly rotateAfterDays: number;
  readonly overdueAfterDays: number;
  readonly errorCode?: string;
}

export interface RotationReport {
  readonly checkedAt: string;
  readonly connections: readonly ConnectionKeyReport[];
}

const DAY_MS = 86_400_000;

/**
 * Check every connection's key: its fingerprint (Secrets Manager, KMS or file), the slot `DESC USER`
 * shows it in, its age, and whether rotation is due. Connections are checked in parallel and one
 * connection's failure (`ERROR`) never hides the others' results.
 *
 * @example
 * ```ts
 * const report = await checkKeys(config, runtime.connection, { now: Date.now });
 * ```
 */
export async function checkKeys(
  config: Config,
  connection: (name: string) => SnowflakeConnection,
  options: {
    now?: () => number;
    deadline?: number;
    /**
     * Keyless connections: every role that signs in (the deployed stack's http, direct and rotation-check
     * roles), not only the one running the check. Each must be registered for the user.
     */
    signInRoleArns?: readonly string[];
  } = {},
): Promise<RotationReport> {
  const now = options.now ?? Date.now;
  const checkedAt = now();
  const names = Object.keys(config.connections);
  const settled = await Promise.allSettled(
    names.map((name) =>
      checkOne(name, config, connection, checkedAt, options.deadline, options.signInRoleArns ?? []),
    ),
  );
  return {
    checkedAt: new Date(checkedAt).toISOString(),
    connections: settled.map((result, i) => {
      if (result.status === 'fulfilled') return result.value;
      const name = names[i]!;
      const settings = config.connections[name]!;
      const error = result.reason;
      const code = error instanceof TokenVendorError ? error.code : 'INTERNAL';
      return {
        connection: name,
        status: 'ERROR',
        detail: `The check failed (${code}): ${error instanceof TokenVendorError ? error.message : 'unexpected error'} Fix the cause and run the check again.`,
        account: settings.account,
        user: settings.user,
        authentication: settings.workloadIdentity ? 'wif' : 'keypair',
        rotateAfterDays: settings.rotation.rotateAfterDays,
        overdueAfterDays: settings.rotation.overdueAfterDays,
        errorCode: code,
      };
    }),
  };
}

async function checkOne(
  name: string,
  config: Config,
  connection: (name: string) => SnowflakeConnection,
  nowMs: number,
  deadline: number | undefined,
  signInRoleArns: readonly string[],
): Promise<ConnectionKeyReport> {
  const settings = config.connections[name]!;
  const { signer, sql } = connection(name);
  const { rotateAfterDays, overdueAfterDays } = settings.rotation;
  if (!signer) return checkWorkloadIdentity(name, config, connection, deadline, signInRoleArns);
  const key = await signer.currentKey();
  const identity = {
    connection: name,
    account: settings.account,
    user: settings.user,
    authentication: 'keypair' as const,
    fingerprint: key.fingerprint,
    keyVersion: key.version,
    rotateAfterDays,
    overdueAfterDays,
  };
  let registered: Awaited<ReturnType<typeof describeUserKeys>>;
  try {
    registered = await describeUserKeys(sql, settings.user, { deadline });
  } catch (error) {
    // 394304: Snowflake itself says the key's fingerprint is in neither slot.
    if (
      error instanceof SnowflakeError &&
      error.code === 'SNOWFLAKE_AUTH_FAILED' &&
      error.snowflakeCode === '394304'
    ) {
      return {
        ...identity,
        status: 'NOT_REGISTERED',
        detail:
          `Snowflake does not have the vendor's key ${key.fingerprint} in either key slot of ${settings.user.toUpperCase()} (394304); every mint fails. ` +
          `Register it (ALTER USER ${settings.user.toUpperCase()} SET RSA_PUBLIC_KEY_2 = '<public key body>') or restore the registered key in ${signer.source}.`,
      };
    }
    throw error;
  }
  const slot = slotOf(registered, key.fingerprint);
  const created =
    key.createdAt ??
    (signer instanceof KmsSigner ? await signer.createdAt() : undefined) ??
    (slot ? registered.slots[slot]?.lastSetAt : undefined);
  const ageDays = created ? Math.floor((nowMs - created.getTime()) / DAY_MS) : undefined;
  const base = {
    ...identity,
    ...(created ? { keyCreatedAt: created.toISOString() } : {}),
    ...(ageDays === undefined ? {} : { ageDays }),
  };
  if (!slot) {
    const held =
      [registered.slots[1]?.fingerprint, registered.slots[2]?.fingerprint].filter(Boolean).join(', ') ||
      'none';
    return {
      ...base,
      status: 'NOT_REGISTERED',
      detail:
        `The vendor's key ${key.fingerprint} is in neither key slot of ${registered.user} (registered: ${held}); every mint will fail with 394304. ` +
        `Register it: ALTER USER ${registered.user} SET RSA_PUBLIC_KEY_2 = '<public key body>' (or restore the registered key in ${signer.source}).`,
    };
  }
  const found = { ...base, slot };
  if (ageDays === undefined)
    return { ...found, status: 'OK', detail: `Registered in slot ${slot}; the key's age is unknown.` };
  if (ageDays >= overdueAfterDays) {
    return {
      ...found,
      status: 'OVERDUE',
      detail: `The key is ${ageDays} days old, past the ${overdueAfterDays}-day limit. Rotate now: aws secretsmanager rotate-secret, or replace the key.`,
    };
  }
  if (ageDays >= rotateAfterDays) {
    return {
      ...found,
      status: 'ROTATION_DUE',
      detail: `The key is ${ageDays} days old; rotation is due at ${rotateAfterDays} days (overdue at ${overdueAfterDays}). Check that the rotation schedule ran.`,
    };
  }
  return {
    ...found,
    status: 'OK',
    detail: `Registered in slot ${slot}; ${ageDays} days old (rotation due at ${rotateAfterDays}).`,
  };
}

/**
 * A keyless connection has no key to age: the check confirms that Snowflake's user has an AWS workload
 * identity for the role the vendor's STS token names (`OK`), or reports `WIF_MISMATCH`: Snowflake
 * refused the role's sign-in, or lists other identities. The identities Snowflake has are read as the
 * user itself or, when its sign-in is refused, through another connection of the same account that may
 * read them (a key-pair admin connection); the report names the ARNs found.
 */
async function checkWorkloadIdentity(
  name: string,
  config: Config,
  connection: (name: string) => SnowflakeConnection,
  deadline: number | undefined,
  signInRoleArns: readonly string[],
): Promise<ConnectionKeyReport> {
  const settings = config.connections[name]!;
  const { sql } = connection(name);
  const auth = sql.authenticator;
  if (!(auth instanceof WorkloadIdentityAuthenticator))
    throw new TokenVendorError('CONFIG_INVALID', `Connection "${name}" has no key and no workload identity.`);
  const { roleArn, issuer } = await auth.claims();
  const user = settings.user.toUpperCase();
  const base = {
    connection: name,
    account: settings.account,
    user: settings.user,
    authentication: 'wif' as const,
    roleArn,
    rotateAfterDays: settings.rotation.rotateAfterDays,
    overdueAfterDays: settings.rotation.overdueAfterDays,
  };
  const register = `Register it: ALTER USER ${user} SET WORKLOAD_IDENTITY = (TYPE = AWS ARN = '${roleArn}' ISSUER = '${issuer}').`;
  let registered: Awaited<ReturnType<typeof showUserAwsIdentities>>;
  try {
    registered = await showUserAwsIdentities(sql, settings.user, { deadline });
  } catch (error) {
    if (!(error instanceof SnowflakeError && error.code === 'SNOWFLAKE_AUTH_FAILED')) throw error;
    const seen = await identitiesSeenBySibling(name, config, connection, deadline);
    const found = seen ? ` (found: ${seen.map(arnOfIdentity).join(', ') || 'none'})` : '';
    return {
      ...base,
      ...(seen ? { registeredArns: seen.map(arnOfIdentity) } : {}),
      status: 'WIF_MISMATCH',
      detail: `Snowflake refused the sign-in of the vendor's role ${roleArn} as ${user} (code ${error.snowflakeCode ?? 'unknown'})${found}; every mint fails. ${register}`,
      errorCode: error.code,
    };
  }
  const registeredArns = registered.map(arnOfIdentity);
  const required = [...new Set([roleArn, ...signInRoleArns])];
  const missing = required.filter((arn) => !registered.some((identity) => identityMatches(identity, arn)));
  if (missing.length === 0) {
    const roles = required.length === 1 ? `role ${roleArn}` : `roles ${required.join(', ')}`;
    return {
      ...base,
      registeredArns,
      status: 'OK',
      detail: `${user} trusts the vendor's ${roles}; nothing to rotate.`,
    };
  }
  const add = missing
    .filter((arn) => arn !== roleArn)
    .map(
      (arn, i) =>
        `ALTER USER ${user} ADD WORKLOAD IDENTITY vendor_${i + 1} TYPE = AWS ARN = '${arn}' ISSUER = '${issuer}';`,
    );
  return {
    ...base,
    registeredArns,
    missingArns: missing,
    status: 'WIF_MISMATCH',
    detail:
      `${user} has no AWS workload identity for the vendor's ${missing.length === 1 ? 'role' : 'roles'} ${missing.join(', ')} (found: ${registeredArns.join(', ') || 'none'}); every mint by ${missing.length === 1 ? 'it' : 'them'} fails. ` +
      (missing.includes(roleArn) ? register : `Register: ${add.join(' ')}`),
  };
}

/** The user's identities as another key-pair connection of the same account sees them, if any may. */
async function identitiesSeenBySibling(
  name: string,
  config: Config,
  connection: (name: string) => SnowflakeConnection,
  deadline: number | undefined,
): Promise<Awaited<ReturnType<typeof showUserAwsIdentities>> | undefined> {
  const settings = config.connections[name]!;
  for (const [other, c] of Object.entries(config.connections)) {
    if (other === name || !c.key || c.account !== settings.account || c.apiBaseUrl !== settings.apiBaseUrl)
      continue;
    try {
      return await showUserAwsIdentities(connection(other).sql, settings.user, { deadline });
    } catch {
      // this connection may not read the user either; try the next
    }
  }
  return undefined;
}
