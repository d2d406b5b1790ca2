import { ArnFormat, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/**
 * The IAM resource for a Secrets Manager secret named in the config: an ARN is used as is; a name
 * becomes `arn:…:secret:<name>-??????` (Secrets Manager appends six random characters to every ARN).
 *
 * @example
 * ```ts
 * secretResource(stack, 'token-vendor/snowflake/analytics'); // arn:aws:secretsmanager:…:secret:token-vendor/snowflake/analytics-??????
 * ```
 */
export function secretResource(scope: Construct, secretId: string): string {
  if (secretId.startsWith('arn:')) return secretId;
  return Stack.of(scope).formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: `${secretId}-??????`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** IAM resource and condition for a KMS key named by ARN, key id, alias name or alias ARN. */
export interface KmsKeyResource {
  readonly resource: string;
  /** For aliases: the key must carry the alias (`kms:ResourceAliases`). */
  readonly aliasCondition?: string;
}

export function kmsKeyResource(scope: Construct, keyId: string): KmsKeyResource {
  const stack = Stack.of(scope);
  const aliasArn = /^arn:[^:]+:kms:[^:]*:\d{12}:(alias\/.+)$/.exec(keyId);
  if (aliasArn || keyId.startsWith('alias/')) {
    const alias = aliasArn ? aliasArn[1]! : keyId;
    return {
      resource: stack.formatArn({ service: 'kms', resource: 'key', resourceName: '*' }),
      aliasCondition: alias,
    };
  }
  if (keyId.startsWith('arn:')) return { resource: keyId };
  return { resource: stack.formatArn({ service: 'kms', resource: 'key', resourceName: keyId }) };
}
