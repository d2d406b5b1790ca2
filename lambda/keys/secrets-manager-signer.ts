import type { GetSecretValueCommandOutput, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type Lazy, loadSecretsManager, resolveLazy } from '../aws/sdk';
import { keySourceError } from './aws-errors';
import { CachedKey } from './cached-key';
import { KeyErrorCode, KeyMaterialError } from './errors';
import { loadPrivateKey, localSigningKey } from './private-key';
import type { Signer, SigningKey } from './signer';

export interface SecretsManagerSignerOptions {
  readonly client: Lazy<SecretsManagerClient>;
  readonly secretId: string;
  /** Which version to read: `AWSCURRENT` (default) or `AWSPENDING` (the rotation function's test step). */
  readonly versionStage?: string;
  readonly versionId?: string;
  /** How long a read key is kept before Secrets Manager is asked again; default 5 minutes. */
  readonly cacheTtlMs?: number;
  readonly now?: () => number;
}

/** The JSON form of the secret; a plain PEM SecretString is accepted too. */
export interface PrivateKeySecret {
  readonly privateKey: string;
  readonly passphrase?: string;
}

/**
 * A signer whose PKCS#8 private key lives in a Secrets Manager secret. The SecretString is either the
 * PEM itself or JSON `{"privateKey": "-----BEGIN …", "passphrase": "…"}`.
 *
 * The key is cached for a bounded TTL so a rotated secret is picked up without a deploy, and
 * `refresh()` forces a re-read when Snowflake reports that the fingerprint does not match.
 *
 * @example
 * ```ts
 * const signer = new SecretsManagerSigner({ client: new SecretsManagerClient({}), secretId: 'prod/snowflake/svc' });
 * const key = await signer.currentKey();
 * ```
 */
export class SecretsManagerSigner implements Signer {
  readonly source: string;
  readonly #cache: CachedKey;

  constructor(private readonly options: SecretsManagerSignerOptions) {
    this.source = `secretsManager:${options.secretId}`;
    this.#cache = new CachedKey(() => this.#read(), options.cacheTtlMs ?? 5 * 60_000, options.now);
  }

  currentKey(): Promise<SigningKey> {
    return this.#cache.get();
  }

  refresh(options?: { readonly loadedBefore?: number }): void {
    this.#cache.invalidate(options?.loadedBefore);
  }

  async #read(): Promise<SigningKey> {
    const { client, secretId, versionId } = this.options;
    const versionStage = versionId ? undefined : (this.options.versionStage ?? 'AWSCURRENT');
    let answer: GetSecretValueCommandOutput;
    try {
      const { GetSecretValueCommand } = await loadSecretsManager();
      answer = await (await resolveLazy(client)).send(
        new GetSecretValueCommand({ SecretId: secretId, VersionStage: versionStage, VersionId: versionId }),
      );
    } catch (error) {
      throw keySourceError(error, this.source);
    }
    const text =
      answer.SecretString ?? (answer.SecretBinary ? Buffer.from(answer.SecretBinary).toString('utf8') : '');
    const secret = parsePrivateKeySecret(text, this.source);
    const version = `${this.source}:${answer.VersionId ?? versionStage ?? 'unknown'}`;
    return localSigningKey(
      loadPrivateKey(secret.privateKey, secret.passphrase, this.source),
      version,
      answer.CreatedDate,
    );
  }
}

/**
 * Read a private-key secret: a PEM string, or JSON with `privateKey` and an optional `passphrase`.
 *
 * @example
 * ```ts
 * parsePrivateKeySecret(JSON.stringify({ privateKey: pem, passphrase }), 'secretsManager:x');
 * ```
 */
export function parsePrivateKeySecret(text: string, source: string): PrivateKeySecret {
  const trimmed = text.trim();
  if (trimmed === '') {
    throw new KeyMaterialError(KeyErrorCode.SecretUnreadable, `${source} is empty.`);
  }
  if (!trimmed.startsWith('{')) return { privateKey: trimmed };
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    // Never echo the parser message: it quotes the secret's text.
    throw new KeyMaterialError(
      KeyErrorCode.SecretUnreadable,
      `${source} starts with "{" but is not valid JSON.`,
    );
  }
  const record = parsed as Record<string, unknown>;
  if (typeof record.privateKey !== 'string' || record.privateKey === '') {
    throw new KeyMaterialError(
      KeyErrorCode.SecretUnreadable,
      `${source} is JSON without a "privateKey" string; expected {"privateKey": "-----BEGIN …", "passphrase": "…"}.`,
    );
  }
  if (record.passphrase !== undefined && typeof record.passphrase !== 'string') {
    throw new KeyMaterialError(
      KeyErrorCode.SecretUnreadable,
      `${source} has a "passphrase" that is not a string.`,
    );
  }
  return { privateKey: record.privateKey, ...(record.passphrase ? { passphrase: record.passphrase } : {}) };
}
