import { buildClient, CommitmentPolicy, KmsKeyringNode } from '@aws-crypto/client-node';
import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
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

  it('returns the token sealed as an Encryption SDK message, the context naming it; the client opens it', async () => {
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
      envelopeAlgorithm: 'aws-encryption-sdk',
      encryptionKeyId: expect.stringMatching(/^arn:aws:kms:/),
      expiresIn: expect.any(Number),
    });
    expect(result.encryptedDataKey).toBeUndefined();
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
    // The context beside the message must be the message's own: another token's context is refused
    await expect(
      openEnvelope(h.runtime.kms() as never, {
        ...result,
        encryptionContext: { ...result.encryptionContext, 'token-vendor:tokenType': 'snowflake-postgres' },
      }),
    ).rejects.toMatchObject({ code: 'ENVELOPE_INVALID' });
  });

  it("opens with the consumer steps docs/api.md gives, on the AWS Encryption SDK's own decrypt", async () => {
    // Prepare: a Postgres token sealed by the direct function
    const output = (await h.sealedDirect(
      { tokenType: 'postgres', instance: 'reporting_server', username: 'etl_user' },
      lambdaContext(),
    )) as any;
    const kms = (await h.runtime.kms()) as KMSClient;
    // The keyring calls KMS through the SDK's per-operation methods; here they go to the mocked client
    const clientProvider = () => ({ decrypt: (input: any) => kms.send(new DecryptCommand(input)) }) as never;
    // Act: the documented steps (JavaScript; Python's are the same calls, see docs/api.md)
    const { decrypt } = buildClient({
      commitmentPolicy: CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
      maxEncryptedDataKeys: 1,
    });
    const keyring = new KmsKeyringNode({ keyIds: [output.encryptionKeyId], clientProvider });
    const { plaintext, messageHeader } = await decrypt(keyring, Buffer.from(output.encryptedToken, 'base64'));
    // Assess: the authenticated context names the token beside it, and the token is a live one
    for (const [key, value] of Object.entries(output.encryptionContext as Record<string, string>))
      expect(messageHeader.encryptionContext[key]).toBe(value);
    const token = plaintext.toString('utf8');
    expect(h.emulator.validatePostgresToken(token)).toBeDefined();
    expect(tokenId(token)).toBe(output.encryptionContext['token-vendor:tokenId']);
  });

  it('still opens the earlier format (AES-256-GCM, the data key beside it) for one release, and refuses one altered', async () => {
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
