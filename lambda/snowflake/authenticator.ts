import type { Signer } from '../keys/signer';
import { SingleFlight } from '../single-flight';
import { type KeyPairJwt, mintKeyPairJwt } from './jwt';

/** How the vendor signs in to Snowflake: a key-pair JWT, or its IAM role's workload identity. */
export type SnowflakeAuthKind = 'keypair' | 'wif';

/** What one SQL API request carries in `Authorization` and `X-Snowflake-Authorization-Token-Type`. */
export interface SqlApiCredential {
  /** The bearer value (`<jwt>` or `WIF.AWS.<jwt>`). */
  readonly bearer: string;
  readonly tokenType: 'KEYPAIR_JWT' | 'WORKLOAD_IDENTITY_FEDERATION';
  /** Epoch ms after which a fresh credential is fetched before the next request. */
  readonly refreshAt: number;
  /** Non-secret description for error messages (`MYORG-ACCT.SVC with key SHA256:…`, a role ARN). */
  readonly identity: string;
}

/**
 * The SQL API client's sign-in, one implementation per {@link SnowflakeAuthKind}. Each keeps one
 * credential until its refresh time and makes at most one in-flight call for a new one.
 */
export interface SqlApiAuthenticator {
  readonly kind: SnowflakeAuthKind;
  /** The credential to send now (cached; one in-flight call). */
  credential(): Promise<SqlApiCredential>;
  /** Snowflake refused `used` with `snowflakeCode`: drop it (and re-read what may have changed under us). */
  invalidate(used: SqlApiCredential, snowflakeCode: string): void;
  /** The message of the error thrown when Snowflake refuses a fresh credential too. */
  refusal(used: SqlApiCredential, snowflakeCode: string, said: string | undefined): string;
}

/** A credential cache with one in-flight fetch, shared by the authenticators. */
export class CredentialCache<C extends { readonly refreshAt: number }> {
  #current: C | undefined;
  readonly #flight = new SingleFlight<'credential', C>();

  constructor(
    private readonly fetchCredential: () => Promise<C>,
    private readonly now: () => number,
  ) {}

  async get(): Promise<C> {
    const cached = this.#current;
    if (cached && this.now() < cached.refreshAt) return cached;
    const { value } = await this.#flight.run('credential', async () => {
      const fresh = await this.fetchCredential();
      this.#current = fresh;
      return fresh;
    });
    return value;
  }

  /** Drop `used` if it is still the cached one. */
  drop(used: unknown): void {
    if (this.#current === used) this.#current = undefined;
  }
}

/** JWT codes whose real cause may be a key rotated under us: re-read the key before the one retry. */
const KEY_SUSPECT = new Set(['394304', '390144']);
/** Renew the cached JWT after 90 % of its lifetime (Snowflake's sample: 54 of 59 minutes). */
const JWT_RENEW_RATIO = 0.9;

const KEYPAIR_HINTS: Record<string, string> = {
  '394304':
    'that public key is not registered for the user (compare RSA_PUBLIC_KEY_FP / RSA_PUBLIC_KEY_2_FP in DESC USER)',
  '390144':
    'the JWT is invalid; the usual causes are a public key not registered for the user or a wrong account form',
  '394300': 'the user in the issuer does not exist',
  '394307':
    'the account in the JWT does not match the account in the URL (check the account identifier form)',
  '394302': "the JWT's issue time is invalid (check the clock)",
  '394303': 'the JWT has expired',
  '390198': 'the key-pair JWT has expired',
  '394305': 'the JWT algorithm is not RS256',
  '390101': 'the request carried no usable Authorization header',
};

export interface KeyPairAuthenticatorOptions {
  readonly account: string;
  readonly user: string;
  readonly signer: Signer;
  readonly jwtLifetimeSeconds?: number;
  readonly now?: () => number;
}

/** Key-pair sign-in: an RS256 JWT signed by the connection's key, reused until 90 % of its life. */
export class KeyPairAuthenticator implements SqlApiAuthenticator {
  readonly kind = 'keypair' as const;
  readonly signer: Signer;
  readonly #cache: CredentialCache<SqlApiCredential & { readonly jwt: KeyPairJwt }>;

  constructor(options: KeyPairAuthenticatorOptions) {
    const now = options.now ?? Date.now;
    this.signer = options.signer;
    this.#cache = new CredentialCache(async () => {
      const jwt = await mintKeyPairJwt({
        account: options.account,
        user: options.user,
        signer: options.signer,
        lifetimeSeconds: options.jwtLifetimeSeconds,
        refreshRatio: JWT_RENEW_RATIO,
        now,
      });
      return {
        bearer: jwt.token,
        tokenType: 'KEYPAIR_JWT',
        refreshAt: jwt.refreshAt.getTime(),
        identity: `${jwt.account}.${jwt.user} signed with public key ${jwt.publicKeyFingerprint}`,
        jwt,
      };
    }, now);
  }

  credential(): Promise<SqlApiCredential> {
    return this.#cache.get();
  }

  invalidate(used: SqlApiCredential, snowflakeCode: string): void {
    this.#cache.drop(used);
    if (KEY_SUSPECT.has(snowflakeCode)) this.signer.refresh();
  }

  refusal(used: SqlApiCredential, snowflakeCode: string, said: string | undefined): string {
    const hint = KEYPAIR_HINTS[snowflakeCode] ?? firstLine(said) ?? 'authentication failed';
    return `Snowflake refused the key-pair JWT for ${used.identity} (code ${snowflakeCode}): ${hint}.`;
  }
}

/** The first line of what Snowflake said, bounded. */
export function firstLine(said: string | undefined): string | undefined {
  return said ? said.split('\n')[0]!.slice(0, 200) : undefined;
}
