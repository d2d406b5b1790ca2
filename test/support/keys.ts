import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** An RSA key pair generated at run time; no private key is ever committed. */
export interface TestKeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** PKCS#8 PEM, unencrypted. */
  readonly pkcs8Pem: string;
}

/**
 * A fresh RSA key pair (2048 bits unless asked otherwise).
 *
 * @example
 * ```ts
 * const { pkcs8Pem, publicKey } = rsaKeyPair();
 * ```
 */
export function rsaKeyPair(modulusLength = 2048): TestKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength });
  return { privateKey, publicKey, pkcs8Pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** The key as encrypted PKCS#8 (AES-256-CBC, PBES2), as `openssl pkcs8 -topk8 -v2 aes256` writes it. */
export function encryptedPkcs8(privateKey: KeyObject, passphrase: string): string {
  return privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }).toString();
}

const fixtureKeys = new Map<string, TestKeyPair>();

/**
 * A key pair generated at run time once per test file and role (`'emulator'`, `'kms'`): fixtures that
 * only need *a* key share it instead of paying an RSA generation per test.
 *
 * @example
 * ```ts
 * const key = fixtureKeyPair('kms');
 * ```
 */
export function fixtureKeyPair(role: string): TestKeyPair {
  let pair = fixtureKeys.get(role);
  if (!pair) {
    pair = rsaKeyPair();
    fixtureKeys.set(role, pair);
  }
  return pair;
}

const created: string[] = [];

/**
 * A private temp directory for key files, removed when the test file finishes (`test/support/cleanup.ts`,
 * a vitest setup file): no test key outlives its test file, and nothing lands in the repository.
 */
export function tempDir(prefix = 'token-vendor-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** Remove every directory {@link tempDir} created in this test file. */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Write `content` to a file in a fresh temp dir (mode 0600) and return its path. */
export function writeTempFile(name: string, content: string): string {
  const path = join(tempDir(), name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}
