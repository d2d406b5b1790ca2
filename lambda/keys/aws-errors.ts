import { KeyErrorCode, KeyMaterialError } from './errors';

const NOT_FOUND = new Set(['ResourceNotFoundException', 'NotFoundException']);
const DENIED = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnrecognizedClientException',
  'DisabledException',
  'KMSInvalidStateException',
  'InvalidGrantTokenException',
  'DecryptionFailure',
]);

/**
 * Turn an AWS SDK error from Secrets Manager or KMS into a {@link KeyMaterialError} that names the
 * source and says whether retrying can help. The AWS message is kept as the cause only.
 *
 * @example
 * ```ts
 * try { await client.send(cmd); } catch (e) { throw keySourceError(e, 'secretsManager:prod/key'); }
 * ```
 */
export function keySourceError(error: unknown, source: string): KeyMaterialError {
  const name = error instanceof Error ? error.name : '';
  if (NOT_FOUND.has(name)) {
    return new KeyMaterialError(KeyErrorCode.SecretNotFound, `${source} does not exist (${name}).`, {
      cause: error,
    });
  }
  if (DENIED.has(name)) {
    return new KeyMaterialError(
      KeyErrorCode.AccessDenied,
      `The vendor may not use ${source} (${name}); check its IAM role, the key policy and that the key is enabled.`,
      { cause: error },
    );
  }
  return new KeyMaterialError(
    KeyErrorCode.SourceUnavailable,
    `${source} could not be read (${name || 'error'}); retry later.`,
    {
      cause: error,
    },
  );
}
