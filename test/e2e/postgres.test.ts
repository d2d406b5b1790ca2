import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresPasswordProvider, TokenVendorClient } from '../../client';
import type { IssuedPostgresToken } from '../../dev/emulator/state';
import { type LocalStack, startLocalStack } from '../../dev/local/local-stack';
import { tempDir } from '../support/keys';
import { postgresBinDir, startThrowawayCluster, type ThrowawayCluster } from '../support/postgres';

const bin = postgresBinDir();
if (!bin && process.env.CI)
  throw new Error(
    'PostgreSQL is not installed, and CI must run the PostgreSQL end-to-end suite (.ci/run installs it).',
  );
if (!bin)
  console.warn(
    'PostgreSQL is not installed (apt-get install postgresql): skipping the PostgreSQL end-to-end suite.',
  );

/**
 * End to end with a real PostgreSQL: the emulator's Postgres instance is backed by a throwaway cluster,
 * where every minted token becomes the role's password until the token expires; a pg.Pool logs in with
 * tokens the gateway vended through the client's password provider.
 */
describe.skipIf(!bin)('end to end: gateway → vendor → emulator → PostgreSQL', () => {
  let cluster: ThrowawayCluster;
  const stacks: LocalStack[] = [];

  /** The emulator's hook: a token becomes the Postgres role's password, valid until the token expires. */
  const backWithPostgres = async (token: IssuedPostgresToken) => {
    const role = cluster.admin.escapeIdentifier(token.username);
    await cluster.admin.query(
      `ALTER ROLE ${role} WITH LOGIN PASSWORD ${cluster.admin.escapeLiteral(token.token)} VALID UNTIL ${cluster.admin.escapeLiteral(token.expiresAt.toISOString())}`,
    );
  };
  const stackWith = async (now?: () => number) => {
    const stack = await startLocalStack({
      dir: tempDir('tv-e2e-'),
      port: 0,
      postgres: { host: '127.0.0.1', port: cluster.port, sslmode: 'require' },
      onPostgresToken: backWithPostgres,
      auditSink: { info: () => {} },
      ...(now ? { now } : {}),
    });
    stacks.push(stack);
    return stack;
  };
  const clientFor = (stack: LocalStack) =>
    new TokenVendorClient({
      endpoint: stack.gateway.url,
      credentials: {
        accessKeyId: stack.credentials[0]!.accessKeyId,
        secretAccessKey: stack.credentials[0]!.secretAccessKey,
      },
    });

  beforeAll(async () => {
    cluster = await startThrowawayCluster(bin!);
    await cluster.admin.query('CREATE ROLE reporting_user NOLOGIN');
  }, 120_000);
  afterAll(async () => {
    for (const stack of stacks) await stack.close();
    await cluster?.stop();
  });

  it('a pg.Pool with the password provider connects over TLS and queries with vended tokens', async () => {
    // Prepare
    const stack = await stackWith();
    const vendor = clientFor(stack);
    const request = { instance: 'reporting_server', username: 'reporting_user' };
    const { connection } = await vendor.postgres(request);
    const pool = new pg.Pool({
      host: connection.host,
      port: connection.port,
      user: 'reporting_user',
      database: 'postgres',
      ssl: { rejectUnauthorized: false }, // sslmode=require: encrypted, certificate not verified
      password: postgresPasswordProvider(vendor, request),
      max: 3,
    });
    try {
      // Act: three connections at once
      const rows = await Promise.all(
        Array.from({ length: 3 }, () =>
          pool.query('SELECT current_user AS who, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'),
        ),
      );
      // Assess
      expect(rows.map((r) => r.rows[0])).toEqual(Array(3).fill({ who: 'reporting_user', ssl: true }));
      expect(pool.totalCount).toBe(3);
      const validUntil = await cluster.admin.query(
        "SELECT rolvaliduntil FROM pg_roles WHERE rolname = 'reporting_user'",
      );
      const token = await vendor.postgres(request);
      expect(
        Math.abs(new Date(validUntil.rows[0].rolvaliduntil).getTime() - token.expiresAt.getTime()),
      ).toBeLessThan(1000);
    } finally {
      await pool.end();
    }
  });

  it('refuses a connection with a wrong password: the token is what authenticates', async () => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: cluster.port,
      user: 'reporting_user',
      database: 'postgres',
      ssl: { rejectUnauthorized: false },
      password: 'not-the-token',
    });
    await expect(client.connect()).rejects.toThrow(
      /password authentication failed for user "reporting_user"/,
    );
  });

  it('refuses a connection attempted with an expired token', async () => {
    // Prepare: the vendor and the emulator run 16 minutes behind, so the token they mint expired a minute ago
    const stack = await stackWith(() => Date.now() - 16 * 60_000);
    const token = await clientFor(stack).postgres({
      instance: 'reporting_server',
      username: 'reporting_user',
    });
    expect(token.expiresAt.getTime()).toBeLessThan(Date.now());
    // Act
    const client = new pg.Client({
      host: '127.0.0.1',
      port: cluster.port,
      user: 'reporting_user',
      database: 'postgres',
      ssl: { rejectUnauthorized: false },
      password: token.token,
    });
    // Assess
    await expect(client.connect()).rejects.toThrow(
      /password authentication failed for user "reporting_user"/,
    );
    // …and expiry was the only reason: lifted, the same token logs in
    await cluster.admin.query("ALTER ROLE reporting_user VALID UNTIL 'infinity'");
    const retry = new pg.Client({
      host: '127.0.0.1',
      port: cluster.port,
      user: 'reporting_user',
      database: 'postgres',
      ssl: { rejectUnauthorized: false },
      password: token.token,
    });
    await retry.connect();
    await retry.end();
  });
});
