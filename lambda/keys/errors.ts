import { TokenVendorError } from '../errors';

/** Stable codes for problems with key material or key sources. */
export const KeyErrorCode = {
  /** The Secrets Manager secret (or its requested stage/version) does not exist. */
  SecretNotFound: 'KEY_SECRET_NOT_FOUND',
  /** The secret exists but holds nothing usable (empty, binary garbage, JSON without `privateKey`). */
  SecretUnreadable: 'KEY_SECRET_UNREADABLE',
  /** The local key file does not exist or cannot be read. */
  FileNotFound: 'KEY_FILE_NOT_FOUND',
  /** The local key file is readable or writable by group or others (refused, as OpenSSH does). */
  FileUnprotected: 'KEY_FILE_UNPROTECTED',
  /** The key is encrypted and no passphrase was supplied. */
  PassphraseRequired: 'KEY_PASSPHRASE_REQUIRED',
  /** The passphrase does not decrypt the key. */
  WrongPassphrase: 'KEY_WRONG_PASSPHRASE',
  /** The PEM is PKCS#1 (`BEGIN RSA PRIVATE KEY`) or another non-PKCS#8 format. */
  NotPkcs8: 'KEY_NOT_PKCS8',
  /** Not a PEM private key at all. */
  Malformed: 'KEY_MALFORMED',
  /** A PKCS#8 key of another type (EC, Ed25519, …). */
  NotRsa: 'KEY_NOT_RSA',
  /** An RSA key under 2048 bits. */
  TooSmall: 'KEY_TOO_SMALL',
  /** The KMS key is not an RSA key of at least 2048 bits. */
  KmsWrongSpec: 'KMS_KEY_WRONG_SPEC',
  /** The KMS key is not SIGN_VERIFY or cannot sign with RSASSA_PKCS1_V1_5_SHA_256. */
  KmsWrongUsage: 'KMS_KEY_WRONG_USAGE',
  /** The role may not read the key (AccessDenied, KMS key disabled, …). */
  AccessDenied: 'KEY_SOURCE_ACCESS_DENIED',
  /** Secrets Manager or KMS failed or timed out; retrying may help. */
  SourceUnavailable: 'KEY_SOURCE_UNAVAILABLE',
} as const;
export type KeyErrorCode = (typeof KeyErrorCode)[keyof typeof KeyErrorCode];

/** Key material or a key source that cannot be used. The message names the source, never the material. */
export class KeyMaterialError extends TokenVendorError {
  declare readonly code: KeyErrorCode;

  constructor(code: KeyErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
