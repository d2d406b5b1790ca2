import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { AuditLog } from '../audit/audit-log';
import { TokenVendorError } from '../errors';
import { ClientSecretRotation } from '../rotation/client-secret';
import { KeyRotation, RotationError, type RotationStep, type StepResult } from '../rotation/rotate';
import {
  announceRekey,
  isRotateNow,
  readRekey,
  recordRemoval,
  removeOtherKey,
  settleMs,
} from '../rotation/rotate-now';
import { auditLog, defaultRuntime, type Runtime } from '../runtime';
import { InvalidRequestError } from '../vending/errors';

/** The event Secrets Manager sends a rotation function. */
export interface RotationEvent {
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly Step: RotationStep;
}

const STEPS = new Set<RotationStep>(['createSecret', 'setSecret', 'testSecret', 'finishSecret']);

export interface RotateKeyDeps {
  readonly runtime: () => Runtime | Promise<Runtime>;
  readonly audit: AuditLog;
  readonly now?: () => number;
  /** How a rotate-now waits for the fleet to apply its `rekey` entry (default: a timer). */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** What a rotate-now's last step did about the old key, for the audit record. */
interface PreviousKey {
  readonly previousKey: 'removed' | 'already-gone' | 'kept';
  readonly removedSlot?: 1 | 2;
  readonly removedFingerprint?: string;
  readonly why?: string;
}

/**
 * The Secrets Manager rotation function for connection keys. It finds the connection whose
 * `key.secretsManager.secretId` names the secret (by the id in the event, its ARN or its name), runs
 * the step, writes a `key.rotated` audit record, and after `finishSecret` drops its own cached key. A
 * rotation started by `token-vendor rotate-now` (its version id starts with `rotate-now-`) also removes
 * the old key from Snowflake once the fleet has stopped using it (rotation/rotate-now.ts).
 *
 * @example
 * ```ts
 * export const handler = createRotateKeyHandler({ runtime: defaultRuntime, audit });
 * ```
 */
export function createRotateKeyHandler(deps: RotateKeyDeps) {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  return middy<RotationEvent, StepResult, Error, Context>().handler(async (event, context) => {
    const started = now();
    const record = (extra: Record<string, unknown>, detail: Record<string, unknown>) =>
      deps.audit.write({
        event: 'key.rotated',
        time: new Date(started).toISOString(),
        requestId: context.awsRequestId ?? 'unknown',
        trigger: 'rotation',
        durationMs: now() - started,
        ...extra,
        detail: { step: event?.Step, versionId: event?.ClientRequestToken, ...detail },
      });
    try {
      if (
        !event ||
        typeof event.SecretId !== 'string' ||
        typeof event.ClientRequestToken !== 'string' ||
        !STEPS.has(event.Step)
      ) {
        throw new InvalidRequestError(
          'Expected a Secrets Manager rotation event {SecretId, ClientRequestToken, Step}.',
        );
      }
      const runtime = await deps.runtime();
      const target = await rotationTargetFor(runtime, event.SecretId);
      if (target.kind === 'client-secret') {
        const integration = runtime.config.oauthIntegrations[target.name]!;
        const result = await new ClientSecretRotation({
          secretsManager: await runtime.secretsManager(),
          integration,
          sql: runtime.connection(integration.snowflakeIntegration!.connection).sql,
          now,
        }).run(event.Step, event.SecretId, event.ClientRequestToken);
        record({ event: 'client-secret.rotated' }, { integration: target.name, outcome: result.outcome });
        return result;
      }
      const name = target.name;
      const { sql, signer, config } = runtime.connection(name);
      const rotation = new KeyRotation({
        secretsManager: await runtime.secretsManager(),
        connection: config,
        sql,
        sqlWith: (signer) => runtime.sqlClient(name, signer),
        now,
      });
      const result = await rotation.run(event.Step, event.SecretId, event.ClientRequestToken);
      if (event.Step === 'finishSecret') signer?.refresh();
      const previous =
        event.Step === 'finishSecret' && isRotateNow(event.ClientRequestToken)
          ? await removePreviousKey(
              runtime,
              name,
              await rotation.fingerprintOf(event.SecretId, event.ClientRequestToken),
              event.ClientRequestToken,
              { now, sleep },
            )
          : undefined;
      record(
        {},
        {
          connection: name,
          outcome: result.outcome,
          fingerprint: result.fingerprint,
          slot: result.slot,
          ...(previous ? { rotateNow: true, ...previous } : {}),
        },
      );
      return result;
    } catch (error) {
      const code = error instanceof TokenVendorError ? error.code : 'INTERNAL';
      record(
        {
          errorCode: code,
          errorMessage: error instanceof TokenVendorError ? error.message : 'unexpected error',
        },
        {},
      );
      throw error;
    }
  });
}

/**
 * A rotate-now's last step, after `AWSCURRENT` moved to `version`: tell the fleet through a `rekey`
 * entry, wait until every container has applied it, then remove the key that is not the new one. On a
 * retry of the step (Secrets Manager retries a failed one), an entry already written for this version is
 * not written again, and a removal already recorded is not repeated.
 */
async function removePreviousKey(
  runtime: Runtime,
  connection: string,
  newFingerprint: string,
  version: string,
  clock: { now: () => number; sleep: (ms: number) => Promise<void> },
): Promise<PreviousKey> {
  const list = runtime.revocationTable;
  if (!list)
    return {
      previousKey: 'kept',
      why: 'no revocation list to tell every container (revocations.enabled); remove the old key by hand once every container has read the new one (key cacheTtlSeconds)',
    };
  const table = { client: await list.client(), tableName: list.tableName };
  let entry = await readRekey(table, connection);
  if (entry?.version === version && entry.removedAt !== undefined)
    return {
      previousKey: entry.removedSlot ? 'removed' : 'already-gone',
      ...(entry.removedSlot ? { removedSlot: entry.removedSlot } : {}),
      ...(entry.removedFingerprint ? { removedFingerprint: entry.removedFingerprint } : {}),
    };
  if (entry?.version !== version) {
    const at = clock.now();
    await announceRekey(table, {
      connection,
      version,
      at,
      by: 'rotate-key function (token-vendor rotate-now)',
    });
    entry = { connection, version, at, by: '' };
  }
  const wait = entry.at + settleMs(runtime.config.revocations.refreshSeconds) - clock.now();
  if (wait > 0) await clock.sleep(wait);
  const { sql, config } = runtime.connection(connection);
  try {
    const removed = await removeOtherKey(sql, config.user, newFingerprint);
    await recordRemoval(table, connection, version, {
      at: clock.now(),
      ...(removed ? { slot: removed.slot, fingerprint: removed.fingerprint } : {}),
    });
    return removed
      ? { previousKey: 'removed', removedSlot: removed.slot, removedFingerprint: removed.fingerprint }
      : { previousKey: 'already-gone' };
  } catch (error) {
    const why = error instanceof TokenVendorError ? error.message : 'the old key could not be removed';
    await recordRemoval(table, connection, version, { error: why }).catch(() => {});
    throw error instanceof TokenVendorError ? error : new RotationError(why);
  }
}

type RotationTarget = { kind: 'key'; name: string } | { kind: 'client-secret'; name: string };

/**
 * What the secret holds: a connection's key, or the client secret of an OAuth integration that mirrors a
 * Snowflake security integration (matched by the id in the event, its ARN or its name).
 */
async function rotationTargetFor(runtime: Runtime, secretId: string): Promise<RotationTarget> {
  const bySecret = (ids: readonly (string | undefined)[]): RotationTarget | undefined => {
    const key = Object.entries(runtime.config.connections).find(
      ([, c]) => !!c.key && 'secretsManager' in c.key && ids.includes(c.key.secretsManager.secretId),
    )?.[0];
    if (key) return { kind: 'key', name: key };
    const integration = Object.entries(runtime.config.oauthIntegrations).find(
      ([, i]) => !!i.snowflakeIntegration && ids.includes(i.clientSecret?.secretsManager?.secretId),
    )?.[0];
    return integration ? { kind: 'client-secret', name: integration } : undefined;
  };
  const direct = bySecret([secretId]);
  if (direct) return direct;
  const description = await (await runtime.secretsManager()).send(
    new DescribeSecretCommand({ SecretId: secretId }),
  );
  const found = bySecret([description.ARN, description.Name]);
  if (!found)
    throw new InvalidRequestError(
      `No connection keeps its key, and no integration with a snowflakeIntegration its client secret, in secret ${secretId}.`,
    );
  return found;
}

/** The Lambda entry point for Secrets Manager rotation. */
export const handler = createRotateKeyHandler({ runtime: defaultRuntime, audit: auditLog });
