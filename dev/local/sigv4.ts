import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** A credential the local gateway accepts, and the principal API Gateway would report for it. */
export interface LocalCredential {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly principalArn: string;
}

/** The request as received, before any body parsing. */
export interface SignedRequest {
  readonly method: string;
  /** Path and query exactly as sent on the wire (`/v1/tokens/postgres?X-Amz-…`). */
  readonly url: string;
  /**
   * Header names lowercased. A header sent more than once is a list (from Node's `rawHeaders`): the
   * authentication headers must appear once, other signed headers are joined with `,` as SigV4 says.
   */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body: Buffer;
}

/** API Gateway's answer to a request it refuses before the integration runs. */
export interface SigV4Rejection {
  readonly status: 403;
  readonly errorType: string;
  readonly message: string;
}

export interface SigV4Options {
  readonly region: string;
  readonly service?: string;
  readonly credentials: (accessKeyId: string) => LocalCredential | undefined;
  readonly now?: () => number;
  /** Allowed clock difference for header-signed requests; API Gateway allows 5 minutes. */
  readonly skewMs?: number;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const MISSING = 'Missing Authentication Token';

/**
 * Verify an AWS Signature Version 4 request the way API Gateway's `AWS_IAM` authorization does, in
 * header form (`Authorization: AWS4-HMAC-SHA256 …`) or query-string form (`X-Amz-Signature=…`):
 * the canonical request over method, path, query, signed headers and payload hash; the credential
 * scope (date, region, service `execute-api`); the clock window (5 minutes, or `X-Amz-Expires`); the
 * session token. Returns the credential, or a rejection in API Gateway's words.
 *
 * @example
 * ```ts
 * const result = verifySigV4(request, { region: 'us-east-1', credentials: (id) => store.get(id) });
 * if ('status' in result) return reply(403, { message: result.message });
 * ```
 */
export function verifySigV4(request: SignedRequest, options: SigV4Options): LocalCredential | SigV4Rejection {
  const service = options.service ?? 'execute-api';
  const now = (options.now ?? Date.now)();
  const reject = (errorType: string, message: string): SigV4Rejection => ({
    status: 403,
    errorType,
    message,
  });
  // Origin-form only (`/path?query`): an absolute-form or `//host/…` target names another authority.
  if (!request.url.startsWith('/') || request.url.startsWith('//'))
    return reject('MissingAuthenticationTokenException', MISSING);
  let url: URL;
  try {
    url = new URL(request.url, 'http://gateway');
  } catch {
    return reject('MissingAuthenticationTokenException', MISSING);
  }
  // Each authentication header once: a second Authorization (or date, token, payload hash) is refused,
  // never silently dropped in favour of the first.
  for (const name of SINGLE_HEADERS) {
    const value = request.headers[name];
    if (Array.isArray(value) && value.length > 1)
      return reject('IncompleteSignatureException', `The ${name} header must appear only once.`);
  }
  const header = (name: string): string | undefined => {
    const value = request.headers[name];
    return value === undefined ? undefined : typeof value === 'string' ? value : value.join(',');
  };
  const query = url.searchParams;
  const presigned = query.has('X-Amz-Signature') || query.has('X-Amz-Algorithm');

  let credentialField: string;
  let signedHeadersField: string;
  let signature: string;
  let amzDate: string;
  let token: string | undefined;
  if (presigned) {
    if (query.get('X-Amz-Algorithm') !== ALGORITHM)
      return reject('IncompleteSignatureException', `Unsupported algorithm; use ${ALGORITHM}.`);
    credentialField = query.get('X-Amz-Credential') ?? '';
    signedHeadersField = query.get('X-Amz-SignedHeaders') ?? '';
    signature = query.get('X-Amz-Signature') ?? '';
    amzDate = query.get('X-Amz-Date') ?? '';
    token = query.get('X-Amz-Security-Token') ?? undefined;
  } else {
    const authorization = header('authorization');
    if (!authorization) return reject('MissingAuthenticationTokenException', MISSING);
    if (!authorization.startsWith(`${ALGORITHM} `)) {
      return reject(
        'IncompleteSignatureException',
        `Authorization header requires the '${ALGORITHM}' algorithm.`,
      );
    }
    const fields = authorizationParameters(authorization.slice(ALGORITHM.length + 1));
    if (!fields) {
      return reject(
        'IncompleteSignatureException',
        "Authorization header requires exactly the 'Credential', 'SignedHeaders' and 'Signature' (64 hex digits) parameters.",
      );
    }
    ({ Credential: credentialField, SignedHeaders: signedHeadersField, Signature: signature } = fields);
    amzDate = header('x-amz-date') ?? '';
    token = header('x-amz-security-token');
    const date = header('date');
    if (!amzDate && date) {
      const parsed = new Date(date);
      if (Number.isNaN(parsed.getTime()))
        return reject('IncompleteSignatureException', 'Missing or malformed X-Amz-Date or Date header.');
      amzDate = toAmzDate(parsed);
    }
  }
  if (presigned && !/^[0-9a-f]{64}$/.test(signature))
    return reject('IncompleteSignatureException', 'X-Amz-Signature must be 64 hex digits.');

  const scope = credentialField.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request')
    return reject(
      'IncompleteSignatureException',
      'Credential must have five parts: AKID/date/region/service/aws4_request.',
    );
  const [accessKeyId, date, region, scopeService] = scope as [string, string, string, string, string];
  if (!/^\d{8}T\d{6}Z$/.test(amzDate))
    return reject('IncompleteSignatureException', 'Missing or malformed X-Amz-Date.');
  if (amzDate.slice(0, 8) !== date)
    return reject(
      'InvalidSignatureException',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${date}' != '${amzDate.slice(0, 8)}'`,
    );
  if (scopeService !== service)
    return reject(
      'InvalidSignatureException',
      `Credential should be scoped to correct service: '${service}'.`,
    );
  if (region !== options.region)
    return reject(
      'InvalidSignatureException',
      `Credential should be scoped to a valid region, not '${region}'.`,
    );

  const signedAt = parseAmzDate(amzDate);
  if (presigned) {
    const expires = Number(query.get('X-Amz-Expires') ?? '900');
    if (!Number.isInteger(expires) || expires < 1 || expires > 604_800)
      return reject('IncompleteSignatureException', 'X-Amz-Expires must be 1…604800 seconds.');
    if (now > signedAt + expires * 1000)
      return reject(
        'InvalidSignatureException',
        `Signature expired: ${amzDate} is now earlier than ${toAmzDate(new Date(now - expires * 1000))}.`,
      );
    if (signedAt > now + (options.skewMs ?? 300_000))
      return reject('InvalidSignatureException', 'Signature not yet current.');
  } else {
    const skew = options.skewMs ?? 300_000;
    if (Math.abs(now - signedAt) > skew) {
      const bound = toAmzDate(new Date(now - skew));
      return reject(
        'InvalidSignatureException',
        `Signature expired: ${amzDate} is now earlier than ${bound} (${toAmzDate(new Date(now))} - 5 min.)`,
      );
    }
  }

  const credential = options.credentials(accessKeyId);
  if (!credential)
    return reject('UnrecognizedClientException', 'The security token included in the request is invalid.');
  if ((credential.sessionToken ?? undefined) !== (token ?? undefined)) {
    return reject('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }

  const signedHeaders = signedHeadersField.split(';');
  if (!signedHeaders.includes('host'))
    return reject(
      'InvalidSignatureException',
      "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    );
  if (
    signedHeaders.some((h) => h !== h.toLowerCase()) ||
    [...signedHeaders].sort().join(';') !== signedHeadersField
  ) {
    return reject('InvalidSignatureException', 'SignedHeaders must be lowercase and sorted.');
  }

  const mismatch = () =>
    reject(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  // The signature always covers the hash of the body as received, as API Gateway computes it: a
  // claimed `X-Amz-Content-SHA256` (UNSIGNED-PAYLOAD included) must equal it, so a body changed after
  // signing never verifies.
  const payloadHash = sha256Hex(request.body);
  const claimed = header('x-amz-content-sha256');
  if (claimed !== undefined && claimed !== payloadHash) return mismatch();
  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalPath(url.pathname),
    canonicalQuery(request.url, presigned),
    ...signedHeaders.map((name) => `${name}:${canonicalHeaderValue(request.headers[name])}`),
    '',
    signedHeadersField,
    payloadHash,
  ].join('\n');
  const stringToSign = [
    ALGORITHM,
    amzDate,
    `${date}/${region}/${service}/aws4_request`,
    sha256Hex(Buffer.from(canonicalRequest)),
  ].join('\n');
  const key = signingKey(credential.secretAccessKey, date, region, service);
  const expected = hmac(key, stringToSign).toString('hex');
  const given = Buffer.from(signature, 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, Buffer.from(expected, 'utf8')))
    return mismatch();
  return credential;
}

// Derived keys change once a day per credential; deriving one costs four HMACs.
const signingKeys = new Map<string, Buffer>();

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const id = `${secret}\u0000${date}\u0000${region}\u0000${service}`;
  let key = signingKeys.get(id);
  if (!key) {
    key = hmac(hmac(hmac(hmac(Buffer.from(`AWS4${secret}`), date), region), service), 'aws4_request');
    if (signingKeys.size > 1000) signingKeys.clear();
    signingKeys.set(id, key);
  }
  return key;
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters, uppercase hex. */
function encode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Non-S3 services: normalise the path, then encode each (already encoded) segment once more. */
function canonicalPath(pathname: string): string {
  const segments: string[] = [];
  for (const segment of pathname.split('/')) {
    if (segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normalised = segments.join('/') || '/';
  return normalised
    .split('/')
    .map((segment) => encode(segment))
    .join('/');
}

function canonicalQuery(rawUrl: string, presigned: boolean): string {
  const at = rawUrl.indexOf('?');
  if (at < 0) return '';
  const raw = rawUrl.slice(at + 1);
  const pairs = raw
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const [k, v = ''] = pair.split('=', 2) as [string, string?];
      return [encode(decode(k)), encode(decode(v))] as const;
    })
    .filter(([k]) => !(presigned && k === 'X-Amz-Signature'));
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function canonicalHeaderValue(value: string | readonly string[] | undefined): string {
  const values = value === undefined ? [''] : typeof value === 'string' ? [value] : value;
  return values.map((v) => v.trim().replace(/\s+/g, ' ')).join(',');
}

/** Headers that carry the authentication itself: each must appear at most once. */
const SINGLE_HEADERS = [
  'authorization',
  'x-amz-date',
  'date',
  'x-amz-security-token',
  'x-amz-content-sha256',
  'host',
];

type AuthorizationParameters = { Credential: string; SignedHeaders: string; Signature: string };

/**
 * `Credential=…, SignedHeaders=…, Signature=…`, strictly: those three, once each, nothing else; no
 * second `=` in a value (so `Signature=<valid>=junk` is refused); the signature is 64 lowercase hex.
 */
function authorizationParameters(text: string): AuthorizationParameters | undefined {
  const fields: Record<string, string> = {};
  for (const part of text.split(',')) {
    const match = /^\s*(Credential|SignedHeaders|Signature)=([^=\s,]+)\s*$/.exec(part);
    if (!match || Object.hasOwn(fields, match[1]!)) return undefined;
    fields[match[1]!] = match[2]!;
  }
  const { Credential, SignedHeaders, Signature } = fields;
  if (!Credential || !SignedHeaders || !Signature || !/^[0-9a-f]{64}$/.test(Signature)) return undefined;
  return { Credential, SignedHeaders, Signature };
}

function parseAmzDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value)!;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

function toAmzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}
