import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { Connection } from '../config/schema';
import { TokenVendorError } from '../errors';
import { keySourceError } from '../keys/aws-errors';
import { loadPrivateKey } from '../keys/private-key';
import { parsePrivateKeySecret, SecretsManagerSigner } from '../keys/secrets-manager-signer';
import type { Signer } from '../keys/signer';
import { publicKeyBody, publicKeyFingerprint } from '../snowflake/fingerprint';
import type { SqlApiClient } from '../snowflake/sql-api';
import { describeUserKeys, setUserKey, slotOf } from '../snowflake/user-keys';

export type RotationStep = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';

/** A rotation step that cannot proceed; Secrets Manager retries the rotation later. */
export class RotationError extends TokenVendorError {
  constructor(message: string) {
    super('ROTATION_FAILED', message);
  }
}

export interface KeyRotationDeps {
  readonly secretsManager: SecretsManagerClient;
  /** The connection whose key the secret holds, and its SQL API client signing with the current key. */
  readonly connection: Connection;
  readonly sql: SqlApiClient;
  /** The same connection's SQL API client signing with another key (the runtime's `sqlClient`). */
  readonly sqlWith: (signer: Signer) => SqlApiClient;
  readonly now?: () => number;
}

/** What a step did, for the audit trail (no key material). */
export interface StepResult {
  readonly step: RotationStep;
  readonly outcome: 'done' | 'already-done';
  readonly fingerprint?: string;
  readonly slot?: 1 | 2;
}

/**
 * Zero-downtime key rotation as a Secrets Manager rotation function (the four-step protocol). Each
 * step is idempotent for its `ClientRequestToken`:
 *
 * - `createSecret`: a new RSA-2048 PKCS#8 key as `AWSPENDING` (encrypted with a fresh passphrase when
 *   the current key is encrypted);
 * - `setSecret`: registers its public key in the slot that does not hold the current key, so tokens
 *   signed with the current key keep working;
 * - `testSecret`: runs a real statement signed with the new key;
 * - `finishSecret`: moves `AWSCURRENT` to the new version. The old key stays registered until the
 *   next rotation overwrites its slot.
 *
 * @example
 * ```ts
 * await new KeyRotation(deps).run('setSecret', secretId, token);
 * ```
 */
export class KeyRotation {
  constructor(private readonly deps: KeyRotationDeps) {}

  async run(step: RotationStep, secretId: string, token: string): Promise<StepResult> {
    const description = await this.#describe(secretId);
    const stages = description.VersionIdsToStages?.[token];
    if (!stages)
      throw new RotationError(`Secret version ${token} is not staged for rotation of ${secretId}.`);
    if (step !== 'finishSecret' && stages.includes('AWSCURRENT')) return { step, outcome: 'already-done' };
    if (step !== 'finishSecret' && !stages.includes('AWSPENDING'))
      throw new RotationError(`Secret version ${token} of ${secretId} is not AWSPENDING.`);
    switch (step) {
      case 'createSecret':
        return this.#create(secretId, token);
      case 'setSecret':
        return this.#set(secretId, token);
      case 'testSecret':
        return this.#test(secretId, token);
      case 'finishSecret':
        return this.#finish(secretId, token, description);
    }
  }

  async #create(secretId: string, token: string): Promise<StepResult> {
    const existing = await this.#readOptional(secretId, token);
    if (existing) {
      const pending = parsePrivateKeySecret(existing, `secretsManager:${secretId}`);
      return {
        step: 'createSecret',
        outcome: 'already-done',
        fingerprint: publicKeyFingerprint(loadPrivateKey(pending.privateKey, pending.passphrase, secretId)),
      };
    }
    const currentText = await this.#read(secretId, { VersionStage: 'AWSCURRENT' });
    const current = parsePrivateKeySecret(currentText, `secretsManager:${secretId}`);
    const currentIsJson = currentText.trim().startsWith('{');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    let secretString: string;
    if (current.passphrase) {
      const passphrase = randomBytes(32).toString('base64url');
      const pem = privateKey
        .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase })
        .toString();
      secretString = JSON.stringify({ privateKey: pem, passphrase });
    } else {
      const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      secretString = currentIsJson ? JSON.stringify({ privateKey: pem }) : pem;
    }
    try {
      await this.deps.secretsManager.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          ClientRequestToken: token,
          SecretString: secretString,
          VersionStages: ['AWSPENDING'],
        }),
      );
    } catch (error) {
      throw keySourceError(error, `secretsManager:${secretId}`);
    }
    return { step: 'createSecret', outcome: 'done', fingerprint: publicKeyFingerprint(privateKey) };
  }

  async #set(secretId: string, token: string): Promise<StepResult> {
    const pending = await this.#key(secretId, { VersionId: token, VersionStage: 'AWSPENDING' });
    const current = await this.#key(secretId, { VersionStage: 'AWSCURRENT' });
    const pendingFp = publicKeyFingerprint(pending);
    const { user } = this.deps.connection;
    const keys = await describeUserKeys(this.deps.sql, user);
    const already = slotOf(keys, pendingFp);
    if (already) return { step: 'setSecret', outcome: 'already-done', fingerprint: pendingFp, slot: already };
    const currentSlot = slotOf(keys, publicKeyFingerprint(current));
    if (!currentSlot) {
      throw new RotationError(
        `The current key of ${secretId} is not registered for ${user.toUpperCase()}; register it (or restore it) before rotating, so no slot in use is overwritten.`,
      );
    }
    const slot = currentSlot === 1 ? 2 : 1;
    await setUserKey(this.deps.sql, user, slot, publicKeyBody(pending));
    return { step: 'setSecret', outcome: 'done', fingerprint: pendingFp, slot };
  }

  async #test(secretId: string, token: string): Promise<StepResult> {
    const { connection } = this.deps;
    const signer = new SecretsManagerSigner({
      client: this.deps.secretsManager,
      secretId,
      versionId: token,
      cacheTtlMs: 0,
    });
    const sql = this.deps.sqlWith(signer);
    const result = await sql.execute('SELECT CURRENT_USER()');
    const who = result.rows[0]?.[0];
    if (who?.toUpperCase() !== connection.user.toUpperCase()) {
      throw new RotationError(
        `The new key authenticated as ${String(who)}, not ${connection.user.toUpperCase()}.`,
      );
    }
    return { step: 'testSecret', outcome: 'done', fingerprint: (await signer.currentKey()).fingerprint };
  }

  async #finish(
    secretId: string,
    token: string,
    description: DescribeSecretCommandOutput,
  ): Promise<StepResult> {
    const versions = description.VersionIdsToStages ?? {};
    const current = Object.entries(versions).find(([, stages]) => stages.includes('AWSCURRENT'))?.[0];
    if (current === token) return { step: 'finishSecret', outcome: 'already-done' };
    try {
      await this.deps.secretsManager.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token,
          RemoveFromVersionId: current,
        }),
      );
    } catch (error) {
      throw keySourceError(error, `secretsManager:${secretId}`);
    }
    return { step: 'finishSecret', outcome: 'done' };
  }

  /** The fingerprint of one version's key (no key material leaves this class). */
  async fingerprintOf(secretId: string, versionId: string): Promise<string> {
    return publicKeyFingerprint(await this.#key(secretId, { VersionId: versionId }));
  }

  async #describe(secretId: string): Promise<DescribeSecretCommandOutput> {
    try {
      return await this.deps.secretsManager.send(new DescribeSecretCommand({ SecretId: secretId }));
    } catch (error) {
      throw keySourceError(error, `secretsManager:${secretId}`);
    }
  }

  async #key(secretId: string, version: { VersionId?: string; VersionStage?: string }) {
    const secret = parsePrivateKeySecret(await this.#read(secretId, version), `secretsManager:${secretId}`);
    return loadPrivateKey(secret.privateKey, secret.passphrase, `secretsManager:${secretId}`);
  }

  async #read(secretId: string, version: { VersionId?: string; VersionStage?: string }): Promise<string> {
    try {
      const answer = await this.deps.secretsManager.send(
        new GetSecretValueCommand({ SecretId: secretId, ...version }),
      );
      return answer.SecretString ?? '';
    } catch (error) {
      throw keySourceError(error, `secretsManager:${secretId}`);
    }
  }

  async #readOptional(secretId: string, token: string): Promise<string | undefined> {
    try {
      const answer = await this.deps.secretsManager.send(
        new GetSecretValueCommand({ SecretId: secretId, VersionId: token, VersionStage: 'AWSPENDING' }),
      );
      return answer.SecretString;
    } catch (error) {
      if (error instanceof Error && error.name === 'ResourceNotFoundException') return undefined;
      throw keySourceError(error, `secretsManager:${secretId}`);
    }
  }
}
