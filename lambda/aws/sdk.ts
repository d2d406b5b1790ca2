/**
 * The AWS SDK clients are loaded on first use. Importing them costs about 70 ms of cold start, and a
 * request served from the token cache never needs them.
 */
export const loadSecretsManager = () => import('@aws-sdk/client-secrets-manager');
export const loadKms = () => import('@aws-sdk/client-kms');
export const loadSts = () => import('@aws-sdk/client-sts');
export const loadDynamoDb = () => import('@aws-sdk/client-dynamodb');

/** A client given directly, or made (possibly asynchronously) on first use. */
export type Lazy<T> = T | (() => T | Promise<T>);

/**
 * The client behind a {@link Lazy}.
 *
 * @example
 * ```ts
 * const client = await resolveLazy(options.client);
 * ```
 */
export async function resolveLazy<T extends object>(value: Lazy<T>): Promise<T> {
  return typeof value === 'function' ? await (value as () => T | Promise<T>)() : value;
}
