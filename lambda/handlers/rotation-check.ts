import type { Metrics } from '@aws-lambda-powertools/metrics';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { AuditLog } from '../audit/audit-log';
import { checkIntegrations, type IntegrationReport } from '../integrations/drift';
import { checkPatTargets, type PatTargetReport } from '../pat/readiness';
import { checkKeys, type RotationReport } from '../rotation/check';
import { auditLog, defaultRuntime, metrics, type Runtime } from '../runtime';
import { deadlineOf } from './invocation';

/** Metric names of the rotation check (namespace `TokenVendor`), shared with the CDK alarms. */
export const RotationMetric = {
  KeysNotRegistered: 'KeysNotRegistered',
  KeysRotationDue: 'KeysRotationDue',
  KeysOverdue: 'KeysOverdue',
  KeyChecksFailed: 'KeyChecksFailed',
  WorkloadIdentityMismatches: 'WorkloadIdentityMismatches',
  IntegrationsDrifted: 'IntegrationsDrifted',
  IntegrationsDisabled: 'IntegrationsDisabled',
  IntegrationsNotFound: 'IntegrationsNotFound',
  IntegrationChecksFailed: 'IntegrationChecksFailed',
  KeyAgeDays: 'KeyAgeDays',
  /** PAT targets Snowflake would refuse a PAT for now (no network policy, role not granted, at the cap), or not checked. */
  PatTargetsNotReady: 'PatTargetsNotReady',
} as const;

export interface RotationCheckDeps {
  readonly runtime: () =>
    | Pick<Runtime, 'config' | 'connection'>
    | Promise<Pick<Runtime, 'config' | 'connection'>>;
  readonly audit: AuditLog;
  readonly metrics: Metrics;
  readonly now?: () => number;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** `TOKEN_VENDOR_SIGN_IN_ROLE_ARNS`: the deployed functions' roles (comma-separated; set by the stack). */
function signInRoleArns(env: Readonly<Record<string, string | undefined>>): string[] {
  return (env.TOKEN_VENDOR_SIGN_IN_ROLE_ARNS ?? '')
    .split(',')
    .map((arn) => arn.trim())
    .filter((arn) => /^arn:[^:]+:iam::\d{12}:role\//.test(arn));
}

/**
 * The scheduled key check (EventBridge): for each connection, the key's fingerprint, its slot in
 * `DESC USER`, its age and status. Publishes EMF metrics (totals for the alarms, and per-connection
 * `KeyAgeDays`), writes one `key.rotation-checked` audit record, and returns the report.
 *
 * @example
 * ```ts
 * export const handler = createRotationCheckHandler({ runtime: defaultRuntime, audit, metrics });
 * ```
 */
export function createRotationCheckHandler(deps: RotationCheckDeps) {
  const now = deps.now ?? Date.now;
  return middy<
    unknown,
    RotationReport & { integrations: IntegrationReport[]; patTargets: PatTargetReport[] },
    Error,
    Context
  >()
    .use(logMetrics(deps.metrics))
    .handler(async (_event, context) => {
      const started = now();
      const runtime = await deps.runtime();
      const report = await checkKeys(runtime.config, runtime.connection, {
        now,
        deadline: deadlineOf(context, started),
        signInRoleArns: signInRoleArns(deps.env ?? process.env),
      });
      // The drift check of the Snowflake security integrations the OAuth integrations mirror.
      const integrations = await checkIntegrations(runtime.config, runtime.connection, {
        deadline: deadlineOf(context, started),
      });
      // Snowflake's PAT rules, for every PAT target (before a vend meets them).
      const patTargets = await checkPatTargets(runtime.config, runtime.connection, {
        now,
        deadline: deadlineOf(context, started),
      });
      deps.metrics.addMetric(
        RotationMetric.PatTargetsNotReady,
        MetricUnit.Count,
        patTargets.filter((t) => t.status !== 'OK' && t.status !== 'NEAR_LIMIT').length,
      );
      const integrationCount = (status: string) => integrations.filter((i) => i.status === status).length;
      deps.metrics.addMetric(
        RotationMetric.IntegrationsDrifted,
        MetricUnit.Count,
        integrationCount('DRIFTED'),
      );
      deps.metrics.addMetric(
        RotationMetric.IntegrationsDisabled,
        MetricUnit.Count,
        integrationCount('DISABLED'),
      );
      deps.metrics.addMetric(
        RotationMetric.IntegrationsNotFound,
        MetricUnit.Count,
        integrationCount('NOT_FOUND'),
      );
      deps.metrics.addMetric(
        RotationMetric.IntegrationChecksFailed,
        MetricUnit.Count,
        integrationCount('ERROR'),
      );
      const count = (status: string) => report.connections.filter((c) => c.status === status).length;
      deps.metrics.addMetric(RotationMetric.KeysNotRegistered, MetricUnit.Count, count('NOT_REGISTERED'));
      deps.metrics.addMetric(RotationMetric.KeysRotationDue, MetricUnit.Count, count('ROTATION_DUE'));
      deps.metrics.addMetric(RotationMetric.KeysOverdue, MetricUnit.Count, count('OVERDUE'));
      deps.metrics.addMetric(RotationMetric.KeyChecksFailed, MetricUnit.Count, count('ERROR'));
      deps.metrics.addMetric(
        RotationMetric.WorkloadIdentityMismatches,
        MetricUnit.Count,
        count('WIF_MISMATCH'),
      );
      for (const connection of report.connections) {
        if (connection.ageDays === undefined) continue;
        const single = deps.metrics.singleMetric();
        single.addDimension('connection', connection.connection);
        single.addMetric(RotationMetric.KeyAgeDays, MetricUnit.Count, connection.ageDays);
      }
      const notOk = [
        ...report.connections.filter((c) => c.status !== 'OK').map((c) => `${c.connection}:${c.status}`),
        ...integrations
          .filter((i) => i.status !== 'OK')
          .map((i) => `integration:${i.integration}:${i.status}`),
        ...patTargets.filter((t) => t.status !== 'OK').map((t) => `pat:${t.target}:${t.status}`),
      ];
      deps.audit.write({
        event: 'key.rotation-checked',
        time: new Date(started).toISOString(),
        requestId: context.awsRequestId ?? 'unknown',
        trigger: 'schedule',
        durationMs: now() - started,
        ...(notOk.length > 0 ? { errorCode: notOk.join(',') } : {}),
        detail: {
          connections: report.connections.map(
            ({ connection, status, authentication, roleArn, slot, ageDays, fingerprint, errorCode }) => ({
              connection,
              status,
              authentication,
              roleArn,
              slot,
              ageDays,
              fingerprint,
              errorCode,
            }),
          ),
          // Property names and non-secret values only: DESCRIBE never shows the client secret.
          integrations: integrations.map(
            ({ integration, snowflakeIntegration, status, differences, errorCode }) => ({
              integration,
              snowflakeIntegration,
              status,
              differences,
              errorCode,
            }),
          ),
          patTargets: patTargets.map(
            ({ target, user, status, type, networkPolicy, roles, pats, errorCode }) => ({
              target,
              user,
              status,
              type,
              networkPolicy,
              roles,
              pats,
              errorCode,
            }),
          ),
        },
      });
      return { ...report, integrations, patTargets };
    });
}

/** The Lambda entry point for the EventBridge schedule. */
export const handler = createRotationCheckHandler({ runtime: defaultRuntime, audit: auditLog, metrics });
