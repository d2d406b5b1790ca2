import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { publicKeyBody, publicKeyFingerprint } from '../../../lambda/snowflake/fingerprint';
import { rsaKeyPair, writeTempFile } from '../../support/keys';

describe('publicKeyFingerprint', () => {
  const pair = rsaKeyPair();

  it('matches what openssl prints for the same key (SPKI DER, SHA-256, padded base64)', () => {
    // Prepare
    const path = writeTempFile('key.p8', pair.pkcs8Pem);
    const der = execFileSync('openssl', ['pkey', '-in', path, '-pubout', '-outform', 'DER']);
    const digest = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der });
    const expected = execFileSync('openssl', ['enc', '-base64'], { input: digest }).toString().trim();
    // Act
    const fingerprint = publicKeyFingerprint(pair.privateKey);
    // Assess
    expect(fingerprint).toBe(`SHA256:${expected}`);
    expect(fingerprint).toHaveLength(51);
    expect(fingerprint.endsWith('=')).toBe(true);
  });

  it('is the same from the private key, the public key, a PEM and SPKI DER bytes', () => {
    const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
    const expected = publicKeyFingerprint(pair.privateKey);
    expect(publicKeyFingerprint(pair.publicKey)).toBe(expected);
    expect(publicKeyFingerprint(pair.pkcs8Pem)).toBe(expected);
    expect(publicKeyFingerprint(new Uint8Array(spki))).toBe(expected);
  });

  it('is not the PKCS#1 digest (the pitfall that yields 394304)', () => {
    const pkcs1 = pair.publicKey.export({ type: 'pkcs1', format: 'der' });
    const wrong = `SHA256:${createHash('sha256').update(pkcs1).digest('base64')}`;
    expect(publicKeyFingerprint(pair.publicKey)).not.toBe(wrong);
  });

  it('publicKeyBody is the PEM body Snowflake stores in RSA_PUBLIC_KEY', () => {
    const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const body = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    expect(publicKeyBody(pair.privateKey)).toBe(body);
    expect(publicKeyFingerprint(Buffer.from(body, 'base64'))).toBe(publicKeyFingerprint(pair.publicKey));
  });
});
