import type { KeyObject } from 'node:crypto';
import {
  type SnowflakeEmulator,
  type SnowflakeEmulatorOptions,
  startSnowflakeEmulator,
} from '../../dev/emulator/server';
import type { ConfigInput } from '../../lambda/config/schema';
import type { Signer } from '../../lambda/keys/signer';
import { SqlApiClient, type SqlApiClientOptions } from '../../lambda/snowflake/sql-api';
import { ROLE_ARN } from './events';
import { fixtureKeyPair, type TestKeyPair, writeTempFile } from './keys';
import { memorySigner } from './signers';

export const ACCOUNT = 'MYORG-ACCT';
export const LOCATOR = 'XY12345';
export const SERVICE_USER = 'SVC';
export const VENDOR_ROLE = 'TOKEN_VENDOR';

export interface EmulatorFixture {
  readonly emulator: SnowflakeEmulator;
  readonly key: TestKeyPair;
  /** A client for SVC/TOKEN_VENDOR with fast retries, over `signer` (default: the registered key). */
  client(overrides?: Partial<SqlApiClientOptions> & { signer?: Signer }): SqlApiClient;
}

/**
 * An emulator with account MYORG-ACCT (locator XY12345), service user SVC holding role TOKEN_VENDOR
 * and a fresh registered key, and instance REPORTING_SERVER on which TOKEN_VENDOR has USAGE.
 *
 * @example
 * ```ts
 * const { emulator, client } = await emulatorFixture();
 * ```
 */
export async function emulatorFixture(
  options: Partial<SnowflakeEmulatorOptions> & { key?: TestKeyPair; publicKey2?: KeyObject } = {},
): Promise<EmulatorFixture> {
  const key = options.key ?? fixtureKeyPair('emulator');
  const emulator = await startSnowflakeEmulator({
    accountName: ACCOUNT,
    accountLocator: LOCATOR,
    users: [
      {
        name: SERVICE_USER,
        roles: [VENDOR_ROLE, 'NO_USAGE'],
        defaultRole: VENDOR_ROLE,
        publicKey: key.publicKey,
        ...(options.publicKey2 ? { publicKey2: options.publicKey2 } : {}),
      },
    ],
    postgresInstances: [
      { name: 'reporting_server', ownerRole: 'ACCOUNTADMIN', usageRoles: [VENDOR_ROLE] },
      { name: '"Reporting_server"', ownerRole: VENDOR_ROLE },
    ],
    ...options,
  });
  return {
    emulator,
    key,
    client: (overrides = {}) =>
      new SqlApiClient({
        baseUrl: emulator.url,
        account: 'myorg-acct',
        user: 'svc',
        signer: overrides.signer ?? memorySigner(key.privateKey),
        role: VENDOR_ROLE,
        warehouse: 'VENDOR_WH',
        retry: { baseDelayMs: 20, maxDelayMs: 200, pollInitialMs: 20, pollMaxMs: 100 },
        ...overrides,
      }),
  };
}

/**
 * The smallest config over this fixture: connection `demo` (its key in a temp file), instance
 * `reporting_server`, and a grant of `reporting_user` to {@link ROLE_ARN}.
 *
 * @example
 * ```ts
 * process.env.TOKEN_VENDOR_CONFIG = JSON.stringify(fixtureConfig(fx));
 * ```
 */
export function fixtureConfig(fx: EmulatorFixture, options: { pem?: string } = {}): ConfigInput {
  return {
    connections: {
      demo: {
        account: 'myorg-acct',
        user: 'svc',
        role: VENDOR_ROLE,
        apiBaseUrl: fx.emulator.url,
        key: { file: { path: writeTempFile('k.p8', options.pem ?? fx.key.pkcs8Pem) } },
      },
    },
    postgresInstances: [
      {
        connection: 'demo',
        instance: 'reporting_server',
        host: 'h.example',
        allowedUsers: ['reporting_user'],
      },
    ],
    grants: [
      { principal: ROLE_ARN, postgres: [{ instance: 'reporting_server', usernames: ['reporting_user'] }] },
    ],
  };
}

/** A SQL API request signed in with a PAT, as a BI tool's driver would send it. */
export async function withPat(
  url: string,
  secret: string,
  body: Record<string, unknown>,
): Promise<{ status: number; json: Record<string, any> }> {
  const response = await fetch(`${url}/api/v2/statements?requestId=${crypto.randomUUID()}`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${secret}`,
      'X-Snowflake-Authorization-Token-Type': 'PROGRAMMATIC_ACCESS_TOKEN',
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'User-Agent': 'bi-tool/1.0',
    },
    body: JSON.stringify({ timeout: 10, ...body }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}
