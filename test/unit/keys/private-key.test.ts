import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyMaterialError } from '../../../lambda/keys/errors';
import { loadPrivateKey } from '../../../lambda/keys/private-key';
import { publicKeyFingerprint } from '../../../lambda/snowflake/fingerprint';
import { encryptedPkcs8, rsaKeyPair } from '../../support/keys';

describe('loadPrivateKey', () => {
  const pair = rsaKeyPair();

  it('loads an unencrypted PKCS#8 RSA key', () => {
    const key = loadPrivateKey(pair.pkcs8Pem, undefined, 'test');
    expect(publicKeyFingerprint(key)).toBe(publicKeyFingerprint(pair.publicKey));
  });

  it('round-trips an encrypted PKCS#8 key with its passphrase', () => {
    // Prepare
    const pem = encryptedPkcs8(pair.privateKey, 'correct horse');
    expect(pem).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    // Act
    const key = loadPrivateKey(pem, 'correct horse', 'test');
    // Assess
    expect(publicKeyFingerprint(key)).toBe(publicKeyFingerprint(pair.publicKey));
  });

  it('accepts a PEM whose newlines arrived as literal \\n', () => {
    const flattened = pair.pkcs8Pem.trim().replaceAll('\n', '\\n');
    expect(publicKeyFingerprint(loadPrivateKey(flattened, undefined, 'test'))).toBe(
      publicKeyFingerprint(pair.publicKey),
    );
  });

  const cases: [string, () => string, string | undefined, string][] = [
    ['wrong passphrase', () => encryptedPkcs8(pair.privateKey, 'right'), 'wrong', 'KEY_WRONG_PASSPHRASE'],
    [
      'encrypted without passphrase',
      () => encryptedPkcs8(pair.privateKey, 'right'),
      undefined,
      'KEY_PASSPHRASE_REQUIRED',
    ],
    [
      'PKCS#1 (BEGIN RSA PRIVATE KEY)',
      () => pair.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      undefined,
      'KEY_NOT_PKCS8',
    ],
    [
      'SEC1 EC key',
      () =>
        generateKeyPairSync('ec', { namedCurve: 'P-256' })
          .privateKey.export({ type: 'sec1', format: 'pem' })
          .toString(),
      undefined,
      'KEY_NOT_PKCS8',
    ],
    [
      'PKCS#8 EC key',
      () =>
        generateKeyPairSync('ec', { namedCurve: 'P-256' })
          .privateKey.export({ type: 'pkcs8', format: 'pem' })
          .toString(),
      undefined,
      'KEY_NOT_RSA',
    ],
    [
      'PKCS#8 Ed25519 key',
      () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      undefined,
      'KEY_NOT_RSA',
    ],
    ['RSA 1024', () => rsaKeyPair(1024).pkcs8Pem, undefined, 'KEY_TOO_SMALL'],
    ['not a PEM', () => 'hello', undefined, 'KEY_MALFORMED'],
    [
      'a public key',
      () => pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      undefined,
      'KEY_NOT_PKCS8',
    ],
    [
      'a corrupted body',
      () => pair.pkcs8Pem.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA'),
      undefined,
      'KEY_MALFORMED',
    ],
  ];

  it.each(cases)('%s → %s', (_name, pem, passphrase, code) => {
    // Act
    let caught: unknown;
    try {
      loadPrivateKey(pem(), passphrase, 'secretsManager:prod/key');
    } catch (error) {
      caught = error;
    }
    // Assess
    expect(caught).toBeInstanceOf(KeyMaterialError);
    expect((caught as KeyMaterialError).code).toBe(code);
    expect((caught as Error).message).toContain('secretsManager:prod/key');
  });

  it('never puts key material or the passphrase in an error', () => {
    const pem = encryptedPkcs8(pair.privateKey, 'sup3r-s3cret-passphrase');
    const body = pem.split('\n')[1]!;
    for (const attempt of [
      () => loadPrivateKey(pem, 'nope', 'x'),
      () => loadPrivateKey(`${pem}\nhello`, 'nope', 'x'),
    ]) {
      try {
        attempt();
      } catch (error) {
        const text = JSON.stringify({
          message: (error as Error).message,
          stack: (error as Error).stack,
          cause: String((error as Error).cause),
        });
        expect(text).not.toContain(body);
        expect(text).not.toContain('sup3r-s3cret-passphrase');
      }
    }
  });
});
