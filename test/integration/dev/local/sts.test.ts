import { GetWebIdentityTokenCommand } from '@aws-sdk/client-sts';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VENDOR_FUNCTION_ROLE_ARN, type WifFixture, wifFixture } from '../../../support/wif';

/** The local STS answers as the regional endpoint does, to the real SDK client and to raw signed requests. */
describe('local STS: GetWebIdentityToken', () => {
  let wif: WifFixture;
  beforeAll(async () => {
    wif = await wifFixture();
  });
  afterAll(() => wif.sts.close());

  it('issues a token the issuer keys verify, for the role behind the session, with the asked lifetime', async () => {
    const answer = await wif.stsClient().send(
      new GetWebIdentityTokenCommand({
        Audience: ['snowflakecomputing.com'],
        SigningAlgorithm: 'ES384',
        DurationSeconds: 600,
      }),
    );
    const discovery = (await (await fetch(`${wif.sts.issuer}/.well-known/openid-configuration`)).json()) as {
      jwks_uri: string;
    };
    expect(discovery).toMatchObject({
      issuer: wif.sts.issuer,
      jwks_uri: `${wif.sts.issuer}/.well-known/jwks.json`,
    });
    const { payload, protectedHeader } = await jwtVerify(
      answer.WebIdentityToken!,
      createRemoteJWKSet(new URL(discovery.jwks_uri)),
      { issuer: wif.sts.issuer, audience: 'snowflakecomputing.com' },
    );
    expect(protectedHeader.alg).toBe('ES384');
    expect(payload.sub).toBe(VENDOR_FUNCTION_ROLE_ARN);
    expect(payload.exp! - payload.iat!).toBe(600);
    expect(answer.Expiration!.getTime()).toBe(payload.exp! * 1000);
  });

  it.each([
    ['an unknown algorithm', { Audience: ['a'], SigningAlgorithm: 'HS256' }, 'ValidationError'],
    [
      'a lifetime under 60 s',
      { Audience: ['a'], SigningAlgorithm: 'ES384', DurationSeconds: 59 },
      'ValidationError',
    ],
    [
      'a lifetime over 3600 s',
      { Audience: ['a'], SigningAlgorithm: 'ES384', DurationSeconds: 3601 },
      'ValidationError',
    ],
    ['no audience', { Audience: [], SigningAlgorithm: 'ES384' }, 'ValidationError'],
    [
      'eleven audiences',
      { Audience: Array.from({ length: 11 }, (_, i) => `a${i}`), SigningAlgorithm: 'ES384' },
      'ValidationError',
    ],
    ['an empty audience', { Audience: [''], SigningAlgorithm: 'ES384' }, 'ValidationError'],
  ])('refuses %s (%j) with %s', async (_name, input, code) => {
    const error = await wif
      .stsClient()
      .send(new GetWebIdentityTokenCommand(input as never))
      .catch((e: unknown) => e as Error);
    expect((error as Error).name).toBe(code);
  });

  it('refuses a request signed for another service or with another session token, and an unsigned one', async () => {
    const body =
      'Action=GetWebIdentityToken&Version=2011-06-15&Audience.member.1=snowflakecomputing.com&SigningAlgorithm=ES384';
    const url = new URL(wif.sts.url);
    const send = async (service: string, sessionToken: string | undefined) => {
      const signer = new SignatureV4({
        service,
        region: 'us-east-1',
        sha256: Hash.bind(null, 'sha256'),
        credentials: {
          accessKeyId: wif.credential.accessKeyId,
          secretAccessKey: wif.credential.secretAccessKey,
          ...(sessionToken ? { sessionToken } : {}),
        },
      });
      const signed = await signer.sign({
        method: 'POST',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: '/',
        headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      const answer = await fetch(wif.sts.url, { method: 'POST', headers: signed.headers, body });
      return { status: answer.status, text: await answer.text() };
    };
    expect((await send('sts', wif.credential.sessionToken)).status).toBe(200);
    const otherService = await send('execute-api', wif.credential.sessionToken);
    expect(otherService.status).toBe(403);
    expect(otherService.text).toContain('<Code>SignatureDoesNotMatch</Code>');
    const otherToken = await send('sts', 'another-session-token');
    expect(otherToken.text).toContain('<Code>InvalidClientTokenId</Code>');
    const unsigned = await fetch(wif.sts.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    expect(unsigned.status).toBe(403);
    expect(await unsigned.text()).toContain('<Code>MissingAuthenticationToken</Code>');
  });
});
