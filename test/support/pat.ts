import { readFileSync } from 'node:fs';
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SnowflakeEmulatorOptions } from '../../dev/emulator/server';
import { createLeaseTable as createLocalLeaseTable } from '../../dev/local/revocation-table';
import type { AuditSink } from '../../lambda/audit/audit-log';
import type { ConfigInput } from '../../lambda/config/schema';
import type { SqlApiClient } from '../../lambda/snowflake/sql-api';
import { fixtureKeyPair } from './keys';
import { type Dynalite, startDynalite } from './shared-cache';
import { memorySigner } from './signers';
import { type VendingHarness, vendingHarness } from './vending';

export const PAT_USER = 'TABLEAU_SVC';
export const PAT_ROLE = 'REPORTING_READER';
export const LEASE_TABLE = 'token-vendor-leases';
export const PAT_KEY_ID = 'arn:aws:kms:us-east-1:111122223333:key/pat-seal';
export const NAMESPACE = 'arn:aws:cloudformation:us-east-1:111122223333:stack/Tokens/1/c8pat';
export const REVOCATION_TABLE = 'token-vendor-revocations';

/** The environment the stack gives the vending functions and the sweeper. */
export const PAT_ENV = (revocations = false) => ({
  TOKEN_VENDOR_LEASE_TABLE: LEASE_TABLE,
  TOKEN_VENDOR_PAT_KEY_ID: PAT_KEY_ID,
  TOKEN_VENDOR_CACHE_NAMESPACE: NAMESPACE,
  ...(revocations ? { TOKEN_VENDOR_REVOCATION_TABLE: REVOCATION_TABLE } : {}),
});

/** The administrator's SQL of docs/pat.md, statement by statement, as written there. */
export function documentedAdminSql(): string[] {
  const page = readFileSync('docs/pat.md', 'utf8');
  const at = page.indexOf('<!-- runs against the emulator: test/integration/pat/setup.test.ts -->');
  if (at < 0) throw new Error('docs/pat.md lost its administrator block');
  const block = /```sql\n([\s\S]*?)```/.exec(page.slice(at))![1]!;
  return block
    .split(/;\s*\n/)
    .map((s) => s.trim())
    .filter((s) => s && !s.startsWith('--'));
}

/** The lease table, as the stack makes it: `principal` and `tokenId`. */
export const createLeaseTable = (client: DynamoDBClient): Promise<void> =>
  createLocalLeaseTable(client, LEASE_TABLE);

export interface PatHarness extends VendingHarness {
  readonly dynalite: Dynalite;
  /** The Snowflake administrator (ACCOUNTADMIN). */
  readonly admin: SqlApiClient;
  /** Run statements as the administrator, in order. */
  adminRun(statements: readonly string[]): Promise<void>;
  /** Let 127.0.0.1 in under TABLEAU_SVC's network policy (the documented one names 203.0.113.0/24). */
  allowLoopback(): Promise<void>;
}

/**
 * The vending harness with a PAT target: the emulator has an administrator, the documented setup of
 * TABLEAU_SVC has run (unless `setup: false`), the lease table is on dynalite, and the config grants
 * ROLE_ARN (and alice) a PAT of `tableau` restricted to REPORTING_READER.
 *
 * @example
 * ```ts
 * const h = await patHarness();
 * ```
 */
export async function patHarness(
  options: {
    setup?: boolean;
    now?: () => number;
    config?: (c: ConfigInput) => void;
    emulator?: Partial<SnowflakeEmulatorOptions>;
    /** Also a revocation list, on the same dynalite (table REVOCATION_TABLE). */
    revocations?: boolean;
    /** The lease table's client (default: dynalite's). */
    dynamodb?: (dynalite: Dynalite) => DynamoDBClient;
    auditSink?: AuditSink;
  } = {},
): Promise<PatHarness> {
  const dynalite = await startDynalite();
  await createLeaseTable(dynalite.client());
  if (options.revocations)
    await dynalite.client().send(
      new CreateTableCommand({
        TableName: REVOCATION_TABLE,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  const adminKey = fixtureKeyPair('sf-admin');
  const h = await vendingHarness({
    ...(options.now ? { now: options.now } : {}),
    ...(options.auditSink ? { auditSink: options.auditSink } : {}),
    ...(options.emulator ? { emulator: options.emulator } : {}),
    config: (c) => {
      c.patTargets = {
        tableau: { connection: 'demo', user: PAT_USER, roles: [PAT_ROLE, 'OTHER_READER'] },
      };
      c.leases = { enabled: false, dynamodb: { tableName: LEASE_TABLE } };
      for (const grant of c.grants ?? []) grant.pat = [{ target: 'tableau', roles: [PAT_ROLE] }];
      c.directInvoke = { ...c.directInvoke, pat: [{ target: 'tableau', roles: [PAT_ROLE] }] };
      options.config?.(c);
    },
    runtime: {
      dynamodb: () => (options.dynamodb ? options.dynamodb(dynalite) : dynalite.client()),
      ...(options.revocations ? { revocationsDynamodb: () => dynalite.client() } : {}),
      env: PAT_ENV(options.revocations === true),
    },
  });
  h.emulator.addUser({
    name: 'SF_ADMIN',
    roles: ['ACCOUNTADMIN'],
    defaultRole: 'ACCOUNTADMIN',
    publicKey: adminKey.publicKey,
  });
  const admin = h.client({
    user: 'sf_admin',
    role: 'ACCOUNTADMIN',
    signer: memorySigner(adminKey.privateKey),
  });
  const adminRun = async (statements: readonly string[]) => {
    for (const statement of statements) await admin.execute(statement);
  };
  if (options.setup !== false) await adminRun(documentedAdminSql());
  const close = h.close;
  return {
    ...h,
    dynalite,
    admin,
    adminRun,
    allowLoopback: () =>
      adminRun([
        "CREATE OR REPLACE NETWORK RULE SECURITY.NETWORK.TABLEAU_CLIENTS TYPE = IPV4 MODE = INGRESS VALUE_LIST = ('203.0.113.0/24', '127.0.0.1/32')",
      ]),
    close: async () => {
      await close();
      await dynalite.close();
    },
  };
}

export { withPat } from './emulator';
