import type { KMSClient } from '@aws-sdk/client-kms';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { KeySource } from '../config/schema';
import { FileSigner } from './file-signer';
import { KmsSigner } from './kms-signer';
import { SecretsManagerSigner } from './secrets-manager-signer';
import type { Signer } from './signer';

/** AWS clients are created on first use, so a connection that never signs costs nothing at cold start. */
export interface SignerClients {
  readonly secretsManager: () => SecretsManagerClient | Promise<SecretsManagerClient>;
  readonly kms: () => KMSClient | Promise<KMSClient>;
  /** Environment for `file.passphraseEnv`; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly now?: () => number;
}

/**
 * The {@link Signer} for a configured key source.
 *
 * @example
 * ```ts
 * const signer = createSigner(config.connections.demo.key, { secretsManager: () => sm, kms: () => kms });
 * ```
 */
export function createSigner(source: KeySource, clients: SignerClients): Signer {
  const now = clients.now;
  if ('secretsManager' in source) {
    const { secretId, cacheTtlSeconds } = source.secretsManager;
    return new SecretsManagerSigner({
      client: clients.secretsManager,
      secretId,
      cacheTtlMs: cacheTtlSeconds * 1000,
      now,
    });
  }
  if ('kms' in source) return new KmsSigner({ client: clients.kms, keyId: source.kms.keyId, now });
  const env = clients.env ?? process.env;
  const passphrase = source.file.passphraseEnv ? env[source.file.passphraseEnv] : undefined;
  return new FileSigner({ path: source.file.path, passphrase, now });
}
