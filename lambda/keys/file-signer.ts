import { readFile, stat } from 'node:fs/promises';
import { CachedKey } from './cached-key';
import { KeyErrorCode, KeyMaterialError } from './errors';
import { unprotected } from './file-mode';
import { loadPrivateKey, localSigningKey } from './private-key';
import type { Signer, SigningKey } from './signer';

export interface FileSignerOptions {
  readonly path: string;
  readonly passphrase?: string;
  /** How long a read key is kept before the file is read again; default 60 s. */
  readonly cacheTtlMs?: number;
  readonly now?: () => number;
}

/**
 * A signer over a PKCS#8 PEM file on local disk. For the CLI and the local stack only: in AWS the key
 * lives in Secrets Manager or KMS.
 *
 * @example
 * ```ts
 * const signer = new FileSigner({ path: 'rsa_key.p8', passphrase: process.env.PRIVATE_KEY_PASSPHRASE });
 * ```
 */
export class FileSigner implements Signer {
  readonly source: string;
  readonly #cache: CachedKey;

  constructor(private readonly options: FileSignerOptions) {
    this.source = `file:${options.path}`;
    this.#cache = new CachedKey(() => this.#read(), options.cacheTtlMs ?? 60_000, options.now);
  }

  currentKey(): Promise<SigningKey> {
    return this.#cache.get();
  }

  refresh(options?: { readonly loadedBefore?: number }): void {
    this.#cache.invalidate(options?.loadedBefore);
  }

  async #read(): Promise<SigningKey> {
    let pem: string;
    let modified: Date;
    let mode: number;
    try {
      pem = await readFile(this.options.path, 'utf8');
      ({ mtime: modified, mode } = await stat(this.options.path));
    } catch (error) {
      throw new KeyMaterialError(
        KeyErrorCode.FileNotFound,
        `Cannot read the private key file ${this.options.path}.`,
        {
          cause: error,
        },
      );
    }
    // As OpenSSH refuses "UNPROTECTED PRIVATE KEY FILE"s: a key others can read may already be theirs.
    const problem = unprotected(this.options.path, mode);
    if (problem) throw new KeyMaterialError(KeyErrorCode.FileUnprotected, problem);
    // The file's modification time stands in for the key's creation time (the rotation check's age).
    return localSigningKey(loadPrivateKey(pem, this.options.passphrase, this.source), this.source, modified);
  }
}
