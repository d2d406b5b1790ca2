import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { exportJWK, SignJWT } from 'jose';
import { LoopbackServer, readBoundedBody } from '../loopback';
import { signedHeaders } from './gateway';
import { type LocalCredential, verifySigV4 } from './sigv4';

export interface LocalStsOptions {
  /** The credentials STS accepts, each with the principal it belongs to (an assumed-role session ARN). */
  readonly credentials: readonly LocalCredential[];
  readonly region?: string;
  /** 0 (default) picks a free port. Always bound to 127.0.0.1. */
  readonly port?: number;
  /** Clock of the issued tokens (SigV4 is verified against real time: the SDK signs with it). */
  readonly now?: () => number;
  /**
   * The IAM decision for one `GetWebIdentityToken` call (`sts:IdentityTokenAudience`,
   * `sts:DurationSeconds` conditions); default: allowed.
   */
  readonly allow?: (call: {
    principalArn: string;
    audience: readonly string[];
    durationSeconds: number;
  }) => boolean;
}

/** One token the local STS issued (its claims; the token itself is not kept). */
export interface IssuedWebIdentityToken {
  readonly principalArn: string;
  readonly roleArn: string;
  readonly audience: readonly string[];
  readonly algorithm: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const MAX_BODY_BYTES = 64 * 1024;
const ALGORITHMS = new Set(['ES384', 'RS256']);

/**
 * A local AWS STS that answers `GetWebIdentityToken` as the regional endpoint does: the AWS Query
 * protocol (form-encoded POST, XML answers and XML errors), every call SigV4-verified with service
 * `sts`, tokens signed with its own ES384 (or RS256) key, and the OIDC discovery document and JWKS
 * served unsigned at the issuer URL, as AWS serves them for an account's outbound issuer. The issuer is
 * the server's own URL. Outbound federation can be switched off to play an account that never enabled it.
 *
 * @example
 * ```ts
 * const sts = await startLocalSts({ credentials: [{ accessKeyId, secretAccessKey, principalArn }] });
 * const client = new STSClient({ region: 'us-east-1', endpoint: sts.url, credentials: { accessKeyId, secretAccessKey } });
 * ```
 */
export class LocalSts extends LoopbackServer {
  /** Set false to answer every call with OutboundWebIdentityFederationDisabledException. */
  federationEnabled = true;
  readonly issued: IssuedWebIdentityToken[] = [];
  readonly #credentials: Map<string, LocalCredential>;
  readonly #now: () => number;
  readonly #keys = new Map<string, { kid: string; privateKey: KeyObject; publicKey: KeyObject }>();

  constructor(private readonly options: LocalStsOptions) {
    super(options.port ?? 0, 1000);
    this.#credentials = new Map(options.credentials.map((c) => [c.accessKeyId, c]));
    this.#now = options.now ?? Date.now;
  }

  /** The issuer URL tokens carry in `iss` (its discovery document is at `/.well-known/openid-configuration`). */
  get issuer(): string {
    return this.url;
  }

  protected crashed(res: ServerResponse): void {
    xmlError(res, 500, 'Receiver', 'InternalFailure', 'Internal failure.');
  }

  /** Sign a token with this issuer's key as STS would, with any claims (tests forge the hostile ones). */
  async sign(claims: Record<string, unknown>, algorithm = 'ES384'): Promise<string> {
    const key = this.#key(algorithm);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: algorithm, kid: key.kid, typ: 'JWT' })
      .sign(key.privateKey);
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sts');
    if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      return json(res, {
        issuer: this.issuer,
        jwks_uri: `${this.issuer}/.well-known/jwks.json`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: [...ALGORITHMS],
      });
    }
    if (req.method === 'GET' && url.pathname === '/.well-known/jwks.json') {
      // Both keys are always published, so a verifier never depends on which one was used first.
      this.#key('ES384');
      this.#key('RS256');
      const keys = await Promise.all(
        [...this.#keys.entries()].map(async ([alg, key]) => ({
          ...(await exportJWK(key.publicKey)),
          kid: key.kid,
          alg,
          use: 'sig',
        })),
      );
      return json(res, { keys });
    }
    if (req.method !== 'POST' || url.pathname !== '/')
      return xmlError(res, 404, 'Sender', 'InvalidAction', 'Could not find operation for this request.');

    const body = await readBoundedBody(req, MAX_BODY_BYTES);
    if (!body) return xmlError(res, 413, 'Sender', 'RequestEntityTooLarge', 'Request body too large.');
    let verified: ReturnType<typeof verifySigV4>;
    try {
      verified = verifySigV4(
        { method: 'POST', url: req.url ?? '/', headers: signedHeaders(req.rawHeaders), body },
        {
          region: this.options.region ?? 'us-east-1',
          service: 'sts',
          credentials: (id) => this.#credentials.get(id),
        },
      );
    } catch {
      verified = { status: 403, errorType: 'IncompleteSignatureException', message: 'Malformed request.' };
    }
    if ('status' in verified)
      return xmlError(res, 403, 'Sender', stsCodeOf(verified.errorType), verified.message);

    if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? ''))
      return xmlError(
        res,
        400,
        'Sender',
        'InvalidParameterValue',
        'Use Content-Type application/x-www-form-urlencoded.',
      );
    const form = new URLSearchParams(body.toString('utf8'));
    const names = [...form.keys()];
    const repeated = names.find((name, i) => names.indexOf(name) !== i);
    if (repeated)
      return xmlError(res, 400, 'Sender', 'ValidationError', `Parameter ${repeated} appears more than once.`);
    if (form.get('Action') !== 'GetWebIdentityToken')
      return xmlError(
        res,
        400,
        'Sender',
        'InvalidAction',
        `Could not find operation ${form.get('Action') ?? ''}.`,
      );
    if (form.get('Version') !== '2011-06-15')
      return xmlError(res, 400, 'Sender', 'InvalidParameterValue', 'Version must be 2011-06-15.');

    const audience: string[] = [];
    for (let n = 1; form.has(`Audience.member.${n}`); n += 1)
      audience.push(form.get(`Audience.member.${n}`)!);
    const known = new Set(['Action', 'Version', 'SigningAlgorithm', 'DurationSeconds']);
    const unknown = names.find((name) => !known.has(name) && !/^Audience\.member\.([1-9]\d*)$/.test(name));
    if (unknown)
      return xmlError(res, 400, 'Sender', 'ValidationError', `Parameter ${unknown} is not recognized.`);
    if (audience.length !== names.filter((n) => n.startsWith('Audience.member.')).length)
      return xmlError(
        res,
        400,
        'Sender',
        'ValidationError',
        'Audience members must be numbered from 1 without gaps.',
      );
    if (
      audience.length < 1 ||
      audience.length > 10 ||
      audience.some((a) => a.length < 1 || a.length > 1000)
    ) {
      return xmlError(
        res,
        400,
        'Sender',
        'ValidationError',
        'Audience must have 1 to 10 members of 1 to 1000 characters.',
      );
    }
    const algorithm = form.get('SigningAlgorithm') ?? '';
    if (!ALGORITHMS.has(algorithm))
      return xmlError(res, 400, 'Sender', 'ValidationError', 'SigningAlgorithm must be RS256 or ES384.');
    const durationText = form.get('DurationSeconds') ?? '300';
    const durationSeconds = /^\d{1,4}$/.test(durationText) ? Number(durationText) : Number.NaN;
    if (!(durationSeconds >= 60 && durationSeconds <= 3600))
      return xmlError(res, 400, 'Sender', 'ValidationError', 'DurationSeconds must be from 60 to 3600.');

    if (!this.federationEnabled) {
      return xmlError(
        res,
        403,
        'Sender',
        'OutboundWebIdentityFederationDisabledException',
        'Outbound web identity federation is disabled for this account.',
      );
    }
    const principalArn = verified.principalArn;
    if (this.options.allow && !this.options.allow({ principalArn, audience, durationSeconds })) {
      return xmlError(
        res,
        403,
        'Sender',
        'AccessDenied',
        `User: ${principalArn} is not authorized to perform: sts:GetWebIdentityToken`,
      );
    }
    const roleArn = roleOf(principalArn);
    const account = /^arn:[^:]+:(?:iam|sts)::(\d{12}):/.exec(principalArn)?.[1] ?? '000000000000';
    const iat = Math.floor(this.#now() / 1000);
    const exp = iat + durationSeconds;
    const token = await this.sign(
      {
        iss: this.issuer,
        aud: audience.length === 1 ? audience[0] : audience,
        sub: roleArn,
        iat,
        exp,
        jti: randomUUID(),
        'https://sts.amazonaws.com/': {
          aws_account: account,
          source_region: this.options.region ?? 'us-east-1',
          principal_id: roleArn,
        },
      },
      algorithm,
    );
    this.issued.push({
      principalArn,
      roleArn,
      audience,
      algorithm,
      issuedAt: iat * 1000,
      expiresAt: exp * 1000,
    });
    const body2 =
      `<GetWebIdentityTokenResponse xmlns="${XMLNS}">` +
      `<GetWebIdentityTokenResult><WebIdentityToken>${token}</WebIdentityToken>` +
      `<Expiration>${new Date(exp * 1000).toISOString()}</Expiration></GetWebIdentityTokenResult>` +
      `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata>` +
      `</GetWebIdentityTokenResponse>`;
    res.writeHead(200, { 'Content-Type': 'text/xml', 'x-amzn-RequestId': randomUUID() });
    res.end(body2);
  }

  #key(algorithm: string): { kid: string; privateKey: KeyObject; publicKey: KeyObject } {
    let key = this.#keys.get(algorithm);
    if (!key) {
      const pair =
        algorithm === 'RS256'
          ? generateKeyPairSync('rsa', { modulusLength: 2048 })
          : generateKeyPairSync('ec', { namedCurve: 'P-384' });
      key = { kid: randomUUID(), ...pair };
      this.#keys.set(algorithm, key);
    }
    return key;
  }
}

/**
 * Start a local STS and wait until it listens.
 *
 * @example
 * ```ts
 * const sts = await startLocalSts({ credentials });
 * ```
 */
export function startLocalSts(options: LocalStsOptions): Promise<LocalSts> {
  return new LocalSts(options).listen();
}

/** STS's XML error codes for the signature failures the verifier names in API Gateway's words. */
function stsCodeOf(errorType: string): string {
  switch (errorType) {
    case 'UnrecognizedClientException':
      return 'InvalidClientTokenId';
    case 'InvalidSignatureException':
      return 'SignatureDoesNotMatch';
    case 'MissingAuthenticationTokenException':
      return 'MissingAuthenticationToken';
    default:
      return 'IncompleteSignature';
  }
}

function roleOf(principal: string): string {
  const session = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(principal);
  return session ? `arn:${session[1]}:iam::${session[2]}:role/${session[3]}` : principal;
}

function xmlError(res: ServerResponse, status: number, type: string, code: string, message: string): void {
  const escaped = message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  res.writeHead(status, { 'Content-Type': 'text/xml' });
  res.end(
    `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${code}</Code>` +
      `<Message>${escaped}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );
}

function json(res: ServerResponse, value: unknown): void {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(value));
}
