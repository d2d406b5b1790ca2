import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revoke } from '../../../cli/revocation-table';
import { TokenVendorClient } from '../../../client';
import { DEMO_PAT, DEMO_ROLE_ARN, type LocalStack, startLocalStack } from '../../../dev/local/local-stack';
import { localDynamoClient } from '../../../dev/local/revocation-table';
import type { AuditRecord } from '../../../lambda/audit/record';
import { runCli } from '../../support/cli';
import { withPat } from '../../support/emulator';
import { tempDir } from '../../support/keys';

/**
 * PATs in the local stack as a developer meets them: the client's `pat()`, `token-vendor get pat`, the
 * PAT working against the emulator, and the local sweeper, woken by the revocation list as the deployed
 * one is by its stream, removing a revoked principal's PAT.
 */
describe('PATs in the local stack', () => {
  let stack: LocalStack;
  let dir: string;
  const records: AuditRecord[] = [];
  beforeAll(async () => {
    dir = tempDir('tv-pat-local-');
    stack = await startLocalStack({
      dir,
      port: 0,
      database: false,
      auditSink: { info: (_m, a) => records.push(a as unknown as AuditRecord) },
    });
  });
  afterAll(() => stack.close());

  const client = () =>
    new TokenVendorClient({
      endpoint: stack.gateway.url,
      credentials: {
        accessKeyId: stack.credentials[0]!.accessKeyId,
        secretAccessKey: stack.credentials[0]!.secretAccessKey,
      },
    });

  it('the client leases a typed PAT that signs in to the emulator as its role; get pat prints the same one', async () => {
    const pat = await client().pat({ target: DEMO_PAT.target, role: DEMO_PAT.role });
    expect(pat).toMatchObject({
      tokenType: 'programmatic-access-token',
      user: DEMO_PAT.user,
      role: DEMO_PAT.role,
    });
    expect(pat.expiresAt).toBeInstanceOf(Date);
    expect(pat.expiresAt.getTime() - pat.issuedAt.getTime()).toBeGreaterThan(3_599_000);
    const used = await withPat(stack.emulator!.url, pat.token, { statement: 'SELECT CURRENT_ROLE()' });
    expect(used).toMatchObject({ status: 200, json: { data: [[DEMO_PAT.role]] } });
    const cli = await runCli([
      'get',
      'pat',
      '--target',
      DEMO_PAT.target,
      '--role',
      DEMO_PAT.role,
      '--endpoint',
      stack.gateway.url,
      '--credentials',
      stack.credentialsFile,
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout.trim()).toBe(pat.token);
    expect(JSON.stringify(records)).not.toContain(pat.token);
  });

  it('revoking the principal wakes the local sweeper, which removes its PAT', async () => {
    const pat = await client().pat({ target: DEMO_PAT.target, role: DEMO_PAT.role });
    const revocations = stack.revocations as { endpoint: string; tableName: string };
    await revoke(
      { client: await localDynamoClient(revocations.endpoint), tableName: revocations.tableName },
      {
        scope: { kind: 'principal', principal: DEMO_ROLE_ARN },
        reason: 'drill',
        by: 'test',
        now: Date.now(),
      },
    );
    for (let i = 0; i < 100 && !records.some((r) => r.event === 'pat.removed'); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(records.find((r) => r.event === 'pat.removed')).toMatchObject({
      trigger: 'revocation-list',
      detail: { reason: 'revoked', user: DEMO_PAT.user },
    });
    expect((await withPat(stack.emulator!.url, pat.token, { statement: 'SELECT 1' })).json.code).toBe(
      '394400',
    );
  });
});
