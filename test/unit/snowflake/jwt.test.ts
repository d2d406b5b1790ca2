import { describe, expect, it } from 'vitest';
import { JwtRequestError } from '../../../lambda/snowflake/errors';
import { publicKeyFingerprint } from '../../../lambda/snowflake/fingerprint';
import { DEFAULT_JWT_LIFETIME_SECONDS, mintKeyPairJwt } from '../../../lambda/snowflake/jwt';
import { rsaKeyPair } from '../../support/keys';
import { memorySigner } from '../../support/signers';
import { verifyRs256 } from '../../support/verify-jwt';

describe('mintKeyPairJwt', () => {
  const pair = rsaKeyPair();
  const fingerprint = publicKeyFingerprint(pair.publicKey);
  const t0 = Date.UTC(2026, 10, 22, 10, 0, 0, 250);
  const now = () => t0;

  it('signs RS256 with the claims Snowflake expects, checked by a node:crypto verifier', async () => {
    // Act
    const jwt = await mintKeyPairJwt({
      account: 'xy12345.us-east-2.aws',
      user: 'jdoe',
      signer: memorySigner(pair.privateKey),
      now,
    });
    // Assess
    const { header, payload } = verifyRs256(jwt.token, pair.publicKey);
    expect(header).toEqual({ alg: 'RS256', typ: 'JWT' });
    expect(payload).toEqual({
      iss: `XY12345.JDOE.${fingerprint}`,
      sub: 'XY12345.JDOE',
      iat: Math.floor(t0 / 1000),
      exp: Math.floor(t0 / 1000) + DEFAULT_JWT_LIFETIME_SECONDS,
    });
    expect(Object.keys(payload)).toEqual(['iss', 'sub', 'iat', 'exp']);
    expect(jwt).toMatchObject({
      tokenType: 'KEYPAIR_JWT',
      account: 'XY12345',
      user: 'JDOE',
      publicKeyFingerprint: fingerprint,
    });
  });

  it('defaults to 59 minutes and carries TTL metadata consistent with the claims', async () => {
    // Act
    const jwt = await mintKeyPairJwt({
      account: 'myorg.myaccount',
      user: 'svc_user',
      signer: memorySigner(pair.privateKey),
      now,
    });
    // Assess
    const { payload } = verifyRs256(jwt.token, pair.publicKey);
    expect(payload.sub).toBe('MYORG-MYACCOUNT.SVC_USER');
    expect(jwt.issuedAt.getTime()).toBe((payload.iat as number) * 1000);
    expect(jwt.expiresAt.getTime()).toBe((payload.exp as number) * 1000);
    expect(jwt.expiresIn).toBe(3539); // 250 ms have passed since iat (which is rounded down)
    expect(jwt.refreshAt.getTime()).toBe(jwt.issuedAt.getTime() + Math.floor(3540_000 * 0.8));
    expect(JSON.parse(JSON.stringify(jwt)).issuedAt).toBe('2026-11-22T10:00:00.000Z');
  });

  it.each([1, 60, 3600])('accepts a lifetime of %i s', async (lifetimeSeconds) => {
    const jwt = await mintKeyPairJwt({
      account: 'xy12345',
      user: 'u',
      signer: memorySigner(pair.privateKey),
      lifetimeSeconds,
      now,
    });
    const { payload } = verifyRs256(jwt.token, pair.publicKey);
    expect((payload.exp as number) - (payload.iat as number)).toBe(lifetimeSeconds);
  });

  it.each([3601, 7200, 0, -5, 59.5, Number.NaN])(
    'refuses a lifetime of %s s and signs nothing',
    async (lifetimeSeconds) => {
      const signer = memorySigner(pair.privateKey);
      const minting = mintKeyPairJwt({ account: 'xy12345', user: 'u', signer, lifetimeSeconds, now });
      await expect(minting).rejects.toBeInstanceOf(JwtRequestError);
      await expect(minting).rejects.toMatchObject({ code: 'JWT_LIFETIME_INVALID' });
      expect(signer.reads).toBe(0);
    },
  );

  it('uppercases the user and changes nothing else (dots stay)', async () => {
    const jwt = await mintKeyPairJwt({
      account: 'xy12345',
      user: 'first.last@corp',
      signer: memorySigner(pair.privateKey),
      now,
    });
    expect(verifyRs256(jwt.token, pair.publicKey).payload.sub).toBe('XY12345.FIRST.LAST@CORP');
  });

  it('refuses an empty user or one with control characters', async () => {
    for (const user of ['', 'svc\nadmin', 'a\u0000b']) {
      await expect(
        mintKeyPairJwt({ account: 'xy12345', user, signer: memorySigner(pair.privateKey), now }),
      ).rejects.toMatchObject({
        code: 'JWT_USER_INVALID',
      });
    }
  });

  it('names the fingerprint of the key that actually signed (one consistent key version)', async () => {
    // Prepare: the signer moves to a new key between two mints, as during a rotation
    const next = rsaKeyPair();
    const signer = memorySigner(pair.privateKey);
    const first = await mintKeyPairJwt({ account: 'xy12345', user: 'u', signer, now });
    signer.swap(next.privateKey);
    // Act
    const second = await mintKeyPairJwt({ account: 'xy12345', user: 'u', signer, now });
    // Assess
    expect(verifyRs256(first.token, pair.publicKey).payload.iss).toContain(fingerprint);
    expect(verifyRs256(second.token, next.publicKey).payload.iss).toContain(
      publicKeyFingerprint(next.publicKey),
    );
    expect(() => verifyRs256(second.token, pair.publicKey)).toThrow(/does not verify/);
  });
});
