import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PATS_PER_USER } from '../../dev/emulator/state';
import { type KmsServer, startKmsServer } from '../../dev/local/kms';
import type { ConfigInput } from '../../lambda/config/schema';
import { type EmulatorFixture, emulatorFixture, fixtureConfig } from '../support/emulator';
import { bundledWorker } from '../support/fleet';
import { fixtureKeyPair } from '../support/keys';
import {
  createLeaseTable,
  documentedAdminSql,
  LEASE_TABLE,
  NAMESPACE,
  PAT_KEY_ID,
  PAT_ROLE,
  PAT_USER,
} from '../support/pat';
import type { PatAsk, PatOutcome, PatWorkerSetup } from '../support/pat-worker';
import { type Dynalite, startDynalite } from '../support/shared-cache';
import { memorySigner } from '../support/signers';

const WORKER = fileURLToPath(new URL('../support/pat-worker.ts', import.meta.url));
const CONTAINERS = 5;
const PRINCIPALS = 20;
const BY_HAND = 3;
const session = (i: number) => `arn:aws:sts::111122223333:assumed-role/bi-${i}/s-${i}`;

/**
 * Snowflake's cap of 15 PATs a user, under concurrent callers in separate processes (as Lambda runs
 * containers): twenty principals, two of them asking from two containers at once, against a user that
 * already holds three tokens made by hand. Exactly the twelve places left are filled, one PAT per
 * principal; everyone else gets 429 PAT_LIMIT, and no principal ever gets two PATs or another's.
 */
describe('the cap of 15 PATs, under concurrent callers in separate processes', () => {
  let fx: EmulatorFixture;
  let dynalite: Dynalite;
  let kms: KmsServer;
  let workers: ChildProcess[] = [];
  let outcomes: PatOutcome[] = [];

  beforeAll(async () => {
    fx = await emulatorFixture();
    const adminKey = fixtureKeyPair('sf-admin');
    fx.emulator.addUser({ name: 'SF_ADMIN', roles: ['ACCOUNTADMIN'], publicKey: adminKey.publicKey });
    const admin = fx.client({
      user: 'sf_admin',
      role: 'ACCOUNTADMIN',
      signer: memorySigner(adminKey.privateKey),
    });
    for (const statement of [
      ...documentedAdminSql(),
      "CREATE OR REPLACE NETWORK RULE SECURITY.NETWORK.TABLEAU_CLIENTS TYPE = IPV4 MODE = INGRESS VALUE_LIST = ('127.0.0.1/32')",
      ...Array.from(
        { length: BY_HAND },
        (_, i) => `ALTER USER ${PAT_USER} ADD PAT BY_HAND_${i} ROLE_RESTRICTION = '${PAT_ROLE}'`,
      ),
    ])
      await admin.execute(statement);
    dynalite = await startDynalite();
    await createLeaseTable(dynalite.client());
    kms = await startKmsServer();
    const base = fixtureConfig(fx);
    const config: ConfigInput = {
      ...base,
      patTargets: { tableau: { connection: 'demo', user: PAT_USER, roles: [PAT_ROLE] } },
      leases: { enabled: false, dynamodb: { tableName: LEASE_TABLE } },
      grants: Array.from({ length: PRINCIPALS }, (_, i) => ({
        principal: `arn:aws:iam::111122223333:role/bi-${i}`,
        pat: [{ target: 'tableau', roles: [PAT_ROLE] }],
      })),
    };
    const setup: PatWorkerSetup = {
      config,
      env: {
        TOKEN_VENDOR_LEASE_TABLE: LEASE_TABLE,
        TOKEN_VENDOR_PAT_KEY_ID: PAT_KEY_ID,
        TOKEN_VENDOR_CACHE_NAMESPACE: NAMESPACE,
      },
      kmsUrl: kms.url,
      dynamoEndpoint: dynalite.endpoint,
    };
    const bundle = await bundledWorker(WORKER);
    workers = Array.from({ length: CONTAINERS }, () =>
      fork(bundle, [], {
        execArgv: [],
        env: { ...process.env, PAT_SETUP: JSON.stringify(setup) },
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      }),
    );
    await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
    // Each container gets four principals of its own; principals 0 and 1 also ask from the next container.
    const asks = workers.map((_, c) => [
      ...Array.from({ length: PRINCIPALS / CONTAINERS }, (_, k) =>
        session(c * (PRINCIPALS / CONTAINERS) + k),
      ),
      ...(c < 2 ? [session(c)] : []),
    ]);
    // Act: every container at once
    outcomes = (
      await Promise.all(
        workers.map(
          (w, c) =>
            new Promise<PatOutcome[]>((resolve, reject) => {
              w.once('message', (m: { results: PatOutcome[] }) => resolve(m.results));
              w.once('exit', (code) => reject(new Error(`a container exited with ${code}`)));
              w.send({ id: c, principals: asks[c]! } satisfies PatAsk);
            }),
        ),
      )
    ).flat();
  }, 120_000);

  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    await kms?.close();
    await dynalite?.close();
    await fx?.emulator.close();
  });

  it('fills exactly the places left, one PAT a principal, and refuses the rest with PAT_LIMIT', () => {
    expect(outcomes).toHaveLength(PRINCIPALS + 2);
    const served = outcomes.filter((o): o is Extract<PatOutcome, { ok: true }> => o.ok);
    const refused = outcomes.filter((o): o is Extract<PatOutcome, { ok: false }> => !o.ok);
    expect([...new Set(refused.map((o) => o.code))]).toEqual(['PAT_LIMIT']);
    const byPrincipal = new Map<string, Set<string>>();
    for (const o of served)
      byPrincipal.set(o.principal, (byPrincipal.get(o.principal) ?? new Set()).add(o.token));
    // One PAT a principal, even when two containers asked for it at once
    for (const [principal, tokens] of byPrincipal) expect(tokens.size, principal).toBe(1);
    expect(byPrincipal.size).toBe(MAX_PATS_PER_USER - BY_HAND);
    // Never shared: twelve principals, twelve distinct PATs
    expect(new Set(served.map((o) => o.token)).size).toBe(MAX_PATS_PER_USER - BY_HAND);
    // A principal refused in one container was not served in another
    for (const o of refused)
      expect(
        byPrincipal.has(o.principal),
        `${o.principal}\n${JSON.stringify(outcomes.filter((x) => x.principal === o.principal).map((x) => ({ ...x, token: undefined })))}\n${JSON.stringify(fx.emulator.executionsOf('pat-add').length)} ${JSON.stringify(fx.emulator.executions.filter((e) => e.label.startsWith('pat') || e.label === 'sql').map((e) => [e.label, e.outcome, e.at, e.statement.slice(0, 80)]))}`,
      ).toBe(false);
  });

  it('Snowflake holds 15: the three made by hand and one of the vendor’s for each principal served', () => {
    const pats = fx.emulator.patsOf(PAT_USER);
    expect(pats).toHaveLength(MAX_PATS_PER_USER);
    expect(pats.filter((p) => p.name.startsWith('BY_HAND_'))).toHaveLength(BY_HAND);
    const served = new Set(outcomes.flatMap((o) => (o.ok ? [o.tokenName] : [])));
    expect(
      pats
        .filter((p) => p.name.startsWith('TV_'))
        .map((p) => p.name)
        .sort(),
    ).toEqual([...served].sort());
  });
});
