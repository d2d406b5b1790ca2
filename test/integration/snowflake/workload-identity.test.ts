import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSts, startLocalSts } from '../../../dev/local/sts';
import { AuditLog } from '../../../lambda/audit/audit-log';
import type { AuditRecord } from '../../../lambda/audit/record';
import { parseConfig } from '../../../lambda/config/load';
import { createRotationCheckHandler } from '../../../lambda/handlers/rotation-check';
import { checkKeys } from '../../../lambda/rotation/check';
import { createRuntime } from '../../../lambda/runtime';
import { SnowflakeError } from '../../../lambda/snowflake/errors';
import { mintPostgresAccessToken } from '../../../lambda/snowflake/postgres-token';
import { SqlApiClient } from '../../../lambda/snowflake/sql-api';
import {
  type GetWebIdentityToken,
  WorkloadIdentityAuthenticator,
  WorkloadIdentityError,
} from '../../../lambda/snowflake/workload-identity';
import { publicError } from '../../../lambda/vending/public-error';
import { type EmulatorFixture, emulatorFixture, VENDOR_ROLE } from '../../support/emulator';
import { lambdaContext, ROLE_ARN } from '../../support/events';
import { writeTempFile } from '../../support/keys';
import {
  KEYLESS_USER,
  keylessConfig,
  VENDOR_ACCOUNT_ID,
  VENDOR_FUNCTION_ROLE_ARN,
  type WifFixture,
  wifFixture,
} from '../../support/wif';

const FAST = { baseDelayMs: 5, maxDelayMs: 20, maxAttempts: 2 };

describe('keyless connections (workload identity federation) against the emulator and the local STS', () => {
  let fx: EmulatorFixture;
  let wif: WifFixture;
  let foreign: LocalSts;
  beforeAll(async () => {
    fx = await emulatorFixture();
    wif = await wifFixture();
    foreign = await startLocalSts({ credentials: [wif.credential] });
    fx.emulator.addUser({
      name: KEYLESS_USER,
      roles: [VENDOR_ROLE],
      defaultRole: VENDOR_ROLE,
      workloadIdentity: { arn: VENDOR_FUNCTION_ROLE_ARN, issuer: wif.sts.issuer },
    });
  });
  afterAll(async () => {
    await Promise.all([fx.emulator.close(), wif.sts.close(), foreign.close()]);
  });

  function runtime(options: { now?: () => number; usernames?: string[] } = {}) {
    const config = parseConfig(keylessConfig(fx.emulator.url, options.usernames));
    return createRuntime({
      config,
      sts: () => wif.stsClient(),
      retry: FAST,
      ...(options.now ? { now: options.now } : {}),
    });
  }

  /** A SQL API client that signs in with whatever token `token()` returns (tests forge hostile ones). */
  const sentTokens: string[] = [];
  function clientWith(token: () => Promise<string>) {
    const getWebIdentityToken: GetWebIdentityToken = async () => {
      const value = await token();
      sentTokens.push(value);
      return { WebIdentityToken: value };
    };
    return new SqlApiClient({
      baseUrl: fx.emulator.url,
      authenticator: new WorkloadIdentityAuthenticator({ getWebIdentityToken, lifetimeSeconds: 900 }),
      role: VENDOR_ROLE,
      retry: FAST,
    });
  }

  const validClaims = () => {
    const iat = Math.floor(Date.now() / 1000);
    return {
      iss: wif.sts.issuer,
      aud: 'snowflakecomputing.com',
      sub: VENDOR_FUNCTION_ROLE_ARN,
      iat,
      exp: iat + 900,
      'https://sts.amazonaws.com/': {
        aws_account: VENDOR_ACCOUNT_ID,
        principal_id: VENDOR_FUNCTION_ROLE_ARN,
      },
    };
  };

  it('vends a Postgres token with no private key anywhere: the role signs in with WIF.AWS.<STS JWT>', async () => {
    fx.emulator.clearRecords();
    const issuedBefore = wif.sts.issued.length;
    const rt = await runtime();
    expect(rt.config.connections.keyless!.key).toBeUndefined();
    expect(rt.connection('keyless').signer).toBeUndefined();
    const { response, audit } = await rt.vendor.vend(
      { kind: 'http', principalArn: ROLE_ARN },
      { tokenType: 'postgres', instance: 'reporting_server', username: 'reporting_user' },
      { deadline: Date.now() + 10_000 },
    );
    expect(response.tokenType).toBe('snowflake-postgres');
    const issued = fx.emulator.validatePostgresToken(response.token);
    expect(issued?.username).toBe('reporting_user');
    expect(audit.snowflakeAuth).toBe('wif');
    // STS was asked for exactly what Snowflake needs, as the vendor's role
    expect(wif.sts.issued.slice(issuedBefore)).toEqual([
      expect.objectContaining({
        roleArn: VENDOR_FUNCTION_ROLE_ARN,
        audience: ['snowflakecomputing.com'],
        algorithm: 'ES384',
      }),
    ]);
    const sent = fx.emulator.requests.find((r) => r.path === '/api/v2/statements');
    expect(sent?.headers['x-snowflake-authorization-token-type']).toBe('WORKLOAD_IDENTITY_FEDERATION');
    expect(sent?.headers.authorization).toMatch(/^Bearer WIF\.AWS\.ey[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(fx.emulator.executionsOf('generate-postgres-token').at(-1)?.user).toBe(KEYLESS_USER);
  });

  it('fetches one STS token per lifetime under concurrent load, and a new one near its expiry', async () => {
    const usernames = Array.from({ length: 40 }, (_, i) => `reader_${i}`);
    let now = Date.now();
    const rt = await runtime({ usernames, now: () => now });
    const issuedBefore = wif.sts.issued.length;
    const vendAll = () =>
      Promise.all(
        usernames.map((username) =>
          rt.vendor.vend(
            { kind: 'http', principalArn: ROLE_ARN },
            { tokenType: 'postgres', instance: 'reporting_server', username },
            { deadline: now + 20_000 },
          ),
        ),
      );
    const first = await vendAll();
    expect(first.every((r) => r.audit.cache === 'miss')).toBe(true);
    expect(wif.sts.issued.length - issuedBefore).toBe(1); // 40 mints, one STS call
    // 900 s tokens are renewed a fifth of their life (180 s) before expiry: at 700 s one is still in use…
    now += 700_000;
    await mintPostgresAccessToken(rt.connection('keyless').sql, {
      instance: 'reporting_server',
      username: 'reader_0',
      deadline: now + 10_000,
    });
    expect(wif.sts.issued.length - issuedBefore).toBe(1);
    // …and at 730 s the next statement first fetches a fresh one (still one call for many statements)
    now += 30_000;
    await Promise.all(
      ['reader_1', 'reader_2', 'reader_3'].map((username) =>
        mintPostgresAccessToken(rt.connection('keyless').sql, {
          instance: 'reporting_server',
          username,
          deadline: now + 10_000,
        }),
      ),
    );
    expect(wif.sts.issued.length - issuedBefore).toBe(2);
  });

  describe('Snowflake refuses every bad workload identity token with a clear code', () => {
    const refused = async (token: () => Promise<string>) => {
      const error = await clientWith(token)
        .execute('SELECT 1')
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SnowflakeError);
      return error as SnowflakeError;
    };

    it('accepts the control: a well-formed token from the trusted issuer for the registered role', async () => {
      const result = await clientWith(() => wif.sts.sign(validClaims())).execute('SELECT CURRENT_USER()');
      expect(result.rows).toEqual([[KEYLESS_USER]]);
    });

    it.each<[string, string, RegExp, () => Promise<string>]>([
      [
        'wrong audience',
        '390433',
        /another audience/,
        () => wif.sts.sign({ ...validClaims(), aud: 'sts.amazonaws.com' }),
      ],
      [
        'expired token',
        '390434',
        /expired/,
        () => {
          const claims = validClaims();
          return wif.sts.sign({ ...claims, iat: claims.iat - 1000, exp: claims.iat - 100 });
        },
      ],
      ...(
        [
          ['+10 min', 600],
          ['+1 day', 86_400],
        ] as const
      ).map(([when, seconds]): [string, string, RegExp, () => Promise<string>] => [
        `a token issued in the future (${when})`,
        '390434',
        /not yet valid/,
        () => {
          const claims = validClaims();
          const iat = claims.iat + seconds;
          return wif.sts.sign({ ...claims, iat, exp: iat + 900 });
        },
      ]),
      [
        'an audience list with another member',
        '390433',
        /audience/,
        () => wif.sts.sign({ ...validClaims(), aud: ['snowflakecomputing.com', 'example.com'] }),
      ],
      ['foreign issuer', '390431', /issuer/, () => foreign.sign({ ...validClaims(), iss: foreign.issuer })],
      [
        'another role',
        '390435',
        /role ARN/,
        () =>
          wif.sts.sign({
            ...validClaims(),
            sub: `arn:aws:iam::${VENDOR_ACCOUNT_ID}:role/someone-else`,
            'https://sts.amazonaws.com/': {
              principal_id: `arn:aws:iam::${VENDOR_ACCOUNT_ID}:role/someone-else`,
            },
          }),
      ],
      [
        'a tampered signature',
        '390432',
        /signature/,
        async () => {
          const [h, p, s] = (await wif.sts.sign(validClaims())).split('.');
          return `${h}.${p}.${s!.startsWith('A') ? 'B' : 'A'}${s!.slice(1)}`;
        },
      ],
      [
        'a token signed by another key that claims the trusted issuer',
        '390432',
        /signature/,
        () => foreign.sign(validClaims()),
      ],
    ])('%s → %s', async (_name, code, hint, token) => {
      const error = await refused(token);
      expect(error.code).toBe('SNOWFLAKE_AUTH_FAILED');
      expect(error.snowflakeCode).toBe(code);
      expect(error.authentication).toBe('wif');
      expect(error.message).toMatch(hint);
      expect(error.attempts).toBe(2); // one fresh token, then the refusal
      expect(publicError(error).code).toBe('SNOWFLAKE_AUTH_FAILED');
      // Neither the error nor what the caller and the audit record are told carries the token
      const told = JSON.stringify({ ...error, message: error.message, public: publicError(error) });
      for (const sent of sentTokens) expect(told).not.toContain(sent.split('.')[2]);
    });
  });

  it('never sends an STS answer it cannot read, and the emulator refuses a bearer that is not WIF.AWS.<jwt>', async () => {
    const error = await clientWith(async () => 'not-a-jwt')
      .execute('SELECT 1')
      .catch((e: unknown) => e);
    expect((error as WorkloadIdentityError).code).toBe('WIF_REQUEST_INVALID');
    for (const bearer of ['WIF.GCP.eyJ.x.y', 'WIF.AWS.not-a-jwt']) {
      const answer = await fetch(`${fx.emulator.url}/api/v2/statements`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${bearer}`,
          'X-Snowflake-Authorization-Token-Type': 'WORKLOAD_IDENTITY_FEDERATION',
          'Content-Type': 'application/json',
          'User-Agent': 'test',
        },
        body: JSON.stringify({ statement: 'SELECT 1' }),
      });
      expect(answer.status).toBe(401);
      expect(await answer.json()).toMatchObject({ code: '390430' });
    }
  });

  describe('STS refusals are config errors with stable codes, never a 5xx of unknown cause', () => {
    it.each([
      [
        'outbound federation disabled',
        'WIF_FEDERATION_DISABLED',
        async (sts: LocalSts) => {
          sts.federationEnabled = false;
        },
      ],
      ['the role lacks sts:GetWebIdentityToken', 'WIF_NOT_PERMITTED', async () => {}],
    ])('%s → %s', async (_name, code, arrange) => {
      const denying = await wifFixture({ allow: () => code !== 'WIF_NOT_PERMITTED' });
      try {
        await arrange(denying.sts);
        const rt = await createRuntime({
          config: parseConfig(keylessConfig(fx.emulator.url)),
          sts: () => denying.stsClient(),
          retry: FAST,
        });
        const error = await rt
          .connection('keyless')
          .sql.execute('SELECT 1')
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(WorkloadIdentityError);
        expect((error as WorkloadIdentityError).code).toBe(code);
        expect(publicError(error)).toMatchObject({ code: 'CONFIG_ERROR', status: 500, cause: code });
      } finally {
        await denying.sts.close();
      }
    });

    it('refuses a caller whose signature does not verify (SignatureDoesNotMatch → WIF_NOT_PERMITTED)', async () => {
      const rt = await createRuntime({
        config: parseConfig(keylessConfig(fx.emulator.url)),
        sts: () => wif.stsClient({ ...wif.credential, secretAccessKey: 'wrong-secret-wrong-secret-wrong' }),
        retry: FAST,
      });
      const error = await rt
        .connection('keyless')
        .sql.execute('SELECT 1')
        .catch((e: unknown) => e);
      expect((error as WorkloadIdentityError).code).toBe('WIF_NOT_PERMITTED');
      expect((error as Error).message).toContain('SignatureDoesNotMatch');
    });
  });

  describe('rotation check', () => {
    it('reports OK when the user trusts the vendor role, and no key age or rotation', async () => {
      const rt = await runtime();
      const report = await checkKeys(rt.config, rt.connection);
      expect(report.connections).toEqual([
        expect.objectContaining({
          connection: 'keyless',
          status: 'OK',
          authentication: 'wif',
          roleArn: VENDOR_FUNCTION_ROLE_ARN,
          registeredArns: [VENDOR_FUNCTION_ROLE_ARN],
        }),
      ]);
      expect(report.connections[0]).not.toHaveProperty('ageDays');
      expect(report.connections[0]).not.toHaveProperty('fingerprint');
    });

    it('checks every role of the stack (http, direct, rotation-check): one not trusted is WIF_MISMATCH, with the ADD to run', async () => {
      const direct = `arn:aws:iam::${VENDOR_ACCOUNT_ID}:role/token-vendor-direct`;
      const rt = await runtime();
      const [missing] = (await checkKeys(rt.config, rt.connection, { signInRoleArns: [direct] })).connections;
      expect(missing).toMatchObject({ status: 'WIF_MISMATCH', missingArns: [direct] });
      expect(missing!.detail).toContain(
        `ALTER USER ${KEYLESS_USER} ADD WORKLOAD IDENTITY vendor_1 TYPE = AWS ARN = '${direct}' ISSUER = '${wif.sts.issuer}';`,
      );
      fx.emulator.addWorkloadIdentity(KEYLESS_USER, 'direct', { arn: direct, issuer: wif.sts.issuer });
      try {
        const [ok] = (await checkKeys(rt.config, rt.connection, { signInRoleArns: [direct] })).connections;
        expect(ok).toMatchObject({ status: 'OK', registeredArns: [VENDOR_FUNCTION_ROLE_ARN, direct] });
        expect(ok).not.toHaveProperty('missingArns');
      } finally {
        const identities = fx.emulator.users.get(KEYLESS_USER)!.workloadIdentities;
        identities.splice(
          identities.findIndex((w) => w.name === 'DIRECT'),
          1,
        );
      }
    });

    it('the scheduled handler reads the stack roles from its environment and audits the mismatch', async () => {
      const http = `arn:aws:iam::${VENDOR_ACCOUNT_ID}:role/token-vendor-http-unregistered`;
      const records: AuditRecord[] = [];
      const metrics = new Metrics({ namespace: 'TokenVendorTest', serviceName: 'token-vendor' });
      const handler = createRotationCheckHandler({
        runtime: () => runtime(),
        audit: new AuditLog({ info: (_m, a) => records.push(a as unknown as AuditRecord) }),
        metrics,
        env: { TOKEN_VENDOR_SIGN_IN_ROLE_ARNS: `${http}, not-an-arn` },
      });
      const report = await handler({ source: 'aws.events' }, lambdaContext());
      expect(report.connections[0]).toMatchObject({ status: 'WIF_MISMATCH', missingArns: [http] });
      expect(records[0]).toMatchObject({
        event: 'key.rotation-checked',
        errorCode: 'keyless:WIF_MISMATCH',
        detail: {
          connections: [
            expect.objectContaining({ authentication: 'wif', roleArn: VENDOR_FUNCTION_ROLE_ARN }),
          ],
        },
      });
    });

    it('reports WIF_MISMATCH naming the ARN Snowflake has, read through an admin connection', async () => {
      const other = `arn:aws:iam::${VENDOR_ACCOUNT_ID}:role/previous-vendor`;
      const admins = fx.emulator.users.get(KEYLESS_USER)!.keyAdminRoles;
      admins.add(VENDOR_ROLE); // SVC (role TOKEN_VENDOR) may read KEYLESS_SVC's identities
      fx.emulator.setWorkloadIdentity(KEYLESS_USER, { arn: other, issuer: wif.sts.issuer });
      try {
        const connections = {
          keyless: keylessConfig(fx.emulator.url).connections!.keyless!,
          admin: {
            account: 'myorg-acct',
            user: 'svc',
            role: VENDOR_ROLE,
            apiBaseUrl: fx.emulator.url,
            key: { file: { path: writeTempFile('k.p8', fx.key.pkcs8Pem) } },
          },
        };
        const config = parseConfig({ connections });
        const rt = await createRuntime({ config, sts: () => wif.stsClient(), retry: FAST });
        const keyless = (await checkKeys(config, rt.connection)).connections.find(
          (c) => c.connection === 'keyless',
        );
        expect(keyless).toMatchObject({
          status: 'WIF_MISMATCH',
          roleArn: VENDOR_FUNCTION_ROLE_ARN,
          registeredArns: [other],
          errorCode: 'SNOWFLAKE_AUTH_FAILED',
        });
        expect(keyless!.detail).toContain(`found: ${other}`);
        expect(keyless!.detail).toContain(`ARN = '${VENDOR_FUNCTION_ROLE_ARN}' ISSUER = '${wif.sts.issuer}'`);

        // Without a connection that may read the user, the refusal alone: still WIF_MISMATCH, nothing found
        admins.delete(VENDOR_ROLE);
        const alone = parseConfig({ connections: { keyless: connections.keyless } });
        const lone = await createRuntime({ config: alone, sts: () => wif.stsClient(), retry: FAST });
        const [report] = (await checkKeys(alone, lone.connection)).connections;
        expect(report).toMatchObject({ status: 'WIF_MISMATCH', roleArn: VENDOR_FUNCTION_ROLE_ARN });
        expect(report).not.toHaveProperty('registeredArns');
        expect(report!.detail).toContain('code 390435');
      } finally {
        admins.delete(VENDOR_ROLE);
        fx.emulator.setWorkloadIdentity(KEYLESS_USER, {
          arn: VENDOR_FUNCTION_ROLE_ARN,
          issuer: wif.sts.issuer,
        });
      }
    });
  });

  describe('config', () => {
    const base = () => keylessConfig('https://myorg-acct.snowflakecomputing.com');
    it('refuses a snowflake-jwt grant of a keyless connection, naming the grant', () => {
      const config = base();
      config.grants = [{ principal: ROLE_ARN, snowflakeJwt: ['keyless'] }];
      expect(() => parseConfig(config)).toThrow(/grants\[0\]\.snowflakeJwt\[0\].*keyless.*no private key/s);
    });
    it('refuses a connection with both a key and a workload identity, or with neither', () => {
      const both = base();
      both.connections!.keyless = {
        ...both.connections!.keyless!,
        key: { kms: { keyId: 'alias/x' } },
      };
      expect(() => parseConfig(both)).toThrow(/exactly one of "key".*"workloadIdentity"/);
      const neither = base();
      const { workloadIdentity: _drop, ...rest } = neither.connections!.keyless!;
      neither.connections!.keyless = rest;
      expect(() => parseConfig(neither)).toThrow(/exactly one of "key"/);
    });
    it.each([
      [{ provider: 'GCP' }],
      [{ provider: 'AWS', tokenLifetimeSeconds: 59 }],
      [{ provider: 'AWS', tokenLifetimeSeconds: 3601 }],
      [{ provider: 'AWS', region: 'us-east-1\n' }],
      [{ provider: 'AWS', extra: true }],
    ])('refuses workloadIdentity %j', (workloadIdentity) => {
      const config = base();
      config.connections!.keyless = { ...config.connections!.keyless!, workloadIdentity } as never;
      expect(() => parseConfig(config)).toThrow(/connections\.keyless\.workloadIdentity/);
    });
  });
});
