import { constants, privateEncrypt, randomBytes } from 'node:crypto';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  DecryptCommand,
  GenerateDataKeyCommand,
  GetPublicKeyCommand,
  KMSClient,
  SignCommand,
} from '@aws-sdk/client-kms';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import type { SnowflakeEmulatorOptions } from '../../dev/emulator/server';
import { AuditLog, type AuditSink } from '../../lambda/audit/audit-log';
import type { AuditRecord } from '../../lambda/audit/record';
import { parseConfig } from '../../lambda/config/load';
import type { ConfigInput } from '../../lambda/config/schema';
import { createDirectHandler } from '../../lambda/handlers/direct';
import { createHttpHandler } from '../../lambda/handlers/http';
import { createRuntime, type Runtime, type RuntimeOptions } from '../../lambda/runtime';
import { type EmulatorFixture, emulatorFixture } from './emulator';
import { ROLE_ARN } from './events';
import { fixtureKeyPair } from './keys';

export const OAUTH_CLIENT_SECRET = 'oauth-client-secret-7f3a9c';
export const PASSPHRASE = 'vendor-key-passphrase-91b2';

export interface VendingHarness extends EmulatorFixture {
  readonly runtime: Runtime;
  readonly http: ReturnType<typeof createHttpHandler>;
  readonly direct: ReturnType<typeof createDirectHandler>;
  readonly sealedDirect: ReturnType<typeof createDirectHandler>;
  readonly records: AuditRecord[];
  readonly sm: AwsClientStub<SecretsManagerClient>;
  readonly kms: AwsClientStub<KMSClient>;
  /** Every secret string the harness handed out, for leak assertions. */
  readonly secrets: readonly string[];
  close(): Promise<void>;
}

const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * The real handlers over the real vendor, SQL API client and emulator. Secrets Manager and KMS are
 * mocked at the SDK boundary: the key secret is an encrypted PKCS#8 PEM with its passphrase, KMS signs
 * with a real RSA key and "encrypts" reversibly so tests can check the envelope.
 *
 * @example
 * ```ts
 * const h = await vendingHarness();
 * const res = await h.http(restEvent('/v1/tokens/postgres', body, ROLE_SESSION), lambdaContext());
 * ```
 */
export async function vendingHarness(
  options: {
    now?: () => number;
    emulator?: Partial<SnowflakeEmulatorOptions>;
    config?: (c: ConfigInput) => void;
    auditSink?: AuditSink;
    /** The handlers' EMF metrics; default: a `TokenVendorTest` namespace. */
    metrics?: Metrics;
    /** More runtime options (a DynamoDB client, the environment the stack would set, …). */
    runtime?: Partial<RuntimeOptions>;
  } = {},
): Promise<VendingHarness> {
  const kmsKey = fixtureKeyPair('kms');
  const fx = await emulatorFixture({
    ...(options.now ? { now: options.now } : {}),
    publicKey2: kmsKey.publicKey,
    oauthClients: [
      {
        clientId: 'token-vendor',
        clientSecret: OAUTH_CLIENT_SECRET,
        allowedScopes: ['useraccount', 'admin'],
        expiresIn: 3600,
      },
    ],
    ...options.emulator,
  });
  // Instances, not classes, are mocked so that several harnesses can live side by side.
  const smClient = new SecretsManagerClient({ region: 'us-east-1' });
  const kmsClient = new KMSClient({ region: 'us-east-1' });
  const sm = mockClient(smClient);
  const kms = mockClient(kmsClient);
  const pem = fx.key.privateKey
    .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSPHRASE })
    .toString();
  sm.on(GetSecretValueCommand, { SecretId: 'tv/demo' }).resolves({
    SecretString: JSON.stringify({ privateKey: pem, passphrase: PASSPHRASE }),
    VersionId: 'v1',
  });
  sm.on(GetSecretValueCommand, { SecretId: 'tv/oauth' }).resolves({
    SecretString: JSON.stringify({ clientSecret: OAUTH_CLIENT_SECRET }),
  });
  kms.on(GetPublicKeyCommand).resolves({
    KeyId: 'arn:aws:kms:us-east-1:111122223333:key/k1',
    PublicKey: new Uint8Array(kmsKey.publicKey.export({ type: 'spki', format: 'der' })),
    KeySpec: 'RSA_2048',
    KeyUsage: 'SIGN_VERIFY',
    SigningAlgorithms: ['RSASSA_PKCS1_V1_5_SHA_256'],
  });
  kms.on(SignCommand).callsFake((input: { Message: Uint8Array }) => ({
    Signature: privateEncrypt(
      { key: kmsKey.privateKey, padding: constants.RSA_PKCS1_PADDING },
      Buffer.concat([SHA256_DIGEST_INFO, input.Message]),
    ),
  }));
  // Data keys: real random AES keys; the "KMS ciphertext" is reversible here and bound to the
  // encryption context, so Decrypt with another context fails as KMS's would.
  kms
    .on(GenerateDataKeyCommand)
    .callsFake((input: { KeyId: string; EncryptionContext?: Record<string, string> }) => {
      const key = randomBytes(32);
      const keyArn = `arn:aws:kms:us-east-1:111122223333:key/envelope-${input.KeyId.replace(/\W/g, '')}`;
      return {
        KeyId: keyArn,
        Plaintext: new Uint8Array(key),
        CiphertextBlob: Buffer.from(
          JSON.stringify({ key: key.toString('base64'), context: input.EncryptionContext ?? {}, keyArn }),
        ),
      };
    });
  kms
    .on(DecryptCommand)
    .callsFake(
      (input: { CiphertextBlob: Uint8Array; EncryptionContext?: Record<string, string>; KeyId?: string }) => {
        const sealed = JSON.parse(Buffer.from(input.CiphertextBlob).toString()) as {
          key: string;
          context: Record<string, string>;
          keyArn: string;
        };
        // KMS compares the context as a set of pairs: the order they come in does not matter.
        const pairs = (c: Record<string, string>) => JSON.stringify(Object.entries(c).sort());
        if (pairs(sealed.context) !== pairs(input.EncryptionContext ?? {}))
          throw Object.assign(new Error('InvalidCiphertextException'), {
            name: 'InvalidCiphertextException',
          });
        // KMS refuses a KeyId other than the key that encrypted the blob, and names that key's ARN
        if (input.KeyId !== undefined && sealed.keyArn && input.KeyId !== sealed.keyArn)
          throw Object.assign(new Error('IncorrectKeyException'), { name: 'IncorrectKeyException' });
        return { Plaintext: new Uint8Array(Buffer.from(sealed.key, 'base64')), KeyId: sealed.keyArn };
      },
    );

  const input: ConfigInput = {
    connections: {
      demo: {
        account: 'myorg-acct',
        user: 'svc',
        role: 'TOKEN_VENDOR',
        apiBaseUrl: fx.emulator.url,
        key: { secretsManager: { secretId: 'tv/demo' } },
      },
      kmsconn: {
        account: 'xy12345.us-east-1',
        user: 'svc',
        role: 'TOKEN_VENDOR',
        apiBaseUrl: fx.emulator.url,
        key: { kms: { keyId: 'alias/tv' } },
      },
    },
    postgresInstances: [
      {
        connection: 'demo',
        instance: 'reporting_server',
        host: 'pg.example.snowflake.app',
        allowedUsers: ['reporting_user', 'etl_user', 'Reporting_User'],
      },
    ],
    oauthIntegrations: {
      servicenow: {
        grant: 'CLIENT_CREDENTIALS',
        tokenEndpoint: fx.emulator.tokenEndpoint,
        clientId: 'token-vendor',
        clientSecret: { secretsManager: { secretId: 'tv/oauth', field: 'clientSecret' } },
        accessTokenValiditySeconds: 1800,
        allowedScopes: ['useraccount', 'admin'],
      },
    },
    grants: [
      {
        principal: ROLE_ARN,
        postgres: [{ instance: 'reporting_server', usernames: ['reporting_user'] }],
        snowflakeJwt: ['demo', 'kmsconn'],
        oauth: [{ integration: 'servicenow', scopes: ['useraccount'] }],
      },
      {
        principal: 'arn:aws:iam::111122223333:user/alice',
        postgres: [{ instance: 'reporting_server', usernames: ['etl_user'] }],
      },
    ],
    directInvoke: {
      postgres: [{ instance: 'reporting_server', usernames: ['etl_user'] }],
      snowflakeJwt: ['demo'],
    },
  };
  options.config?.(input);
  const config = parseConfig(input);
  const runtime = await createRuntime({
    config,
    secretsManager: () => smClient,
    kms: () => kmsClient,
    now: options.now,
    retry: { baseDelayMs: 10, maxDelayMs: 50, pollInitialMs: 10, pollMaxMs: 50 },
    ...options.runtime,
  });
  const records: AuditRecord[] = [];
  const audit = new AuditLog({
    info: (message, attributes) => {
      records.push(attributes as unknown as AuditRecord);
      options.auditSink?.info(message, attributes ?? {});
    },
  });
  const metrics =
    options.metrics ?? new Metrics({ namespace: 'TokenVendorTest', serviceName: 'token-vendor' });
  const deps = { vendor: () => runtime.vendor, audit, metrics, now: options.now };
  return {
    ...fx,
    runtime,
    http: createHttpHandler(deps),
    direct: createDirectHandler(deps),
    sealedDirect: createDirectHandler({ ...deps, envelope: { kms: runtime.kms, keyId: 'alias/envelope' } }),
    records,
    sm,
    kms,
    secrets: [PASSPHRASE, OAUTH_CLIENT_SECRET, pem, ...pem.split('\n').filter((l) => l.length > 40)],
    close: async () => {
      sm.restore();
      kms.restore();
      await fx.emulator.close();
    },
  };
}
