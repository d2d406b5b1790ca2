import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';

/** A secret's name from its name or ARN (`…:secret:<name>-AbCdEf`). */
function nameOf(id: string): string {
  return id.startsWith('arn:') ? id.replace(/^.*:secret:/, '').replace(/-[A-Za-z0-9]{6}$/, '') : id;
}

interface Version {
  value?: string;
  stages: Set<string>;
  created: Date;
}

/**
 * Secrets Manager's versioning semantics behind aws-sdk-client-mock: versions with staging labels,
 * GetSecretValue by VersionId and/or VersionStage, PutSecretValue idempotent per ClientRequestToken,
 * DescribeSecret's VersionIdsToStages, and UpdateSecretVersionStage moving a label.
 *
 * @example
 * ```ts
 * const sm = new FakeSecretsManager(); sm.create('tv/demo', pem); sm.startRotation('tv/demo', token);
 * ```
 */
export class FakeSecretsManager {
  readonly client = new SecretsManagerClient({ region: 'us-east-1' });
  readonly stub: AwsClientStub<SecretsManagerClient>;
  readonly #secrets = new Map<string, Map<string, Version>>();
  #counter = 0;

  /**
   * @param options.everyClient stub every SecretsManagerClient, not only {@link client} (for code that
   *   makes its own, such as the CLI); `stub.restore()` afterwards.
   */
  constructor(
    private readonly now: () => number = Date.now,
    options: { everyClient?: boolean } = {},
  ) {
    this.stub = options.everyClient ? mockClient(SecretsManagerClient) : mockClient(this.client);
    const notFound = (message: string) => new ResourceNotFoundException({ message, $metadata: {} });
    this.stub
      .on(GetSecretValueCommand)
      .callsFake((input: { SecretId: string; VersionId?: string; VersionStage?: string }) => {
        const versions = this.#versions(input.SecretId);
        const stage = input.VersionStage ?? (input.VersionId ? undefined : 'AWSCURRENT');
        const entry = [...versions.entries()].find(
          ([id, v]) => (!input.VersionId || id === input.VersionId) && (!stage || v.stages.has(stage)),
        );
        if (!entry || entry[1].value === undefined)
          throw notFound(`no version ${input.VersionId ?? ''} ${stage ?? ''}`);
        return {
          ARN: this.arn(nameOf(input.SecretId)),
          Name: nameOf(input.SecretId),
          VersionId: entry[0],
          SecretString: entry[1].value,
          VersionStages: [...entry[1].stages],
          CreatedDate: entry[1].created,
        };
      });
    this.stub
      .on(PutSecretValueCommand)
      .callsFake(
        (input: {
          SecretId: string;
          ClientRequestToken: string;
          SecretString: string;
          VersionStages?: string[];
        }) => {
          const versions = this.#versions(input.SecretId);
          const existing = versions.get(input.ClientRequestToken);
          if (existing?.value !== undefined && existing.value !== input.SecretString) {
            throw Object.assign(new Error('ResourceExistsException'), { name: 'ResourceExistsException' });
          }
          const stages = new Set([...(existing?.stages ?? []), ...(input.VersionStages ?? ['AWSCURRENT'])]);
          for (const stage of stages) for (const v of versions.values()) v.stages.delete(stage);
          versions.set(input.ClientRequestToken, {
            value: input.SecretString,
            stages,
            created: new Date(this.now()),
          });
          return {
            ARN: this.arn(nameOf(input.SecretId)),
            VersionId: input.ClientRequestToken,
            VersionStages: [...stages],
          };
        },
      );
    this.stub.on(DescribeSecretCommand).callsFake((input: { SecretId: string }) => {
      const versions = this.#versions(input.SecretId);
      return {
        ARN: this.arn(nameOf(input.SecretId)),
        Name: nameOf(input.SecretId),
        RotationEnabled: true,
        VersionIdsToStages: Object.fromEntries(
          [...versions.entries()].filter(([, v]) => v.stages.size > 0).map(([id, v]) => [id, [...v.stages]]),
        ),
      };
    });
    this.stub
      .on(UpdateSecretVersionStageCommand)
      .callsFake(
        (input: {
          SecretId: string;
          VersionStage: string;
          MoveToVersionId: string;
          RemoveFromVersionId?: string;
        }) => {
          const versions = this.#versions(input.SecretId);
          const target = versions.get(input.MoveToVersionId);
          if (!target) throw notFound('no such version');
          const holder = [...versions.entries()].find(([, v]) => v.stages.has(input.VersionStage));
          if (holder && holder[0] !== input.MoveToVersionId && holder[0] !== input.RemoveFromVersionId) {
            throw Object.assign(new Error('InvalidParameterException'), {
              name: 'InvalidParameterException',
            });
          }
          if (holder) {
            holder[1].stages.delete(input.VersionStage);
            if (input.VersionStage === 'AWSCURRENT') holder[1].stages.add('AWSPREVIOUS');
          }
          if (input.VersionStage === 'AWSCURRENT') {
            for (const v of versions.values()) if (v !== holder?.[1]) v.stages.delete('AWSPREVIOUS');
            target.stages.delete('AWSPENDING');
          }
          target.stages.add(input.VersionStage);
          return { ARN: this.arn(nameOf(input.SecretId)), Name: nameOf(input.SecretId) };
        },
      );
  }

  arn(name: string): string {
    return `arn:aws:secretsmanager:us-east-1:111122223333:secret:${name}-AbCdEf`;
  }

  /** Create a secret whose first version is AWSCURRENT, created `ageMs` ago. */
  create(name: string, value: string, ageMs = 0): string {
    const id = `v${++this.#counter}`;
    this.#secrets.set(
      name,
      new Map([[id, { value, stages: new Set(['AWSCURRENT']), created: new Date(this.now() - ageMs) }]]),
    );
    return id;
  }

  /** What RotateSecret does before calling createSecret: label the new version id AWSPENDING. */
  startRotation(name: string, token: string): void {
    const versions = this.#versions(name);
    for (const v of versions.values()) v.stages.delete('AWSPENDING');
    versions.set(token, { stages: new Set(['AWSPENDING']), created: new Date(this.now()) });
  }

  stagesOf(name: string): Record<string, string[]> {
    return Object.fromEntries([...this.#versions(name).entries()].map(([id, v]) => [id, [...v.stages]]));
  }

  valueOf(name: string, stage: string): string | undefined {
    return [...this.#versions(name).values()].find((v) => v.stages.has(stage))?.value;
  }

  #versions(name: string): Map<string, Version> {
    const versions = this.#secrets.get(nameOf(name));
    if (!versions)
      throw new ResourceNotFoundException({
        message: `Secrets Manager can't find the specified secret ${name}.`,
        $metadata: {},
      });
    return versions;
  }
}
