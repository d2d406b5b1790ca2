/**
 * One version of a signing key. The fingerprint and the signature always come from the same version,
 * so a JWT signed during a rotation never names one key and carries the signature of another.
 */
export interface SigningKey {
  /** `SHA256:…` fingerprint of the public key, as Snowflake's `RSA_PUBLIC_KEY_FP` shows it. */
  readonly fingerprint: string;
  /** Non-secret id of this key version (Secrets Manager VersionId, KMS key ARN, file path). */
  readonly version: string;
  /** When this key version was created, when the source knows it (used for the rotation age). */
  readonly createdAt?: Date;
  /** RSASSA-PKCS1-v1_5 with SHA-256 over `data` (the JWS signing input). */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/**
 * Where a connection's private key lives. Implementations: Secrets Manager PEM, KMS, local file.
 * Nothing outside `keys/` ever sees private key material.
 */
export interface Signer {
  /** Non-secret description of the key source, for errors and audit (`secretsManager:<id>`, `kms:<id>`). */
  readonly source: string;
  /** The current key version, cached by the implementation with a bounded TTL. */
  currentKey(): Promise<SigningKey>;
  /**
   * Forget the cached key so the next `currentKey()` reads the source again. Called when Snowflake
   * reports a fingerprint mismatch (394304): the key may have been rotated under us. With
   * `loadedBefore`, only a key read before that moment is forgotten (the revocation list's `rekey`
   * entry, written by `token-vendor rotate-now`).
   */
  refresh(options?: { readonly loadedBefore?: number }): void;
}
