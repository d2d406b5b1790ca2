import { randomBytes } from 'node:crypto';
import { STSClient } from '@aws-sdk/client-sts';
import type { LocalCredential } from '../../dev/local/sigv4';
import { type LocalSts, type LocalStsOptions, startLocalSts } from '../../dev/local/sts';
import type { ConfigInput } from '../../lambda/config/schema';
import { VENDOR_ROLE } from './emulator';
import { ROLE_ARN } from './events';

export const VENDOR_ACCOUNT_ID = '123456789012';
/** The vendor function's role, and the session Lambda runs it as. */
export const VENDOR_FUNCTION_ROLE_ARN = `arn:aws:iam::${VENDOR_ACCOUNT_ID}:role/token-vendor-fn`;
export const VENDOR_SESSION_ARN = `arn:aws:sts::${VENDOR_ACCOUNT_ID}:assumed-role/token-vendor-fn/token-vendor-http`;
export const KEYLESS_USER = 'KEYLESS_SVC';

export interface WifFixture {
  readonly sts: LocalSts;
  readonly credential: LocalCredential;
  /** A real STS client of the SDK, pointed at the local STS and signing with the vendor's credential. */
  stsClient(credential?: LocalCredential): STSClient;
}

/**
 * A local STS that knows the vendor function's session credential. Close `sts` when done.
 *
 * @example
 * ```ts
 * const wif = await wifFixture();
 * emulator.addUser({ name: KEYLESS_USER, roles: [VENDOR_ROLE], workloadIdentity: { arn: VENDOR_FUNCTION_ROLE_ARN, issuer: wif.sts.issuer } });
 * ```
 */
export async function wifFixture(options: Partial<LocalStsOptions> = {}): Promise<WifFixture> {
  const credential: LocalCredential = {
    accessKeyId: `ASIATEST${randomBytes(6).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64url'),
    sessionToken: randomBytes(40).toString('base64url'),
    principalArn: VENDOR_SESSION_ARN,
  };
  const sts = await startLocalSts({ credentials: [credential], region: 'us-east-1', ...options });
  return {
    sts,
    credential,
    stsClient: (c = credential) =>
      new STSClient({
        region: 'us-east-1',
        endpoint: sts.url,
        maxAttempts: 1,
        credentials: {
          accessKeyId: c.accessKeyId,
          secretAccessKey: c.secretAccessKey,
          ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}),
        },
      }),
  };
}

/** A config whose only connection is keyless (`keyless`), with instance `reporting_server` granted to {@link ROLE_ARN}. */
export function keylessConfig(
  apiBaseUrl: string,
  usernames: readonly string[] = ['reporting_user'],
): ConfigInput {
  return {
    connections: {
      keyless: {
        account: 'myorg-acct',
        user: KEYLESS_USER,
        role: VENDOR_ROLE,
        apiBaseUrl,
        workloadIdentity: { provider: 'AWS', region: 'us-east-1' },
      },
    },
    postgresInstances: [
      {
        connection: 'keyless',
        instance: 'reporting_server',
        host: 'h.example',
        allowedUsers: [...usernames],
      },
    ],
    grants: [
      { principal: ROLE_ARN, postgres: [{ instance: 'reporting_server', usernames: [...usernames] }] },
    ],
  };
}
