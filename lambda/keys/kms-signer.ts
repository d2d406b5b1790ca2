import { createHash } from 'node:crypto';
import type { GetPublicKeyCommandOutput, KMSClient } from '@aws-sdk/client-kms';
import { type Lazy, loadKms, resolveLazy } from '../aws/sdk';
import { publicKeyFingerprint } from '../snowflake/fingerprint';
import { keySourceError } from './aws-errors';
import { CachedKey } from './cached-key';
import { KeyErrorCode, KeyMaterialError } from './errors';
import type { Signer, SigningKey } from './signer';

const RSA_SPECS = new Set(['RSA_2048', 'RSA_3072', 'RSA_4096']);
const ALGORITHM = 'RSASSA_PKCS1_V1_5_SHA_256';

export interface KmsSignerOptions {
  readonly client: Lazy<KMSClient>;
  /** Key id, key ARN, alias name or alias ARN of an asymmetric RSA SIGN_VERIFY key. */
  readonly keyId: string;
  /** How long the public key and fingerprint are kept; default 1 hour (KMS key material never changes). */
  readonly cacheTtlMs?: number;
  readonly now?: () => number;
}

/**
 * A signer whose private key never leaves KMS: JWTs are signed with `kms:Sign`
 * (`RSASSA_PKCS1_V1_5_SHA_256` over the SHA-256 digest of the signing input), and the fingerprint is
 * computed from `kms:GetPublicKey`, cached with the key's spec check.
 *
 * @example
 * ```ts
 * const signer = new KmsSigner({ client: new KMSClient({}), keyId: 'alias/snowflake-svc' });
 * ```
 */
export class KmsSigner implements Signer {
  readonly source: string;
  readonly #cache: CachedKey;

  constructor(private readonly options: KmsSignerOptions) {
    this.source = `kms:${options.keyId}`;
    this.#cache = new CachedKey(() => this.#describe(), options.cacheTtlMs ?? 60 * 60_000, options.now);
  }

  currentKey(): Promise<SigningKey> {
    return this.#cache.get();
  }

  refresh(options?: { readonly loadedBefore?: number }): void {
    this.#cache.invalidate(options?.loadedBefore);
  }

  /** When the KMS key was created: the key's age for the rotation check. Needs `kms:DescribeKey`. */
  async createdAt(): Promise<Date | undefined> {
    try {
      const { DescribeKeyCommand } = await loadKms();
      const answer = await (await resolveLazy(this.options.client)).send(
        new DescribeKeyCommand({ KeyId: this.options.keyId }),
      );
      return answer.KeyMetadata?.CreationDate;
    } catch (error) {
      throw keySourceError(error, this.source);
    }
  }

  async #describe(): Promise<SigningKey> {
    const { keyId } = this.options;
    const client = await resolveLazy(this.options.client);
    const { GetPublicKeyCommand, SignCommand } = await loadKms();
    let answer: GetPublicKeyCommandOutput;
    try {
      answer = await client.send(new GetPublicKeyCommand({ KeyId: keyId }));
    } catch (error) {
      throw keySourceError(error, this.source);
    }
    const spec = answer.KeySpec ?? answer.CustomerMasterKeySpec;
    if (!spec || !RSA_SPECS.has(spec)) {
      throw new KeyMaterialError(
        KeyErrorCode.KmsWrongSpec,
        `${this.source} has key spec ${spec ?? 'unknown'}; Snowflake needs an RSA key of at least 2048 bits (KeySpec RSA_2048).`,
      );
    }
    if (answer.KeyUsage !== 'SIGN_VERIFY' || !(answer.SigningAlgorithms ?? []).includes(ALGORITHM)) {
      throw new KeyMaterialError(
        KeyErrorCode.KmsWrongUsage,
        `${this.source} has key usage ${answer.KeyUsage ?? 'unknown'}; create it with KeyUsage SIGN_VERIFY so it can sign with ${ALGORITHM}.`,
      );
    }
    if (!answer.PublicKey) {
      throw new KeyMaterialError(
        KeyErrorCode.SourceUnavailable,
        `${this.source} returned no public key; retry later.`,
      );
    }
    const keyArn = answer.KeyId ?? keyId;
    return {
      fingerprint: publicKeyFingerprint(answer.PublicKey),
      version: `kms:${keyArn}`,
      sign: async (data) => {
        try {
          const signed = await client.send(
            new SignCommand({
              KeyId: keyArn,
              Message: createHash('sha256').update(data).digest(),
              MessageType: 'DIGEST',
              SigningAlgorithm: ALGORITHM,
            }),
          );
          if (!signed.Signature) throw new Error('KMS Sign returned no signature');
          return signed.Signature;
        } catch (error) {
          throw keySourceError(error, this.source);
        }
      },
    };
  }
}
