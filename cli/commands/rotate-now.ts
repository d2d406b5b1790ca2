import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AWS_CLIENT_DEFAULTS, loadDynamoDb, loadSecretsManager } from '../../lambda/aws/sdk';
import { loadConfigFile } from '../../lambda/config/load';
import type { Config } from '../../lambda/config/schema';
import { FileSigner } from '../../lambda/keys/file-signer';
import {
  announceRekey,
  type ListTable,
  type Rekey,
  ROTATE_NOW_PREFIX,
  readRekey,
  recordRemoval,
  removeOtherKey,
  settleMs,
} from '../../lambda/rotation/rotate-now';
import { publicKeyBody, publicKeyFingerprint } from '../../lambda/snowflake/fingerprint';
import { describeUserKeys, setUserKey, slotOf } from '../../lambda/snowflake/user-keys';
import { parseCommand } from '../args';
import { UsageError } from '../errors';
import { type CliIo, ExitCode } from '../io';
import { runtimeForCommand } from '../local-runtime';
import { localDir, runningLocalStack } from '../local-stack-file';

const UNITS: Record<string, number> = { s: 1000, m: 60_000 };

function timeoutOf(value: string | undefined): number {
  if (value === undefined) return 240_000;
  const m = /^(\d{1,4})([sm])$/.exec(value);
  const ms = m ? Number(m[1]) * UNITS[m[2]!]! : Number.NaN;
  if (!(ms >= 10_000 && ms <= 3_600_000))
    throw new UsageError(
      `rotate-now: --timeout must be between 10s and 60m, such as 240s or 5m, not "${value}".`,
    );
  return ms;
}

/**
 * `token-vendor rotate-now --connection C`: rotate the connection's key now and remove the old one from
 * Snowflake once every container has stopped using it, so JWTs signed with it stop working
 * (lambda/rotation/rotate-now.ts). Against a deployed stack (`--table` or TOKEN_VENDOR_REVOCATION_TABLE,
 * with `--config` naming the deployed config) it starts the rotation in Secrets Manager, which runs the
 * rotate-key function; the operator's credentials never touch a private key. Against the local stack it
 * rotates the demo's key file itself.
 */
export async function rotateNow(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand('rotate-now', args);
  const name = values.connection!;
  const timeoutMs = timeoutOf(values.timeout);
  const tableName = values.table ?? io.env.TOKEN_VENDOR_REVOCATION_TABLE;
  const local = runningLocalStack(localDir(io.env));
  if (!tableName && !local)
    throw new UsageError(
      "rotate-now: name the revocation list (--table, the stack's RevocationTableName output, or TOKEN_VENDOR_REVOCATION_TABLE) and --config, or start the local stack (npm start).",
    );
  const configPath = values.config ?? join(localDir(io.env), 'config.json');
  if (!existsSync(configPath))
    throw new UsageError(`rotate-now: no --config given and ${configPath} does not exist.`);
  const config = await loadConfigFile(configPath);
  const connection = Object.hasOwn(config.connections, name) ? config.connections[name] : undefined;
  if (!connection) throw new UsageError(`rotate-now: the config has no connection named "${name}".`);
  if (!config.revocations.enabled)
    throw new UsageError(
      'rotate-now: the config turns the revocation list off (revocations.enabled: false); without it the fleet cannot be told to stop using the old key before it is removed.',
    );
  const key = connection.key;
  if (!key)
    throw new UsageError(
      `rotate-now: connection "${name}" signs in keyless (its IAM role); there is no key to rotate.`,
    );

  let outcome: { version: string; rekey: Rekey };
  if (tableName) {
    if (!('secretsManager' in key))
      throw new UsageError(
        `rotate-now: connection "${name}" keeps its key in ${'kms' in key ? 'KMS' : 'a file'}; rotate-now rotates a key kept in Secrets Manager (for a KMS key: create a new one, register it in the user's free slot, point the config at it, then unset the old slot).`,
      );
    outcome = await rotateDeployed(
      config,
      name,
      key.secretsManager.secretId,
      tableName,
      values.region,
      timeoutMs,
      io,
    );
  } else {
    if (!('file' in key) || key.file.passphraseEnv)
      throw new UsageError(
        `rotate-now: against the local stack, connection "${name}" must keep its key in an unencrypted file (the demo's does).`,
      );
    outcome = await rotateLocal(config, name, key.file.path, values.config, local!, io);
  }

  const { rekey, version } = outcome;
  if (values.json) {
    io.stdout.write(
      `${JSON.stringify(
        {
          connection: name,
          version,
          rekeyAt: new Date(rekey.at).toISOString(),
          removedAt: rekey.removedAt === undefined ? null : new Date(rekey.removedAt).toISOString(),
          removedSlot: rekey.removedSlot ?? null,
          removedFingerprint: rekey.removedFingerprint ?? null,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    io.stdout.write(`rotated\tconnection ${name}\tnew key version ${version}\n`);
    io.stdout.write(
      rekey.removedFingerprint
        ? `removed\told key ${rekey.removedFingerprint} from slot ${rekey.removedSlot} of ${connection.user.toUpperCase()}\n`
        : `removed\tnothing: ${connection.user.toUpperCase()} had no other key registered\n`,
    );
  }
  io.stderr.write(
    [
      'Every container read the new key and stopped serving JWTs signed with the old one before it was removed.',
      'SQL API requests signed with the old key are refused by Snowflake from now on; a session a driver opened with one before lasts until it ends.',
      '',
    ].join('\n'),
  );
  return ExitCode.Ok;
}

/** Secrets Manager runs the rotation (the rotate-key function); the entry in the list says when it is done. */
async function rotateDeployed(
  config: Config,
  connection: string,
  secretId: string,
  tableName: string,
  regionFlag: string | undefined,
  timeoutMs: number,
  io: CliIo,
): Promise<{ version: string; rekey: Rekey }> {
  const region = regionFlag ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION;
  const clientOptions = { ...AWS_CLIENT_DEFAULTS, ...(region ? { region } : {}) };
  const { SecretsManagerClient, DescribeSecretCommand, RotateSecretCommand } = await loadSecretsManager();
  const { DynamoDBClient } = await loadDynamoDb();
  const secrets = new SecretsManagerClient(clientOptions);
  const table: ListTable = { client: new DynamoDBClient(clientOptions), tableName };
  const described = await secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
  const pending = Object.entries(described.VersionIdsToStages ?? {}).find(
    ([, stages]) => stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT'),
  );
  if (pending)
    throw new UsageError(
      `rotate-now: a rotation of ${secretId} is already in progress (version ${pending[0]} is AWSPENDING). Wait for it, or if it failed, see the rotate-key function's key.rotated records and clear it (aws secretsmanager update-secret-version-stage --version-stage AWSPENDING --remove-from-version-id ${pending[0]}).`,
    );
  const version = `${ROTATE_NOW_PREFIX}${randomUUID()}`;
  await secrets.send(
    new RotateSecretCommand({ SecretId: secretId, ClientRequestToken: version, RotateImmediately: true }),
  );
  io.stderr.write(
    `Rotating ${secretId} (version ${version}); the rotate-key function removes the old key about ${Math.round(settleMs(config.revocations.refreshSeconds) / 1000)} s after the new one is current.\n`,
  );
  const deadline = Date.now() + timeoutMs;
  let told: string | undefined;
  while (Date.now() < deadline) {
    const rekey = await readRekey(table, connection).catch(() => undefined);
    if (rekey?.version === version) {
      if (rekey.removedAt !== undefined) return { version, rekey };
      if (rekey.error && rekey.error !== told) {
        told = rekey.error;
        io.stderr.write(`Not removed yet (Secrets Manager retries the step): ${rekey.error}\n`);
      }
    }
    await sleep(1000);
  }
  throw new UsageError(
    `rotate-now: the rotation of ${secretId} did not finish within ${Math.round(timeoutMs / 1000)} s. The old key stays registered until it does; see the rotate-key function's key.rotated audit records (version ${version}).`,
  );
}

/** The local stack: a new key file, registered in the free slot, announced, then the old slot unset. */
async function rotateLocal(
  config: Config,
  connection: string,
  path: string,
  configFlag: string | undefined,
  local: NonNullable<ReturnType<typeof runningLocalStack>>,
  io: CliIo,
): Promise<{ version: string; rekey: Rekey }> {
  if (!local.revocations)
    throw new UsageError(
      'rotate-now: the local stack runs without a revocation list (dynalite is not installed).',
    );
  const runtime = await runtimeForCommand('rotate-now', configFlag, io);
  const { sql, signer } = runtime.connection(connection);
  const user = config.connections[connection]!.user;
  const current = (await signer!.currentKey()).fingerprint;
  const keys = await describeUserKeys(sql, user);
  const slot = slotOf(keys, current);
  if (!slot)
    throw new UsageError(
      `rotate-now: the current key of "${connection}" (${current}) is not registered for ${user.toUpperCase()}.`,
    );
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const staged = `${path}.rotate-now`;
  writeFileSync(staged, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const fresh = publicKeyFingerprint(privateKey);
  try {
    await setUserKey(sql, user, slot === 1 ? 2 : 1, publicKeyBody(privateKey));
    // Sign in with the new key before it replaces the file, as the rotation's testSecret does.
    await runtime
      .sqlClient(connection, new FileSigner({ path: staged, cacheTtlMs: 0 }))
      .execute('SELECT CURRENT_USER()');
    renameSync(staged, path);
  } finally {
    rmSync(staged, { force: true });
  }
  const { localDynamoClient } = await import('../../dev/local/revocation-table');
  const table: ListTable = {
    client: await localDynamoClient(local.revocations.endpoint),
    tableName: local.revocations.tableName,
  };
  const version = `${ROTATE_NOW_PREFIX}${randomUUID()}`;
  const at = Date.now();
  await announceRekey(table, { connection, version, at, by: 'local-operator (the local stack)' });
  await sleep(settleMs(config.revocations.refreshSeconds));
  signer!.refresh();
  const removed = await removeOtherKey(sql, user, fresh);
  const removedAt = Date.now();
  await recordRemoval(table, connection, version, {
    at: removedAt,
    ...(removed ? { slot: removed.slot, fingerprint: removed.fingerprint } : {}),
  });
  return {
    version,
    rekey: {
      connection,
      version,
      at,
      by: 'local-operator',
      removedAt,
      ...(removed ? { removedSlot: removed.slot, removedFingerprint: removed.fingerprint } : {}),
    },
  };
}
