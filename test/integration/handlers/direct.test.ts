import { DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tokenId } from '../../../lambda/audit/token-id';
import { DirectInvokeError } from '../../../lambda/handlers/direct';
import { lambdaContext } from '../../support/events';
import { type VendingHarness, vendingHarness } from '../../support/vending';

describe('direct-invoke handler (Step Functions)', () => {
  let h: VendingHarness;
  beforeAll(async () => {
    h = await vendingHarness();
  });
  afterAll(() => h.close());
  beforeEach(() => {
    h.records.length = 0;
  });

  it('vends what directInvoke allows and returns the HTTP answer shape', async () => {
    const result = (await h.direct(
      { tokenType: 'postgres', instance: 'reporting_server', username: 'etl_user' },
      lambdaContext(),
    )) as any;
    expect(result).toMatchObject({
      tokenType: 'snowflake-postgres',
      instance: 'reporting_server',
      username: 'etl_user',
      expiresIn: expect.any(Number),
    });
    expect(h.emulator.validatePostgresToken(result.token)).toBeDefined();
    expect(h.records[0]).toMatchObject({
      event: 'token.issued',
      trigger: 'direct',
      tokenId: tokenId(result.token),
    });
    expect(h.records[0]!.principalArn).toBeUndefined();
  });

  it('uses its own grants: an HTTP-only target is denied with a NotAuthorized error', async () => {
    const error = await h
      .direct(
        { tokenType: 'postgres', instance: 'reporting_server', username: 'reporting_user' },
        lambdaContext(),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DirectInvokeError);
    expect(error).toMatchObject({ name: 'NotAuthorized', code: 'NOT_AUTHORIZED' });
    expect(h.records[0]).toMatchObject({ event: 'token.denied', trigger: 'direct' });
  });

  it.each([
    ['no tokenType', { instance: 'reporting_server', username: 'etl_user' }],
    ['an unknown tokenType', { tokenType: 'aws', instance: 'x' }],
    [
      'an unknown field',
      { tokenType: 'postgres', instance: 'reporting_server', username: 'etl_user', extra: 1 },
    ],
    ['not an object', 'postgres'],
    ['null', null],
  ])('throws InvalidRequest for %s', async (_name, event) => {
    await expect(h.direct(event, lambdaContext())).rejects.toMatchObject({
      name: 'InvalidRequest',
      code: 'INVALID_REQUEST',
    });
  });

  it('throws UpstreamUnavailable (retryable in a state machine) when Snowflake is down', async () => {
    const down = await vendingHarness();
    down.emulator.faults.push({ kind: 'server-error', status: 503 }, 1000);
    try {
      const error = await down
        .direct(
          { tokenType: 'postgres', instance: 'reporting_server', username: 'etl_user' },
          lambdaContext(2500),
        )
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'UpstreamUnavailable', retryAfterSeconds: expect.any(Number) });
      expect((error as Error).message).toMatch(/requestId/);
    } finally {
      await down.close();
    }
  });

  it('returns the token KMS-encrypted, with an encryption context naming it, when an envelope key is set', async () => {
    // Act
    const result = (await h.sealedDirect(
      { tokenType: 'snowflake-jwt', connection: 'demo' },
      lambdaContext(),
    )) as any;
    // Assess
    expect(result.token).toBeUndefined();
    expect(result).toMatchObject({
      tokenType: 'KEYPAIR_JWT',
      encryptedToken: expect.any(String),
      encryptionKeyId: 'alias/envelope',
      expiresIn: expect.any(Number),
    });
    const encrypt = h.kms.commandCalls(EncryptCommand).at(-1)!.args[0].input;
    expect(result.encryptionContext).toEqual(encrypt.EncryptionContext);
    const plaintext = Buffer.from(
      Buffer.from(result.encryptedToken, 'base64').toString().replace('sealed:', ''),
      'base64',
    ).toString();
    expect(result.encryptionContext).toMatchObject({
      'token-vendor:tokenType': 'KEYPAIR_JWT',
      'token-vendor:tokenId': tokenId(plaintext),
    });
    expect(JSON.stringify(result)).not.toContain(plaintext);
    expect(h.kms.commandCalls(DecryptCommand)).toHaveLength(0);
  });
});
