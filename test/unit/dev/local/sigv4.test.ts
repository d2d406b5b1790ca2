import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LocalCredential, verifySigV4 } from '../../../../dev/local/sigv4';

const credential: LocalCredential = {
  accessKeyId: 'AKIATESTKEY000000001',
  secretAccessKey: 'test-secret',
  principalArn: 'arn:aws:iam::123456789012:user/t',
};
const options = {
  region: 'us-east-1',
  credentials: (id: string) => (id === credential.accessKeyId ? credential : undefined),
};
const signer = new SignatureV4({
  service: 'execute-api',
  region: 'us-east-1',
  credentials: credential,
  sha256: Hash.bind(null, 'sha256'),
});

/**
 * Sign with the AWS SDK's signer, then present the request as the gateway receives it. As in the SDK's
 * own serializers, the path handed to the signer is already URI-encoded.
 */
async function signed(
  path: string,
  query: Record<string, string>,
  body: string,
  extraHeaders: Record<string, string> = {},
) {
  const wirePath = path.split('/').map(encodeURIComponent).join('/');
  const request = new HttpRequest({
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 8787,
    path: wirePath,
    query,
    headers: { host: '127.0.0.1:8787', ...extraHeaders },
    body,
  });
  const result = await signer.sign(request);
  const qs = Object.entries(query)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  const url = `${wirePath}${qs ? `?${qs}` : ''}`;
  const headers = Object.fromEntries(
    Object.entries(result.headers).map(([k, v]) => [k.toLowerCase(), String(v)]),
  );
  return { method: 'POST', url, headers, body: Buffer.from(body) };
}

describe('verifySigV4 against the AWS SDK signer (property)', () => {
  const segment = fc
    .string({ minLength: 1, maxLength: 12 })
    .filter((s) => s !== '.' && s !== '..' && !s.includes('/'));
  const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => `/${parts.join('/')}`);
  const query = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 12 }), {
    maxKeys: 4,
  });

  it('accepts every request the SDK signs, whatever its path, query and body', async () => {
    await fc.assert(
      fc.asyncProperty(
        path,
        query,
        fc.string({ maxLength: 200 }),
        fc.string({ maxLength: 30 }).filter((v) => v.trim() === v && !/[\r\n]/.test(v)),
        async (p, q, body, header) => {
          const request = await signed(p, q, body, header ? { 'x-custom': header } : {});
          expect(verifySigV4(request, options)).toEqual(credential);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects the request once any byte of its body, path or a signed header changes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 100 }), fc.nat(), async (body, at) => {
        const request = await signed('/v1/tokens/postgres', {}, body, { 'x-custom': 'v' });
        const i = at % body.length;
        const tampered = body.slice(0, i) + String.fromCharCode(body.charCodeAt(i) ^ 1) + body.slice(i + 1);
        expect(verifySigV4({ ...request, body: Buffer.from(tampered) }, options)).toMatchObject({
          status: 403,
        });
        expect(verifySigV4({ ...request, url: '/v1/tokens/oauth' }, options)).toMatchObject({ status: 403 });
        expect(
          verifySigV4({ ...request, headers: { ...request.headers, 'x-custom': 'w' } }, options),
        ).toMatchObject({ status: 403 });
      }),
      { numRuns: 100 },
    );
  });

  it('never throws on arbitrary headers and URLs (fuzz)', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.dictionary(
          fc.constantFrom(
            'authorization',
            'x-amz-date',
            'x-amz-security-token',
            'host',
            'x-amz-content-sha256',
          ),
          fc.string(),
        ),
        (url, headers) => {
          const result = verifySigV4(
            { method: 'POST', url: `/${url}`, headers, body: Buffer.alloc(0) },
            options,
          );
          expect(result).toMatchObject({ status: 403 });
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('rejects an Authorization header that names another algorithm or lacks parts', () => {
    expect(
      verifySigV4(
        {
          method: 'POST',
          url: '/',
          headers: { authorization: 'AWS4-HMAC-SHA512 Credential=x' },
          body: Buffer.alloc(0),
        },
        options,
      ),
    ).toMatchObject({ errorType: 'IncompleteSignatureException' });
    expect(
      verifySigV4(
        {
          method: 'POST',
          url: '/',
          headers: { authorization: 'AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request' },
          body: Buffer.alloc(0),
        },
        options,
      ),
    ).toMatchObject({ errorType: 'IncompleteSignatureException' });
  });
});
