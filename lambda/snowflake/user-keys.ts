import { SnowflakeError, SnowflakeErrorCode } from './errors';
import { recordsOf, type SqlApiClient } from './sql-api';
import { quoteLiteral } from './sql-literal';

/** One of the two public-key slots of a Snowflake user. */
export type KeySlot = 1 | 2;

export interface RegisteredKey {
  readonly fingerprint: string;
  /** `RSA_PUBLIC_KEY[_2]_LAST_SET_TIME`, when Snowflake reports one. */
  readonly lastSetAt?: Date;
}

/** What `DESC USER` says about the user's key slots. */
export interface UserKeys {
  readonly user: string;
  readonly slots: Readonly<Record<KeySlot, RegisteredKey | undefined>>;
}

/** `"NAME"`: the user as a quoted identifier (the JWT's uppercase name), with `"` doubled. */
export function userIdentifier(user: string): string {
  return `"${user.toUpperCase().replaceAll('"', '""')}"`;
}

/**
 * Read the user's registered public keys with `DESC USER`: `RSA_PUBLIC_KEY_FP`, `RSA_PUBLIC_KEY_2_FP`
 * and their last-set times.
 *
 * @example
 * ```ts
 * const { slots } = await describeUserKeys(sql, 'TOKEN_VENDOR_SVC');
 * ```
 */
export async function describeUserKeys(
  sql: SqlApiClient,
  user: string,
  options: { deadline?: number } = {},
): Promise<UserKeys> {
  const result = await sql.execute(`DESC USER ${userIdentifier(user)}`, { deadline: options.deadline });
  const properties = new Map(recordsOf(result).map((r) => [String(r.property), r.value]));
  if (!properties.has('RSA_PUBLIC_KEY_FP')) {
    throw new SnowflakeError(
      SnowflakeErrorCode.Protocol,
      'DESC USER returned no RSA_PUBLIC_KEY_FP property.',
      {
        statementHandle: result.statementHandle,
      },
    );
  }
  const slot = (fpProperty: string, timeProperty: string): RegisteredKey | undefined => {
    const fingerprint = properties.get(fpProperty);
    if (!fingerprint || fingerprint === 'null') return undefined;
    const time = parseSnowflakeTime(properties.get(timeProperty));
    return { fingerprint, ...(time ? { lastSetAt: time } : {}) };
  };
  return {
    user: user.toUpperCase(),
    slots: {
      1: slot('RSA_PUBLIC_KEY_FP', 'RSA_PUBLIC_KEY_LAST_SET_TIME'),
      2: slot('RSA_PUBLIC_KEY_2_FP', 'RSA_PUBLIC_KEY_2_LAST_SET_TIME'),
    },
  };
}

/** The slot holding `fingerprint`, if any. */
export function slotOf(keys: UserKeys, fingerprint: string): KeySlot | undefined {
  if (keys.slots[1]?.fingerprint === fingerprint) return 1;
  if (keys.slots[2]?.fingerprint === fingerprint) return 2;
  return undefined;
}

/**
 * Register a public key (the base64 SPKI body) in a slot: `ALTER USER … SET RSA_PUBLIC_KEY[_2] = '…'`.
 * Needs OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS on the user.
 *
 * @example
 * ```ts
 * await setUserKey(sql, 'SVC', 2, publicKeyBody(newKey));
 * ```
 */
export async function setUserKey(
  sql: SqlApiClient,
  user: string,
  slot: KeySlot,
  publicKeyBody: string,
  options: { deadline?: number } = {},
): Promise<void> {
  if (!/^[A-Za-z0-9+/=]+$/.test(publicKeyBody)) throw new Error('The public key body must be base64.');
  await sql.execute(
    `ALTER USER ${userIdentifier(user)} SET ${slotProperty(slot)} = ${quoteLiteral(publicKeyBody)}`,
    { deadline: options.deadline },
  );
}

/** Remove the key in a slot: `ALTER USER … UNSET RSA_PUBLIC_KEY[_2]`. */
export async function unsetUserKey(
  sql: SqlApiClient,
  user: string,
  slot: KeySlot,
  options: { deadline?: number } = {},
): Promise<void> {
  await sql.execute(`ALTER USER ${userIdentifier(user)} UNSET ${slotProperty(slot)}`, {
    deadline: options.deadline,
  });
}

function slotProperty(slot: KeySlot): string {
  return slot === 1 ? 'RSA_PUBLIC_KEY' : 'RSA_PUBLIC_KEY_2';
}

/** `2026-11-22 10:00:00.000 +0000` (how Snowflake prints timestamps) or ISO → Date. */
function parseSnowflakeTime(value: string | null | undefined): Date | undefined {
  if (!value || value === 'null') return undefined;
  const iso = value.replace(
    /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) ?([+-]\d{2}):?(\d{2})$/,
    '$1T$2$3:$4',
  );
  const time = Date.parse(iso);
  return Number.isNaN(time) ? undefined : new Date(time);
}
