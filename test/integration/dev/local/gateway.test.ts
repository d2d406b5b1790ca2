import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PRINCIPAL_ARN, type LocalStack, startLocalStack } from '../../../../dev/local/local-stack';
import type { AuditRecord } from '../../../../lambda/audit/record';
import { tempDir, writeTempFile } from '../../../support/keys';

const run = promisify(execFile);
const BODY = JSON.stringify({ instance: 'reporting_server', username: 'reporting_user' });

describe('local gateway: SigV4 as API Gateway AWS_IAM verifies it', () => {
  let stack: LocalStack;
  const records: AuditRecord[] = [];
  const session = {
    accessKeyId: 'ASIALOCALSESSION0001',
    secretAccessKey: 'session-secret-0001',
    sessionToken: 'FwoGZXIvYXdzEJr//////////local-session-token',
    principalArn: 'arn:aws:sts::123456789012:assumed-role/token-vendor-demo/ci-session',
  };
  const stranger = {
    accessKeyId: 'AKIALOCALSTRANGER001',
    secretAccessKey: 'stranger-secret',
    principalArn: 'arn:aws:sts::123456789012:assumed-role/not-granted/s',
  };

  beforeAll(async () => {
    const dir = tempDir('tv-gateway-');
    const demo = await startLocalStack({ dir, port: 0, auditSink: { info: () => {} } });
    // Restart the gateway with the demo credential plus a session credential and an ungranted one.
    const list = [...demo.credentials, session, stranger];
    const credentialsFile = writeTempFile('credentials.json', JSON.stringify(list));
    await demo.gateway.close();
    const withMore = await startLocalStack({
      configFile: demo.configFile,
      credentials: { file: credentialsFile, list },
      port: 0,
      auditSink: { info: (_m, a) => records.push(a as unknown as AuditRecord) },
    });
    stack = {
      ...withMore,
      emulator: demo.emulator,
      close: async () => {
        await withMore.close();
        await demo.close().catch(() => {});
      },
    };
  });
  afterAll(() => stack.close());

  const demo = () => stack.credentials[0]!;
  const url = (path = '/v1/tokens/postgres') => new URL(path, stack.gateway.url);

  async function sdkSigned(
    options: {
      credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
      body?: string;
      sendBody?: string;
      signingDate?: Date;
      region?: string;
      service?: string;
    } = {},
  ) {
    const target = url();
    const signer = new SignatureV4({
      service: options.service ?? 'execute-api',
      region: options.region ?? 'us-east-1',
      credentials: options.credentials ?? demo(),
      sha256: Hash.bind(null, 'sha256'),
    });
    const request = new HttpRequest({
      method: 'POST',
      protocol: 'http:',
      hostname: target.hostname,
      port: Number(target.port),
      path: target.pathname,
      headers: { host: target.host, 'content-type': 'application/json' },
      body: options.body ?? BODY,
    });
    const signed = await signer.sign(request, { signingDate: options.signingDate ?? new Date() });
    const response = await fetch(target, {
      method: 'POST',
      headers: signed.headers,
      body: options.sendBody ?? options.body ?? BODY,
    });
    return {
      status: response.status,
      errorType: response.headers.get('x-amzn-errortype'),
      json: (await response.json()) as Record<string, any>,
    };
  }

  it('lets curl --aws-sigv4 itself get a token', async () => {
    const { stdout } = await run('curl', [
      '-s',
      '--aws-sigv4',
      'aws:amz:us-east-1:execute-api',
      '--user',
      `${demo().accessKeyId}:${demo().secretAccessKey}`,
      '-H',
      'content-type: application/json',
      '-d',
      BODY,
      url().toString(),
    ]);
    const json = JSON.parse(stdout);
    expect(json).toMatchObject({ tokenType: 'snowflake-postgres', username: 'reporting_user' });
    expect(stack.emulator!.validatePostgresToken(json.token)).toBeDefined();
    expect(records.at(-1)).toMatchObject({
      event: 'token.issued',
      principalArn: DEMO_PRINCIPAL_ARN,
      userAgent: expect.stringMatching(/^curl\//),
    });
  });

  it('accepts the AWS SDK signer in header form, with a session token', async () => {
    const result = await sdkSigned({ credentials: session });
    expect(result.status).toBe(200);
    expect(records.at(-1)).toMatchObject({ principalArn: session.principalArn });
  });

  it('accepts the query-string form (presigned)', async () => {
    const target = url('/v1/tokens/snowflake-jwt');
    const signer = new SignatureV4({
      service: 'execute-api',
      region: 'us-east-1',
      credentials: demo(),
      sha256: Hash.bind(null, 'sha256'),
    });
    const body = JSON.stringify({ connection: 'demo' });
    const presigned = await signer.presign(
      new HttpRequest({
        method: 'POST',
        protocol: 'http:',
        hostname: target.hostname,
        port: Number(target.port),
        path: target.pathname,
        headers: { host: target.host },
        body,
      }),
      { expiresIn: 60 },
    );
    const query = new URLSearchParams(presigned.query as Record<string, string>).toString();
    const response = await fetch(`${target}?${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as any).tokenType).toBe('KEYPAIR_JWT');
  });

  it.each<
    [
      string,
      () => Promise<{ status: number; errorType: string | null; json: Record<string, any> }>,
      string,
      RegExp,
    ]
  >([
    [
      'an unsigned request',
      async () => {
        const r = await fetch(url(), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: BODY,
        });
        return {
          status: r.status,
          errorType: r.headers.get('x-amzn-errortype'),
          json: (await r.json()) as Record<string, any>,
        };
      },
      'MissingAuthenticationTokenException',
      /^Missing Authentication Token$/,
    ],
    [
      'a wrong secret',
      () =>
        sdkSigned({ credentials: { accessKeyId: demo().accessKeyId, secretAccessKey: 'not-the-secret' } }),
      'InvalidSignatureException',
      /signature we calculated does not match/,
    ],
    [
      'a tampered body',
      () => sdkSigned({ sendBody: JSON.stringify({ instance: 'reporting_server', username: 'etl_user' }) }),
      'InvalidSignatureException',
      /signature we calculated does not match/,
    ],
    [
      'a request replayed too late',
      () => sdkSigned({ signingDate: new Date(Date.now() - 6 * 60_000) }),
      'InvalidSignatureException',
      /^Signature expired/,
    ],
    [
      'a request signed in the future',
      () => sdkSigned({ signingDate: new Date(Date.now() + 6 * 60_000) }),
      'InvalidSignatureException',
      /^Signature expired/,
    ],
    [
      'an unknown key',
      () => sdkSigned({ credentials: { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x' } }),
      'UnrecognizedClientException',
      /security token included in the request is invalid/,
    ],
    [
      'a missing session token',
      () =>
        sdkSigned({
          credentials: { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey },
        }),
      'UnrecognizedClientException',
      /security token/,
    ],
    [
      'a wrong session token',
      () => sdkSigned({ credentials: { ...session, sessionToken: 'other' } }),
      'UnrecognizedClientException',
      /security token/,
    ],
    ['another region', () => sdkSigned({ region: 'eu-west-1' }), 'InvalidSignatureException', /valid region/],
    [
      'another service',
      () => sdkSigned({ service: 'lambda' }),
      'InvalidSignatureException',
      /correct service: 'execute-api'/,
    ],
  ])('answers %s with API Gateway’s 403', async (_name, send, errorType, message) => {
    const before = records.length;
    const result = await send();
    expect(result.status).toBe(403);
    expect(result.errorType).toBe(errorType);
    expect(Object.keys(result.json)).toEqual(['message']);
    expect(result.json.message).toMatch(message);
    expect(records.length).toBe(before); // the handler never ran
  });

  it('answers an undefined route with 403 Missing Authentication Token, as a REST API does', async () => {
    const r = await fetch(url('/v1/tokens/aws-keys'), { method: 'POST', body: '{}' });
    expect(r.status).toBe(403);
    expect(await r.json()).toEqual({ message: 'Missing Authentication Token' });
  });

  it('passes a correctly signed request from an ungranted principal to the handler, which answers NOT_AUTHORIZED', async () => {
    const result = await sdkSigned({ credentials: stranger });
    expect(result.status).toBe(403);
    expect(result.json.error).toMatchObject({ code: 'NOT_AUTHORIZED' });
    expect(records.at(-1)).toMatchObject({ event: 'token.denied', principalArn: stranger.principalArn });
  });
});
