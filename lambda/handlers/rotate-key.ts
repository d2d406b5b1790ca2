import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { AuditLog } from '../audit/audit-log';
import { TokenVendorError } from '../errors';
import { ClientSecretRotation } from '../rotation/client-secret';
import { KeyRotation, type RotationStep, type StepResult } from '../rotation/rotate';
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
}

/**
 * The Secrets Manager rotation function for connection keys. It finds the connection whose
 * `key.secretsManager.secretId` names the secret (by the id in the event, its ARN or its name), runs
 * the step, writes a `key.rotated` audit record, and after `finishSecret` drops its own cached key.
 *
 * @example
 * ```ts
 * export const handler = createRotateKeyHandler({ runtime: defaultRuntime, audit });
 * ```
 */
export function createRotateKeyHandler(deps: RotateKeyDeps) {
  const now = deps.now ?? Date.now;
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
      const result = await new KeyRotation({
        secretsManager: await runtime.secretsManager(),
        connection: config,
        sql,
        sqlWith: (signer) => runtime.sqlClient(name, signer),
        now,
      }).run(event.Step, event.SecretId, event.ClientRequestToken);
      if (event.Step === 'finishSecret') signer?.refresh();
      record(
        {},
        { connection: name, outcome: result.outcome, fingerprint: result.fingerprint, slot: result.slot },
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
