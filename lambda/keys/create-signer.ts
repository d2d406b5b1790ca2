import type { KMSClient } from '@aws-sdk/client-kms';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { KeySource } from '../config/schema';
import type { Signer } from './signer';

/** AWS clients are created on first use, so a connection that never signs costs nothing at cold start. */
export interface SignerClients {
  readonly secretsManager: () => SecretsManagerClient | Promise<SecretsManagerClient>;
  readonly kms: () => KMSClient | Promise<KMSClient>;
  /** Environment for `file.passphraseEnv`; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly now?: () => number;
}

/** Makes the {@link Signer} of a key source, synchronously, once its module is loaded. */
export type CreateSigner = (source: KeySource, clients: SignerClients) => Signer;

/**
 * Load the signers of the key sources a config names (a Secrets Manager secret, a KMS key, a file),
 * and only those: a function whose keys are all in Secrets Manager never loads the KMS signer. The
 * factory it returns makes a signer for any of `sources`; for a kind of source not among them it throws.
 *
 * @example
 * ```ts
 * const createSigner = await loadSigners([config.connections.demo.key!]);
 * const signer = createSigner(config.connections.demo.key!, { secretsManager: () => sm, kms: () => kms });
 * ```
 */
export async function loadSigners(sources: Iterable<KeySource>): Promise<CreateSigner> {
  const kinds = new Set([...sources].map(kindOf));
  const [secretsManager, kms, file] = await Promise.all([
    kinds.has('secretsManager') ? import('./secrets-manager-signer') : undefined,
    kinds.has('kms') ? import('./kms-signer') : undefined,
    kinds.has('file') ? import('./file-signer') : undefined,
  ]);
  return (source, clients) => {
    const now = clients.now;
    const unloaded = () =>
      new Error(`The ${kindOf(source)} signer was not loaded: pass the source to loadSigners.`);
    if ('secretsManager' in source) {
      if (!secretsManager) throw unloaded();
      const { secretId, cacheTtlSeconds } = source.secretsManager;
      return new secretsManager.SecretsManagerSigner({
        client: clients.secretsManager,
        secretId,
        cacheTtlMs: cacheTtlSeconds * 1000,
        now,
      });
    }
    if ('kms' in source) {
      if (!kms) throw unloaded();
      return new kms.KmsSigner({ client: clients.kms, keyId: source.kms.keyId, now });
    }
    if (!file) throw unloaded();
    const env = clients.env ?? process.env;
    const passphrase = source.file.passphraseEnv ? env[source.file.passphraseEnv] : undefined;
    return new file.FileSigner({ path: source.file.path, passphrase, now });
  };
}

function kindOf(source: KeySource): 'secretsManager' | 'kms' | 'file' {
  return 'secretsManager' in source ? 'secretsManager' : 'kms' in source ? 'kms' : 'file';
}
