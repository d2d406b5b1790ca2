import { GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openEnvelope } from '../../../client/envelope';
import { tokenId } from '../../../lambda/audit/token-id';
import { DirectInvokeError } from '../../../lambda/handlers/direct';
import { envelopeToken } from '../../../lambda/vending/envelope';
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

  it('returns the token sealed with a KMS data key, the context naming it, and a consumer opens it', async () => {
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
      encryptedDataKey: expect.any(String),
      envelopeAlgorithm: 'AES-256-GCM',
      expiresIn: expect.any(Number),
    });
    const generate = h.kms.commandCalls(GenerateDataKeyCommand).at(-1)!.args[0].input;
    expect(generate).toMatchObject({ KeyId: 'alias/envelope', KeySpec: 'AES_256' });
    expect(result.encryptionContext).toEqual(generate.EncryptionContext);
    const plaintext = await openEnvelope(h.runtime.kms() as never, result);
    expect(plaintext.split('.')).toHaveLength(3);
    expect(result.encryptionContext).toMatchObject({
      'token-vendor:tokenType': 'KEYPAIR_JWT',
      'token-vendor:tokenId': tokenId(plaintext),
    });
    expect(JSON.stringify(result)).not.toContain(plaintext);
  });

  it('seals tokens of any size, and refuses a sealed token whose context or ciphertext was changed', async () => {
    // Prepare: larger than the 4 KB a single kms:Encrypt takes
    const kms = (await h.runtime.kms()) as never;
    const big = 'x'.repeat(10_000);
    const sealed = await envelopeToken(kms, 'alias/envelope', big, { 'token-vendor:tokenType': 'test' });
    // Act + Assess
    expect(await openEnvelope(kms, sealed)).toBe(big);
    const flipped = Buffer.from(sealed.encryptedToken, 'base64');
    flipped[0] = flipped[0]! ^ 1;
    await expect(
      openEnvelope(kms, { ...sealed, encryptedToken: flipped.toString('base64') }),
    ).rejects.toThrow(/altered/);
    await expect(
      openEnvelope(kms, { ...sealed, encryptionContext: { 'token-vendor:tokenType': 'other' } }),
    ).rejects.toThrow();
  });
});
