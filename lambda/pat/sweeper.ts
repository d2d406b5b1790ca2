import type { Config, PatTarget } from '../config/schema';
import { countsTowardCap, type ListedPat, listPats, removePat } from '../snowflake/programmatic-access-token';
import type { SqlApiClient } from '../snowflake/sql-api';
import type { AuthorizedTarget } from '../vending/policy';
import type { RevocationList } from '../vending/revocations';
import type { PatIndexEntry, PatLeaseStore } from './lease-store';
import { parsePatName } from './names';

/** Why the sweeper removed a PAT. */
export type RemovalReason =
  /** Its lease ended. */
  | 'lease-ended'
  /** Its holder or target was revoked (or the token was issued before a revocation that covers it). */
  | 'revoked'
  /** No lease names it: a crash between its ADD and its lease write. */
  | 'orphan'
  /** Snowflake's own day passed: it authenticates no more, and is tidied away. */
  | 'expired';

export interface Removal {
  readonly connection: string;
  readonly user: string;
  readonly name: string;
  readonly reason: RemovalReason;
  /** The holder, when a lease named one. */
  readonly holder?: string;
  readonly tokenId?: string;
  readonly leaseEnd?: number;
}

/** One Snowflake user's tokens as the sweep found and left them. */
export interface UserSweep {
  readonly connection: string;
  readonly user: string;
  /** Tokens that count toward Snowflake's 15 after the sweep (any owner's). */
  readonly counted: number;
  /** This stack's tokens left in place (their leases run on). */
  readonly leased: number;
  readonly removed: readonly Removal[];
  /** What failed for this user (the next sweep tries again). */
  readonly errors: readonly string[];
}

export interface SweepOptions {
  readonly config: Config;
  readonly leases: PatLeaseStore;
  readonly sql: (connection: string) => SqlApiClient;
  /** This stack's tag in PAT names (`stackTag(namespace)`): other stacks' tokens are never touched. */
  readonly tag: string;
  /** The revocation list as read now (undefined: no list). */
  readonly revocations?: () => Promise<RevocationList | undefined>;
  readonly deadline: number;
  readonly now?: () => number;
  /** How long a token without a lease may be mid-mint before it counts as an orphan (default 2 min). */
  readonly orphanGraceMs?: number;
  /** Told each removal as it happens (the audit trail). */
  readonly onRemoved?: (removal: Removal) => void;
}

const ORPHAN_GRACE_MS = 120_000;

/** The Snowflake users the config makes PATs for, once each, with the targets that name them. */
export function patUsers(
  config: Config,
): { connection: string; user: string; targets: [string, PatTarget][] }[] {
  const users = new Map<string, { connection: string; user: string; targets: [string, PatTarget][] }>();
  for (const [name, target] of Object.entries(config.patTargets)) {
    const key = `${target.connection}\u0000${target.user}`;
    const entry = users.get(key) ?? { connection: target.connection, user: target.user, targets: [] };
    entry.targets.push([name, target]);
    users.set(key, entry);
  }
  return [...users.values()];
}

/**
 * End the PATs whose time is up, for every PAT user of the config: `SHOW USER PROGRAMMATIC ACCESS TOKENS`,
 * then `ALTER USER … REMOVE PROGRAMMATIC ACCESS TOKEN` for each of this stack's tokens whose lease ended,
 * whose holder or target is revoked, that no lease names (after a grace for a mint in progress), or that
 * Snowflake already expired; each removed token's lease is forgotten. Tokens of other stacks and people
 * are left alone. One user's failure does not stop the others.
 *
 * @example
 * ```ts
 * const report = await sweepPats({ config, leases, sql, tag, deadline: Date.now() + 60_000 });
 * ```
 */
export async function sweepPats(options: SweepOptions): Promise<UserSweep[]> {
  const now = options.now ?? Date.now;
  const list = await options.revocations?.();
  return Promise.all(
    patUsers(options.config).map(async ({ connection, user, targets }) => {
      const errors: string[] = [];
      const removed: Removal[] = [];
      const sql = options.sql(connection);
      let tokens: Awaited<ReturnType<typeof listPats>>;
      let index: Map<string, PatIndexEntry>;
      try {
        // SHOW first: a mint that lands after it is in neither list, so nothing of it is touched.
        tokens = await listPats(sql, user, { deadline: options.deadline });
        index = await options.leases.indexOf(connection, user);
      } catch (error) {
        return { connection, user, counted: -1, leased: 0, removed, errors: [describe(error)] };
      }
      let leased = 0;
      let counted = 0;
      const listed = new Set<string>();
      for (const token of tokens) {
        listed.add(token.name);
        const parsed = parsePatName(token.name, options.tag);
        const live = countsTowardCap(token, now());
        if (!parsed) {
          if (live) counted += 1;
          continue;
        }
        const entry = index.get(token.name);
        const reason = reasonToRemove(
          token,
          parsed.leaseEnd,
          entry,
          targets,
          list,
          now(),
          options.orphanGraceMs,
        );
        if (!reason) {
          leased += 1;
          if (live) counted += 1;
          continue;
        }
        try {
          await removePat(sql, { user, name: token.name, deadline: options.deadline });
          await options.leases.forget(connection, user, token.name, entry);
          const removal: Removal = {
            connection,
            user,
            name: token.name,
            reason,
            ...(entry ? { holder: entry.principal, tokenId: entry.tokenId } : {}),
            leaseEnd: entry?.leaseEnd ?? parsed.leaseEnd,
          };
          removed.push(removal);
          options.onRemoved?.(removal);
        } catch (error) {
          if (live) counted += 1;
          errors.push(`${token.name}: ${describe(error)}`);
        }
      }
      // Leases of tokens Snowflake no longer lists (removed by hand, or never made): forgotten once ended.
      for (const entry of index.values()) {
        if (listed.has(entry.name) || entry.leaseEnd > now()) continue;
        await options.leases.forget(connection, user, entry.name, entry).catch((error: unknown) => {
          errors.push(`${entry.name} (lease only): ${describe(error)}`);
        });
      }
      return { connection, user, counted, leased, removed, errors };
    }),
  );
}

function reasonToRemove(
  token: ListedPat,
  nameLeaseEnd: number,
  entry: PatIndexEntry | undefined,
  targets: readonly [string, PatTarget][],
  list: RevocationList | undefined,
  now: number,
  graceMs = ORPHAN_GRACE_MS,
): RemovalReason | undefined {
  if (!countsTowardCap(token, now)) return 'expired';
  if (!entry) {
    const created = token.createdOn?.getTime();
    // Mid-mint (its lease not written yet) for up to the grace; the name's lease end is a backstop.
    if ((created !== undefined && now - created > graceMs) || nameLeaseEnd <= now) return 'orphan';
    return undefined;
  }
  if (Math.min(entry.leaseEnd, nameLeaseEnd) <= now) return 'lease-ended';
  if (list && revoked(entry, targets, list, now)) return 'revoked';
  return undefined;
}

/** The holder or target is refused now, or the token was issued before a revocation that taints it. */
function revoked(
  entry: PatIndexEntry,
  targets: readonly [string, PatTarget][],
  list: RevocationList,
  now: number,
): boolean {
  const target = targets.find(([name]) => name === entry.patTarget)?.[1];
  if (!target) return true; // its target left the config: nothing grants it any more
  const authorized = {
    tokenType: 'pat',
    targetName: entry.patTarget,
    target,
    role: entry.role,
    leaseSeconds: 0,
    holder: entry.principal,
    cacheKey: `pat-sweep\u0000${entry.principal}\u0000${entry.patTarget}\u0000${entry.role}`,
    resolved: {},
  } satisfies AuthorizedTarget;
  try {
    const caller =
      entry.caller === 'direct'
        ? ({ kind: 'direct' } as const)
        : ({ kind: 'http', principalArn: entry.caller } as const);
    const { taintedBefore } = list.check(caller, authorized, now);
    return entry.issuedAt <= taintedBefore;
  } catch {
    return true; // RevokedError: its holder or target is revoked
  }
}

function describe(error: unknown): string {
  const e = error as { name?: unknown; code?: unknown; message?: unknown };
  return `${String(e?.code ?? e?.name ?? 'Error')}: ${String(e?.message ?? error).slice(0, 300)}`;
}
