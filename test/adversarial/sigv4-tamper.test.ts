import { connect } from 'node:net';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalGateway, startLocalGateway } from '../../dev/local/gateway';
import type { LocalCredential } from '../../dev/local/sigv4';
import { openApiDocument } from '../../lambda/api/openapi';

/**
 * The local gateway attacked over a raw socket, with requests signed by the AWS SDK's own SigV4
 * implementation (`@smithy/signature-v4`), never the project's verifier. Each tampering must be refused
 * with a 4xx before the handler runs; the untampered request must pass (so the matrix is not vacuous).
 */
const credential: LocalCredential = {
  accessKeyId: 'AKIATAMPERTEST000001',
  secretAccessKey: 'tamper-test-secret-value',
  principalArn: 'arn:aws:sts::123456789012:assumed-role/tamper/s',
};
const BODY = '{"instance":"reporting_server","username":"reporting_user"}';
const PATH = '/v1/tokens/postgres';

type Raw = { method: string; target: string; headers: [string, string][]; body: string };

describe('adversarial: SigV4 tamper matrix against the local gateway', () => {
  let gateway: LocalGateway;
  let port: number;
  const seen: APIGatewayProxyEvent[] = [];

  beforeAll(async () => {
    gateway = await startLocalGateway({
      credentials: [credential],
      port: 0,
      handler: async (event) => {
        seen.push(event);
        return {
          statusCode: 200,
          body: JSON.stringify({ principal: event.requestContext.identity.userArn }),
        };
      },
    });
    port = Number(new URL(gateway.url).port);
  });
  afterAll(() => gateway.close());
  beforeEach(() => {
    seen.length = 0;
  });

  /** Signed by the SDK, as a list of raw header lines (so tests can repeat or reorder them). */
  async function signed(
    options: {
      body?: string;
      path?: string;
      region?: string;
      service?: string;
      date?: Date;
      secret?: string;
    } = {},
  ): Promise<Raw> {
    const signer = new SignatureV4({
      service: options.service ?? 'execute-api',
      region: options.region ?? 'us-east-1',
      credentials: { ...credential, secretAccessKey: options.secret ?? credential.secretAccessKey },
      sha256: Hash.bind(null, 'sha256'),
    });
    const body = options.body ?? BODY;
    const request = await signer.sign(
      new HttpRequest({
        method: 'POST',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port,
        path: options.path ?? PATH,
        headers: { host: `127.0.0.1:${port}`, 'content-type': 'application/json' },
        body,
      }),
      { signingDate: options.date ?? new Date() },
    );
    return {
      method: 'POST',
      target: options.path ?? PATH,
      headers: Object.entries(request.headers).map(([k, v]) => [k, String(v)]),
      body,
    };
  }

  /** Send exactly these bytes; resolve with the status line's code and the body. */
  function send(raw: Raw, extra: { contentLength?: number } = {}): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      const lines = [`${raw.method} ${raw.target} HTTP/1.1`];
      for (const [k, v] of raw.headers) lines.push(`${k}: ${v}`);
      lines.push(
        `content-length: ${extra.contentLength ?? Buffer.byteLength(raw.body)}`,
        'connection: close',
      );
      socket.write(`${lines.join('\r\n')}\r\n\r\n${raw.body}`);
      let data = '';
      socket.on('data', (chunk) => {
        data += chunk.toString('latin1');
      });
      socket.on('error', reject);
      socket.on('close', () => {
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
        resolve({ status, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
      });
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
    });
  }

  const withHeader = (raw: Raw, name: string, edit: (v: string) => string): Raw => ({
    ...raw,
    headers: raw.headers.map(([k, v]) => (k.toLowerCase() === name ? [k, edit(v)] : [k, v])),
  });
  const authorization = (raw: Raw) => raw.headers.find(([k]) => k.toLowerCase() === 'authorization')![1];

  it('passes the untampered request (the matrix below is not vacuous)', async () => {
    const response = await send(await signed());
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ principal: credential.principalArn });
    expect(seen).toHaveLength(1);
  });

  const tampers: [string, () => Promise<Raw>][] = [
    [
      'body changed after signing',
      async () => ({ ...(await signed()), body: BODY.replace('reporting_user', 'admin_user_') }),
    ],
    [
      'UNSIGNED-PAYLOAD claimed, body changed',
      async () => {
        const raw = await signed();
        return {
          ...raw,
          body: BODY.replace('reporting_user', 'admin_user_'),
          headers: [...raw.headers, ['x-amz-content-sha256', 'UNSIGNED-PAYLOAD']],
        };
      },
    ],
    [
      'UNSIGNED-PAYLOAD claimed, body as signed',
      async () => {
        const raw = await signed();
        return { ...raw, headers: [...raw.headers, ['x-amz-content-sha256', 'UNSIGNED-PAYLOAD']] };
      },
    ],
    [
      'a second Authorization header after the valid one',
      async () => {
        const raw = await signed();
        return { ...raw, headers: [...raw.headers, ['Authorization', 'AWS4-HMAC-SHA256 junk']] };
      },
    ],
    [
      'a second Authorization header before the valid one',
      async () => {
        const raw = await signed();
        return { ...raw, headers: [['Authorization', 'AWS4-HMAC-SHA256 junk'], ...raw.headers] };
      },
    ],
    [
      'two valid Authorization headers',
      async () => {
        const raw = await signed();
        return { ...raw, headers: [...raw.headers, ['authorization', authorization(raw)]] };
      },
    ],
    [
      'a second X-Amz-Date header',
      async () => {
        const raw = await signed();
        const date = raw.headers.find(([k]) => k.toLowerCase() === 'x-amz-date')![1];
        return { ...raw, headers: [...raw.headers, ['X-Amz-Date', date]] };
      },
    ],
    ['Signature=<valid>=junk', async () => withHeader(await signed(), 'authorization', (v) => `${v}=junk`)],
    [
      'an extra Authorization parameter',
      async () => withHeader(await signed(), 'authorization', (v) => `${v}, Extra=1`),
    ],
    [
      'a repeated Credential parameter',
      async () =>
        withHeader(await signed(), 'authorization', (v) => `${v}, ${/Credential=[^,]+/.exec(v)![0]}`),
    ],
    [
      'an upper-case signature',
      async () =>
        withHeader(await signed(), 'authorization', (v) =>
          v.replace(/Signature=(\w+)/, (_m, s: string) => `Signature=${s.toUpperCase()}`),
        ),
    ],
    [
      'one signature digit flipped',
      async () =>
        withHeader(await signed(), 'authorization', (v) =>
          v.replace(/([0-9a-f])$/, (d) => (d === '0' ? '1' : '0')),
        ),
    ],
    ['a truncated signature', async () => withHeader(await signed(), 'authorization', (v) => v.slice(0, -2))],
    ['path changed', async () => ({ ...(await signed()), target: '/v1/tokens/snowflake-jwt' })],
    ['query added', async () => ({ ...(await signed()), target: `${PATH}?instance=other` })],
    ['method changed', async () => ({ ...(await signed()), method: 'PUT' })],
    ['host changed', async () => withHeader(await signed(), 'host', () => 'evil.example:443')],
    ['content-type changed', async () => withHeader(await signed(), 'content-type', () => 'text/plain')],
    [
      'x-amz-date moved by one second',
      async () =>
        withHeader(await signed(), 'x-amz-date', (v) =>
          v.replace(/(\d)Z$/, (_m, d: string) => `${(Number(d) + 1) % 10}Z`),
        ),
    ],
    ['signed six minutes ago', async () => signed({ date: new Date(Date.now() - 6 * 60_000) })],
    ['signed six minutes ahead', async () => signed({ date: new Date(Date.now() + 6 * 60_000) })],
    ['another region', async () => signed({ region: 'eu-west-1' })],
    ['another service', async () => signed({ service: 'lambda' })],
    ['the wrong secret', async () => signed({ secret: 'not-the-secret' })],
    [
      'an unparseable Date header and no X-Amz-Date',
      async () => {
        const raw = await signed();
        return {
          ...raw,
          headers: [
            ...raw.headers.filter(([k]) => k.toLowerCase() !== 'x-amz-date'),
            ['Date', 'not a date at all'],
          ],
        };
      },
    ],
    ['a //host request target', async () => ({ ...(await signed()), target: `//other-host${PATH}` })],
    [
      'an absolute-form request target',
      async () => ({ ...(await signed()), target: `http://127.0.0.1:${port}${PATH}` }),
    ],
    ['a //host target signed as such', async () => ({ ...(await signed({ path: `//other-host${PATH}` })) })],
  ];

  it.each(tampers)('refuses %s with a 4xx, before the handler runs', async (_name, make) => {
    // Act
    const response = await send(await make());
    // Assess
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(seen).toHaveLength(0);
  });

  it('serves the OpenAPI document unsigned at GET /openapi.json, and nothing else unsigned', async () => {
    const spec = await fetch(`${gateway.url}/openapi.json`);
    expect(spec.status).toBe(200);
    expect(await spec.json()).toEqual(openApiDocument());
    const unsigned = await fetch(`${gateway.url}${PATH}`, { method: 'POST', body: BODY });
    expect(unsigned.status).toBe(403);
    const post = await fetch(`${gateway.url}/openapi.json`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(403);
    expect(seen).toHaveLength(0);
  });

  it('refuses a declared oversize body with 413 without reading it', async () => {
    // Act: declare 11 MiB and send none of it; a gateway that waited for the body would time out
    const response = await send({ ...(await signed()), body: '' }, { contentLength: 11 * 1024 * 1024 });
    // Assess
    expect(response.status).toBe(413);
    expect(seen).toHaveLength(0);
  });

  it('stops reading a streamed body past the limit and closes the connection', async () => {
    // Prepare: a chunked body that never ends. The client sends as fast as the gateway reads (it waits
    // for 'drain'), so what ends the exchange is the gateway closing the connection, whatever the load.
    const raw = await signed();
    const socket = connect(port, '127.0.0.1');
    const head = [
      `POST ${PATH} HTTP/1.1`,
      ...raw.headers.map(([k, v]) => `${k}: ${v}`),
      'transfer-encoding: chunked',
    ];
    socket.write(`${head.join('\r\n')}\r\n\r\n`);
    const chunk = Buffer.alloc(1024 * 1024, 'a');
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString('latin1');
    });
    socket.on('error', () => {});
    let open = true;
    const closed = new Promise<void>((resolve) =>
      socket.once('close', () => {
        open = false;
        resolve();
      }),
    );
    // Act: keep sending for up to 20 s (the gateway lingers one second after its 413, then closes)
    const giveUp = Date.now() + 20_000;
    while (open && Date.now() < giveUp) {
      socket.write(`${chunk.length.toString(16)}\r\n`);
      socket.write(chunk);
      if (!socket.write('\r\n')) await Promise.race([new Promise((r) => socket.once('drain', r)), closed]);
      else await new Promise((r) => setImmediate(r));
    }
    // Assess: the gateway closed an endless body itself, after answering 413, and the handler saw nothing
    expect(open, 'the gateway kept reading an endless body for 20 s').toBe(false);
    expect(answer.slice(0, 400)).toMatch(/^HTTP\/1\.1 413/);
    expect(seen).toHaveLength(0);
  }, 30_000);
});
