import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type * as z from 'zod/mini';
import { loadSecretsManager } from '../aws/sdk';
import type { SecretRefSchema } from '../config/schema';
import { SingleFlight } from '../single-flight';
import { OAuthError, OAuthErrorCode } from './errors';

export type SecretRef = z.output<typeof SecretRefSchema>;

/**
 * Reads an OAuth client secret from Secrets Manager (the whole SecretString, or one JSON field of it)
 * or, for local use, an environment variable. Cached for `ttlMs` so a rotated secret is picked up.
 *
 * @example
 * ```ts
 * const secret = new ClientSecret(ref, { secretsManager: () => sm }).get();
 * ```
 */
export class ClientSecret {
  readonly #flight = new SingleFlight<'secret', string>();
  #cached: { value: string; at: number } | undefined;

  constructor(
    private readonly ref: SecretRef,
    private readonly deps: {
      secretsManager: () => SecretsManagerClient | Promise<SecretsManagerClient>;
      env?: Readonly<Record<string, string | undefined>>;
      now?: () => number;
      ttlMs?: number;
    },
  ) {}

  async get(): Promise<string> {
    const now = (this.deps.now ?? Date.now)();
    if (this.#cached && now - this.#cached.at < (this.deps.ttlMs ?? 5 * 60_000)) return this.#cached.value;
    // Concurrent token requests after expiry share one Secrets Manager read.
    const { value } = await this.#flight.run('secret', async () => {
      const read = await this.#read();
      this.#cached = { value: read, at: now };
      return read;
    });
    return value;
  }

  async #read(): Promise<string> {
    if (this.ref.env) {
      const value = (this.deps.env ?? process.env)[this.ref.env];
      if (!value)
        throw new OAuthError(
          OAuthErrorCode.SecretUnavailable,
          `The client secret variable ${this.ref.env} is not set.`,
        );
      return value;
    }
    const { secretId, field } = this.ref.secretsManager!;
    let text: string | undefined;
    try {
      const { GetSecretValueCommand } = await loadSecretsManager();
      text = (
        await (await this.deps.secretsManager()).send(new GetSecretValueCommand({ SecretId: secretId }))
      ).SecretString;
    } catch (error) {
      throw new OAuthError(
        OAuthErrorCode.SecretUnavailable,
        `The client secret ${secretId} cannot be read (${(error as Error).name}).`,
        {},
        { cause: error },
      );
    }
    return clientSecretOf(text, secretId, field);
  }
}

/**
 * The client secret in a SecretString: the whole string, or one JSON field of it.
 *
 * @example
 * ```ts
 * clientSecretOf('{"clientSecret":"s"}', 'oauth/servicenow', 'clientSecret'); // 's'
 * ```
 */
export function clientSecretOf(
  text: string | undefined,
  secretId: string,
  field: string | undefined,
): string {
  if (!text)
    throw new OAuthError(OAuthErrorCode.SecretUnavailable, `The client secret ${secretId} is empty.`);
  if (!field) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new OAuthError(
      OAuthErrorCode.SecretUnavailable,
      `The client secret ${secretId} is not JSON, so it has no field "${field}".`,
    );
  }
  const value = (parsed as Record<string, unknown>)[field];
  if (typeof value !== 'string' || value === '') {
    throw new OAuthError(
      OAuthErrorCode.SecretUnavailable,
      `The client secret ${secretId} has no string field "${field}".`,
    );
  }
  return value;
}
