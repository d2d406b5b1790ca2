import type { Config } from '../config/schema';
import {
  countsTowardCap,
  MAX_PATS_PER_USER,
  patProblem,
  readPatReadiness,
} from '../snowflake/programmatic-access-token';
import type { SnowflakeConnection } from '../vending/vendor';

export type PatTargetStatus =
  | 'OK'
  | 'NEAR_LIMIT'
  | 'AT_LIMIT'
  | 'NO_NETWORK_POLICY'
  | 'ROLE_NOT_GRANTED'
  | 'ERROR';

/** What the rotation check reports for one PAT target: whether Snowflake would make its PATs now. */
export interface PatTargetReport {
  readonly target: string;
  readonly connection: string;
  readonly user: string;
  readonly status: PatTargetStatus;
  /** What the status means and the fix. */
  readonly detail: string;
  /** `SERVICE`, `LEGACY_SERVICE`, `PERSON` (empty: no type). */
  readonly type?: string;
  readonly networkPolicy?: string;
  /** Each configured role restriction: granted to the user in Snowflake or not. */
  readonly roles?: Readonly<Record<string, boolean>>;
  /** PATs of the user that count toward Snowflake's 15 (any owner's). */
  readonly pats?: number;
  readonly limit: number;
  readonly errorCode?: string;
}

/** A user this close to the cap is reported (and alarmed on by the sweeper's metric). */
const NEAR = MAX_PATS_PER_USER - 2;

/**
 * For every PAT target, what Snowflake's rules would say to a PAT now: the user's type and network policy
 * (a service user needs one), whether each configured role is granted to it, and how many of its 15 PATs
 * are in use. Read-only (`DESC USER`, `SHOW PARAMETERS`, `SHOW GRANTS`, `SHOW USER PROGRAMMATIC ACCESS
 * TOKENS`); one target's failure (`ERROR`) never hides the others.
 *
 * @example
 * ```ts
 * const targets = await checkPatTargets(config, runtime.connection, { now: Date.now });
 * ```
 */
export async function checkPatTargets(
  config: Config,
  connection: (name: string) => SnowflakeConnection,
  options: { readonly now?: () => number; readonly deadline?: number } = {},
): Promise<PatTargetReport[]> {
  const now = options.now ?? Date.now;
  return Promise.all(
    Object.entries(config.patTargets).map(async ([target, settings]): Promise<PatTargetReport> => {
      const base = { target, connection: settings.connection, user: settings.user, limit: MAX_PATS_PER_USER };
      try {
        const readiness = await readPatReadiness(connection(settings.connection).sql, settings.user, {
          ...(options.deadline ? { deadline: options.deadline } : {}),
        });
        const at = now();
        const pats = readiness.tokens.filter((t) => countsTowardCap(t, at)).length;
        const roles = Object.fromEntries(settings.roles.map((r) => [r, readiness.roles.includes(r)]));
        const facts = {
          ...base,
          type: readiness.type,
          ...(readiness.networkPolicy ? { networkPolicy: readiness.networkPolicy } : {}),
          roles,
          pats,
        };
        // Each configured role, in turn: the first problem is the one to fix first.
        for (const role of settings.roles) {
          const problem = patProblem(readiness, role, { now: at, blockedRoles: settings.blockedRoles });
          if (!problem) continue;
          const status: PatTargetStatus =
            problem.kind === 'limit'
              ? 'AT_LIMIT'
              : problem.kind === 'no-network-policy'
                ? 'NO_NETWORK_POLICY'
                : 'ROLE_NOT_GRANTED';
          return { ...facts, status, detail: problem.message };
        }
        if (pats >= NEAR)
          return {
            ...facts,
            status: 'NEAR_LIMIT',
            detail: `${settings.user} holds ${pats} of the ${MAX_PATS_PER_USER} PATs Snowflake allows; give the consuming system its own user, or shorten leases (docs/pat.md).`,
          };
        return {
          ...facts,
          status: 'OK',
          detail: `${readiness.type || 'a user of no type'}${readiness.networkPolicy ? ` under network policy ${readiness.networkPolicy}` : ''}, roles granted, ${pats} of ${MAX_PATS_PER_USER} PATs in use`,
        };
      } catch (error) {
        const code = (error as { code?: unknown })?.code;
        return {
          ...base,
          status: 'ERROR',
          detail: `The check could not read ${settings.user}: ${String((error as Error)?.message ?? error).slice(0, 300)}`,
          ...(typeof code === 'string' ? { errorCode: code } : {}),
        };
      }
    }),
  );
}
