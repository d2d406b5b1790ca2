import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { OAuthIntegration } from '../config/schema';
import { integrationIdentifier } from '../integrations/drift';
import { clientSecretOf } from '../oauth/client-secret';
import { requestToken } from '../oauth/token-endpoint';
import type { SqlApiClient } from '../snowflake/sql-api';
import { quoteSecretLiteral } from '../snowflake/sql-literal';
import { RotationError, type RotationStep, type StepResult } from './rotate';

export interface ClientSecretRotationDeps {
  readonly secretsManager: SecretsManagerClient;
  /** The OAuth integration whose client secret the secret holds; it names its Snowflake integration. */
  readonly integration: OAuthIntegration;
  /** The SQL API client of the integration's connection (its role owns the security integration). */
  readonly sql: SqlApiClient;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

/**
 * Keeps Snowflake's copy of an OAuth client secret in step with Secrets Manager's, as a rotation
 * function. The new secret comes from the OAuth provider, so the vendor never makes one up: an operator
 * (or the provider's tooling) stages it as the `AWSPENDING` version and starts the rotation with that
 * version's token. Each step is idempotent for its `ClientRequestToken`:
 *
 * - `createSecret`: checks that the pending version exists, holds a secret and differs from the current;
 * - `setSecret`: `ALTER SECURITY INTEGRATION … SET OAUTH_CLIENT_SECRET = '<pending>'`, the literal escaped
 *   as Snowflake reads it;
 * - `testSecret`: obtains a token from the token endpoint with the pending secret (client credentials);
 * - `finishSecret`: moves `AWSCURRENT` to the pending version, which the vendor reads next.
 *
 * The secret appears in no log, error, audit record or result; the statement carrying it is not logged.
 *
 * @example
 * ```ts
 * await new ClientSecretRotation(deps).run('setSecret', secretId, token);
 * ```
 */
export class ClientSecretRotation {
  constructor(private readonly deps: ClientSecretRotationDeps) {}

  async run(step: RotationStep, secretId: string, token: string): Promise<StepResult> {
    const { secretsManager } = this.deps;
    const description = await secretsManager.send(new DescribeSecretCommand({ SecretId: secretId }));
    const stages = description.VersionIdsToStages?.[token];
    if (!stages) {
      throw new RotationError(
        `Version ${token} of ${secretId} does not exist: stage the provider's new client secret first (aws secretsmanager put-secret-value --secret-id ${secretId} --client-request-token ${token} --version-stages AWSPENDING --secret-string …), then rotate with that token.`,
      );
    }
    if (step !== 'finishSecret' && stages.includes('AWSCURRENT')) return { step, outcome: 'already-done' };
    if (step !== 'finishSecret' && !stages.includes('AWSPENDING'))
      throw new RotationError(`Version ${token} of ${secretId} is not AWSPENDING.`);
    switch (step) {
      case 'createSecret': {
        const pending = await this.#value(secretId, { VersionId: token, VersionStage: 'AWSPENDING' });
        const current = await this.#value(secretId, { VersionStage: 'AWSCURRENT' }).catch(() => undefined);
        if (pending === current)
          throw new RotationError(
            `The pending client secret of ${secretId} is the current one: stage the new one.`,
          );
        return { step, outcome: 'done' };
      }
      case 'setSecret': {
        const pending = await this.#value(secretId, { VersionId: token, VersionStage: 'AWSPENDING' });
        const { name } = this.deps.integration.snowflakeIntegration!;
        await this.deps.sql
          .execute(
            `ALTER SECURITY INTEGRATION ${integrationIdentifier(name)} SET OAUTH_CLIENT_SECRET = ${quoteSecretLiteral(pending)}`,
            { queryTag: 'token-vendor-rotation' },
          )
          .catch((error: unknown) => {
            // Snowflake's message can quote the statement (a syntax error shows the text near it): it is
            // dropped, only its code is kept, so the secret cannot reach an error or an audit record.
            const code =
              (error as { snowflakeCode?: string; code?: string }).snowflakeCode ??
              (error as { code?: string }).code;
            throw new RotationError(
              `Snowflake refused ALTER SECURITY INTEGRATION ${integrationIdentifier(name)} SET OAUTH_CLIENT_SECRET (${code ?? 'error'}); check that the connection's role owns the integration.`,
            );
          });
        return { step, outcome: 'done' };
      }
      case 'testSecret': {
        const pending = await this.#value(secretId, { VersionId: token, VersionStage: 'AWSPENDING' });
        const { integration } = this.deps;
        if (integration.grant !== 'CLIENT_CREDENTIALS') return { step, outcome: 'done' };
        const now = this.deps.now ?? Date.now;
        await requestToken({
          endpoint: integration.tokenEndpoint,
          form: {
            grant_type: 'client_credentials',
            client_id: integration.clientId,
            client_secret: pending,
            scope: integration.allowedScopes.join(' '),
          },
          secrets: [pending],
          deadline: now() + 15_000,
          ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}),
          now,
        }).catch((error: unknown) => {
          throw new RotationError(
            `The token endpoint refused the pending client secret of ${secretId} (${(error as { code?: string }).code ?? (error as Error).name}); AWSCURRENT stays on the old one.`,
          );
        });
        return { step, outcome: 'done' };
      }
      case 'finishSecret': {
        const current = Object.entries(description.VersionIdsToStages ?? {}).find(([, s]) =>
          s.includes('AWSCURRENT'),
        )?.[0];
        if (current === token) return { step, outcome: 'already-done' };
        await secretsManager.send(
          new UpdateSecretVersionStageCommand({
            SecretId: secretId,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: token,
            ...(current ? { RemoveFromVersionId: current } : {}),
          }),
        );
        return { step, outcome: 'done' };
      }
    }
  }

  async #value(secretId: string, version: { VersionId?: string; VersionStage: string }): Promise<string> {
    let text: string | undefined;
    try {
      text = (
        await this.deps.secretsManager.send(new GetSecretValueCommand({ SecretId: secretId, ...version }))
      ).SecretString;
    } catch (error) {
      throw new RotationError(
        `The ${version.VersionStage} client secret of ${secretId} cannot be read (${(error as Error).name}).`,
      );
    }
    const field = this.deps.integration.clientSecret?.secretsManager?.field;
    return clientSecretOf(text, secretId, field);
  }
}
