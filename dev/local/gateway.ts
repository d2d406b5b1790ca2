import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { openApiDocument } from '../../lambda/api/openapi';
import { ROUTES, tokenTypeOf } from '../../lambda/api/routes';
import { LoopbackServer } from '../loopback';
import { type LocalCredential, verifySigV4 } from './sigv4';

export type ProxyHandler = (
  event: APIGatewayProxyEvent,
  context: Context,
) => Promise<APIGatewayProxyResult | undefined>;

export interface LocalGatewayOptions {
  /** The same handler the Lambda runs (`createHttpHandler(…)`). */
  readonly handler: ProxyHandler;
  readonly credentials: readonly LocalCredential[];
  /** Region in the SigV4 credential scope; default us-east-1. */
  readonly region?: string;
  /** Default 8787; 0 picks a free port. Always bound to 127.0.0.1. */
  readonly port?: number;
  readonly now?: () => number;
  /** Lambda timeout the handler sees through getRemainingTimeInMillis; default 25 s. */
  readonly timeoutMs?: number;
}

/** API Gateway refuses payloads over 10 MB before the integration. */
const MAX_PAYLOAD = 10 * 1024 * 1024;

/**
 * A local stand-in for the deployed REST API: it verifies SigV4 exactly as `AWS_IAM` authorization
 * does (header and query-string forms, session tokens, the 5-minute window, the canonical request,
 * service `execute-api` in the configured region), maps the access key to a principal through a local
 * credentials file, answers refusals with API Gateway's own 403 shapes, and otherwise builds the REST
 * proxy event and runs the real handler.
 *
 * @example
 * ```ts
 * const gw = await startLocalGateway({ handler, credentials: [demo], port: 8787 });
 * ```
 */
export class LocalGateway extends LoopbackServer {
  readonly #credentials: Map<string, LocalCredential>;

  constructor(private readonly options: LocalGatewayOptions) {
    super(options.port ?? 8787, 5000);
    this.#credentials = new Map(options.credentials.map((c) => [c.accessKeyId, c]));
  }

  protected crashed(res: ServerResponse): void {
    apiGatewayError(res, 500, 'InternalServerErrorException', 'Internal server error');
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (!body) return tooLong(req);
    const target = req.url ?? '/';
    let url: URL;
    try {
      // Origin-form only: `//other-host/v1/…` or `http://host/v1/…` never runs as `/v1/…`.
      if (!target.startsWith('/') || target.startsWith('//')) throw new Error('not origin-form');
      url = new URL(target, 'http://gateway');
    } catch {
      return apiGatewayError(res, 403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    }
    const path = url.pathname.replace(/\/+$/, '') || '/';
    // The API's description is public, as a published spec is: served unsigned.
    if (req.method === 'GET' && path === '/openapi.json') return serveOpenApi(res);
    // REST APIs answer an undefined resource or method with 403 Missing Authentication Token.
    const tokenType = tokenTypeOf(path);
    if (!tokenType || req.method !== ROUTES[tokenType].method) {
      return apiGatewayError(res, 403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]),
    );
    let verified: ReturnType<typeof verifySigV4>;
    try {
      verified = verifySigV4(
        { method: req.method, url: target, headers: signedHeaders(req.rawHeaders), body },
        {
          region: this.options.region ?? 'us-east-1',
          credentials: (id) => this.#credentials.get(id),
          now: this.options.now,
        },
      );
    } catch {
      // Fail closed: whatever the verifier could not read is a refusal, never a 5xx.
      verified = { status: 403, errorType: 'IncompleteSignatureException', message: 'Malformed request.' };
    }
    if ('status' in verified) return apiGatewayError(res, 403, verified.errorType, verified.message);

    const requestId = randomUUID();
    const event = restProxyEvent(
      req,
      headers,
      url,
      path,
      body,
      verified,
      requestId,
      this.options.now ?? Date.now,
    );
    const started = Date.now();
    const timeout = this.options.timeoutMs ?? 25_000;
    const context = {
      callbackWaitsForEmptyEventLoop: false,
      functionName: 'token-vendor-http-local',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:token-vendor-http-local',
      memoryLimitInMB: '512',
      awsRequestId: randomUUID(),
      logGroupName: 'local',
      logStreamName: 'local',
      getRemainingTimeInMillis: () => Math.max(0, timeout - (Date.now() - started)),
      done: () => {},
      fail: () => {},
      succeed: () => {},
    } satisfies Context;
    const result = await this.options.handler(event, context);
    if (!result) return apiGatewayError(res, 502, 'InternalServerErrorException', 'Internal server error');
    // A string body lets Node send headers and body in one write (a Buffer takes the writev path).
    const payload: string | Buffer = result.isBase64Encoded
      ? Buffer.from(result.body, 'base64')
      : (result.body ?? '');
    const out: Record<string, string | number> = {
      'x-amzn-RequestId': requestId,
      'Content-Length': Buffer.byteLength(payload),
    };
    for (const [name, value] of Object.entries(result.headers ?? {})) out[name] = String(value);
    res.writeHead(result.statusCode, out);
    res.end(payload);
  }
}

/**
 * Start a gateway and wait until it listens.
 *
 * @example
 * ```ts
 * const gw = await startLocalGateway({ handler, credentials, port: 0 });
 * ```
 */
export function startLocalGateway(options: LocalGatewayOptions): Promise<LocalGateway> {
  return new LocalGateway(options).listen();
}

/** The REST API proxy event API Gateway sends for an `AWS_IAM` method, as the verified credential. */
function restProxyEvent(
  req: IncomingMessage,
  headers: Record<string, string>,
  url: URL,
  path: string,
  body: Buffer,
  credential: LocalCredential,
  requestId: string,
  now: () => number,
): APIGatewayProxyEvent {
  const multiValueHeaders = Object.fromEntries(
    Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v : [v ?? '']]),
  );
  const query = [...url.searchParams.keys()];
  const accountId = credential.principalArn.split(':')[4] ?? null;
  const caller = credential.principalArn.includes(':assumed-role/')
    ? `AROALOCAL:${credential.principalArn.split('/').pop()}`
    : 'AIDALOCAL';
  return {
    resource: path,
    path,
    httpMethod: 'POST',
    headers,
    multiValueHeaders,
    queryStringParameters: query.length ? Object.fromEntries(url.searchParams) : null,
    multiValueQueryStringParameters: query.length
      ? Object.fromEntries(query.map((k) => [k, url.searchParams.getAll(k)]))
      : null,
    pathParameters: null,
    stageVariables: null,
    body: body.length ? body.toString('utf8') : null,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: `HTTP/${req.httpVersion}`,
      httpMethod: 'POST',
      path,
      stage: 'local',
      requestId,
      requestTimeEpoch: now(),
      resourceId: 'local',
      resourcePath: path,
      identity: {
        accessKey: credential.accessKeyId,
        accountId,
        apiKey: null,
        apiKeyId: null,
        caller,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
        user: caller,
        userAgent: req.headers['user-agent'] ?? null,
        userArn: credential.principalArn,
      },
    },
  };
}

let openApiText: string | undefined;

function serveOpenApi(res: ServerResponse): void {
  openApiText ??= `${JSON.stringify(openApiDocument(), null, 2)}\n`;
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(openApiText),
    'x-amzn-RequestId': randomUUID(),
  });
  res.end(openApiText);
}

function apiGatewayError(res: ServerResponse, status: number, errorType: string, message: string): void {
  const body = JSON.stringify({ message });
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'x-amzn-ErrorType': errorType,
    'x-amzn-RequestId': randomUUID(),
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * Header values as received, from `rawHeaders`: Node keeps only the first of a repeated
 * `Authorization`, so the verifier sees every copy and can refuse a second one.
 */
export function signedHeaders(raw: readonly string[]): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const seen = headers[name];
    headers[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return headers;
}

/**
 * The body, or undefined past {@link MAX_PAYLOAD}: a declared `Content-Length` over the limit is refused
 * before reading, and a streamed body stops being read at the limit (nothing more is buffered).
 */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_PAYLOAD) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_PAYLOAD) {
        req.off('data', onData);
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * 413, then a lingering close. The answer is written straight to the socket, which is half-closed; the
 * rest of the body is read and discarded for at most a second, then the socket is destroyed. Answering
 * through `res` would not do: Node's server destroys a `Connection: close` socket as soon as the answer
 * is flushed, and a peer still sending gets a reset, which can discard the 413 before it reads it.
 * Nothing of the body is buffered.
 */
function tooLong(req: IncomingMessage): void {
  const socket = req.socket;
  const body = JSON.stringify({ message: 'Request Too Long' });
  socket.end(
    [
      'HTTP/1.1 413 Payload Too Large',
      'Content-Type: application/json',
      'x-amzn-ErrorType: RequestTooLongException',
      `x-amzn-RequestId: ${randomUUID()}`,
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Connection: close',
      '',
      body,
    ].join('\r\n'),
  );
  req.on('data', () => {});
  req.resume();
  setTimeout(() => socket.destroy(), 1000).unref();
}
