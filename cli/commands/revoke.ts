import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AWS_CLIENT_DEFAULTS, loadDynamoDb, loadSts } from '../../lambda/aws/sdk';
import { type Lease, readLeases } from '../../lambda/vending/leases';
import { revocationPrincipal } from '../../lambda/vending/principal';
import { targetKeyOf } from '../../lambda/vending/revocations';
import { parseCommand } from '../args';
import { UsageError } from '../errors';
import type { CliIo } from '../io';
import { localDir, runningLocalStack } from '../local-stack-file';
import {
  type Listed,
  listRevocations,
  type RevocationTable,
  revoke,
  scopeOf,
  unrevoke,
} from '../revocation-table';

/** The table, and who the operator is: a deployed stack's (AWS credentials) or the local stack's. */
async function tableFor(
  command: string,
  values: { table?: string | undefined; region?: string | undefined },
  io: CliIo,
  which: 'revocations' | 'leases' = 'revocations',
): Promise<RevocationTable & { by: () => Promise<string> }> {
  const tableName =
    values.table ??
    (which === 'leases' ? io.env.TOKEN_VENDOR_LEASE_TABLE : io.env.TOKEN_VENDOR_REVOCATION_TABLE);
  if (tableName) {
    const region = values.region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION;
    const { DynamoDBClient } = await loadDynamoDb();
    const client: DynamoDBClient = new DynamoDBClient({
      ...AWS_CLIENT_DEFAULTS,
      ...(region ? { region } : {}),
    });
    return {
      client,
      tableName,
      // The operator's own IAM identity, as STS says it is: the entry records who made it.
      by: async () => {
        const { STSClient, GetCallerIdentityCommand } = await loadSts();
        const sts = new STSClient({ ...AWS_CLIENT_DEFAULTS, ...(region ? { region } : {}) });
        return (await sts.send(new GetCallerIdentityCommand({}))).Arn ?? 'unknown';
      },
    };
  }
  const local = runningLocalStack(localDir(io.env));
  const localTable = which === 'leases' ? local?.revocations?.leaseTableName : local?.revocations?.tableName;
  if (local?.revocations && localTable) {
    const { localDynamoClient } = await import('../../dev/local/revocation-table');
    return {
      client: await localDynamoClient(local.revocations.endpoint),
      tableName: localTable,
      by: async () => 'local-operator (the local stack)',
    };
  }
  throw new UsageError(
    which === 'leases'
      ? `${command}: name the lease table (the stack's LeaseTableName output, with config leases.enabled, or TOKEN_VENDOR_LEASE_TABLE), or start the local stack (npm start).`
      : `${command}: name the table (--table, the stack's RevocationTableName output, or TOKEN_VENDOR_REVOCATION_TABLE), or start the local stack (npm start).`,
  );
}

function leaseLine(l: Lease): string {
  return `${l.caller}\t${l.target}\t${l.tokenId}\texpires ${new Date(l.expiresAt).toISOString()}`;
}

const leaseJson = (l: Lease) => ({
  ...l,
  issuedAt: new Date(l.issuedAt).toISOString(),
  expiresAt: new Date(l.expiresAt).toISOString(),
});

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--for 90s|30m|12h|7d`, at most 400 days. */
function duration(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{1,6})([smhd])$/.exec(value);
  const ms = m ? Number(m[1]) * UNITS[m[2]!]! : Number.NaN;
  if (!(ms > 0 && ms <= 400 * UNITS.d!))
    throw new UsageError(
      `revoke: --for must be a duration such as 90s, 30m, 12h or 7d (at most 400d), not "${value}".`,
    );
  return ms;
}

function describe(e: Listed): string {
  const s = e.scope;
  const what =
    s.kind === 'principal'
      ? `principal ${s.principal}`
      : s.kind === 'account'
        ? `account ${s.account}`
        : s.kind === 'target'
          ? `target ${s.target}`
          : s.kind === 'rekey'
            ? `rekey connection ${s.connection}`
            : `principal ${s.principal} on ${s.target}`;
  const state =
    s.kind === 'rekey'
      ? 'key replaced (refuses nothing)'
      : e.liftedAt !== undefined
        ? `lifted ${new Date(e.liftedAt).toISOString()}`
        : e.until !== undefined && e.until <= Date.now()
          ? `ended ${new Date(e.until).toISOString()}`
          : `active${e.until !== undefined ? ` until ${new Date(e.until).toISOString()}` : ''}`;
  return `${what}\t${state}\tsince ${e.at === undefined ? '?' : new Date(e.at).toISOString()}\tby ${e.by}\t${e.reason}`;
}

function json(e: Listed) {
  return {
    pk: e.pk,
    ...e.scope,
    reason: e.reason,
    by: e.by,
    ...(e.at === undefined ? {} : { at: new Date(e.at).toISOString() }),
    ...(e.until === undefined ? {} : { until: new Date(e.until).toISOString() }),
    ...(e.liftedAt === undefined ? {} : { liftedAt: new Date(e.liftedAt).toISOString() }),
  };
}

/** `token-vendor revoke`: write the entry; every container applies it within the list's refresh. */
export async function revokeCommand(args: string[], io: CliIo): Promise<void> {
  const { values } = parseCommand('revoke', args);
  const scope = scopeOf(values, 'revoke');
  if (!values.reason?.trim())
    throw new UsageError('revoke: --reason says why (the refused caller reads it).');
  const forMs = duration(values.for);
  const table = await tableFor('revoke', values, io);
  const now = Date.now();
  const entry = await revoke(table, {
    scope,
    reason: values.reason,
    by: await table.by(),
    now,
    ...(forMs === undefined ? {} : { until: now + forMs }),
  });
  if (values.json) {
    io.stdout.write(`${JSON.stringify(json(entry), null, 2)}\n`);
    return;
  }
  io.stdout.write(`revoked\t${describe(entry)}\n`);
  // The blast radius: the live tokens the principal holds, when there is a lease record to read.
  let held: readonly string[] | undefined =
    entry.scope.kind === 'target' || entry.scope.kind === 'principal-target'
      ? [entry.scope.target]
      : undefined;
  if (entry.scope.kind === 'principal' || entry.scope.kind === 'principal-target') {
    const leases = await tableFor(
      'revoke',
      { table: values['leases-table'], region: values.region },
      io,
      'leases',
    ).then(
      (t) =>
        readLeases(t.client, t.tableName, {
          principal: (entry.scope as { principal: string }).principal,
          now,
        }),
      () => undefined,
    );
    if (leases === undefined)
      io.stderr.write(
        'What it holds: unknown (no lease record: config leases.enabled, the LeaseTableName output).\n',
      );
    else if (leases.length === 0) io.stderr.write('It holds no live token the lease record knows of.\n');
    else {
      io.stderr.write(`It holds ${leases.length} live token(s):\n`);
      for (const l of leases) io.stderr.write(`  ${leaseLine(l)}\n`);
    }
    if (leases) held = [...new Set(leases.map((l) => l.target))];
  }
  io.stderr.write(`${blastRadiusAdvice(held).join('\n')}\n`);
}

/**
 * What else the operator can do at Snowflake about tokens already handed out: for the targets the
 * principal holds (when the lease record says), the exact commands; otherwise the general ones.
 */
export function blastRadiusAdvice(held: readonly string[] | undefined): string[] {
  const lines = [
    'Every container refuses it within the list’s refresh (revocations.refreshSeconds, default 2 s).',
    'Tokens vended before now for what it covers are not served again from any cache.',
    'Tokens already handed out still work until they expire:',
  ];
  const of = (kind: string) =>
    held === undefined
      ? undefined
      : [...new Set(held.filter((t) => t.startsWith(`${kind}:`)).map((t) => t.slice(kind.length + 1)))];
  const postgres = of('postgres');
  const jwt = of('snowflake-jwt');
  const oauth = of('oauth');
  if (postgres === undefined || postgres.length > 0)
    lines.push(
      '  - Postgres tokens: Snowflake cannot revoke one before its 15 minutes; they lapse by themselves.',
    );
  if (jwt === undefined)
    lines.push(
      '  - Key-pair JWTs: token-vendor rotate-now --connection C replaces the connection’s key and removes the old one from Snowflake, so JWTs signed with it stop working.',
    );
  else
    for (const c of jwt)
      lines.push(
        `  - Key-pair JWTs of ${c}: token-vendor rotate-now --connection ${c} (replaces the key and removes the old one from Snowflake, so they stop working).`,
      );
  if (oauth === undefined)
    lines.push(
      '  - OAuth tokens: token-vendor integrations disable NAME stops the integration at Snowflake.',
    );
  else
    for (const i of oauth)
      lines.push(
        `  - OAuth tokens of ${i}: token-vendor integrations disable ${i} (stops the integration at Snowflake, for every caller).`,
      );
  if (held !== undefined && held.length === 0) lines.push('  (none: it holds no live token)');
  return lines;
}

/** `token-vendor unrevoke`: lift the entry; its taint stays. */
export async function unrevokeCommand(args: string[], io: CliIo): Promise<void> {
  const { values } = parseCommand('unrevoke', args);
  const scope = scopeOf(values, 'unrevoke');
  const table = await tableFor('unrevoke', values, io);
  const entry = await unrevoke(table, { scope, by: await table.by(), now: Date.now() });
  io.stdout.write(values.json ? `${JSON.stringify(json(entry), null, 2)}\n` : `lifted\t${describe(entry)}\n`);
}

/** `token-vendor revocations list`. */
export async function revocationsCommand(args: string[], io: CliIo): Promise<void> {
  const { values, positionals } = parseCommand('revocations', args, true);
  if (positionals.length !== 1 || positionals[0] !== 'list') throw new UsageError('revocations: give list.');
  const table = await tableFor('revocations', values, io);
  const entries = await listRevocations(table);
  if (values.json) io.stdout.write(`${JSON.stringify(entries.map(json), null, 2)}\n`);
  else if (entries.length === 0) io.stdout.write('no revocations\n');
  else for (const e of entries) io.stdout.write(`${describe(e)}\n`);
}

/** `token-vendor leases list`: the live leases, of one principal or target, soonest to expire first. */
export async function leasesCommand(args: string[], io: CliIo): Promise<void> {
  const { values, positionals } = parseCommand('leases', args, true);
  if (positionals.length !== 1 || positionals[0] !== 'list') throw new UsageError('leases: give list.');
  const principal = values.principal === undefined ? undefined : revocationPrincipal(values.principal);
  if (values.principal !== undefined && !principal)
    throw new UsageError(
      `leases: --principal must be an IAM role or user ARN, not ${JSON.stringify(values.principal)}.`,
    );
  const target = values.target === undefined ? undefined : targetKeyOf(values.target);
  if (values.target !== undefined && !target)
    throw new UsageError(
      `leases: --target must be postgres:INSTANCE[/USER], snowflake-jwt:CONNECTION or oauth:INTEGRATION, not ${JSON.stringify(values.target)}.`,
    );
  const table = await tableFor('leases', values, io, 'leases');
  const leases = await readLeases(table.client, table.tableName, {
    ...(principal ? { principal } : {}),
    ...(target ? { target } : {}),
    now: Date.now(),
  });
  if (values.json) io.stdout.write(`${JSON.stringify(leases.map(leaseJson), null, 2)}\n`);
  else if (leases.length === 0) io.stdout.write('no live leases\n');
  else for (const l of leases) io.stdout.write(`${leaseLine(l)}\n`);
}
