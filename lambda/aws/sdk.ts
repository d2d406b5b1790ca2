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

/**
 * Timeouts for every AWS client the functions make: a connection that does not open in 1 s, or an answer
 * that does not come in 2 s, fails the attempt instead of holding the request until the function's own
 * timeout (25 s); two attempts at most. So a hung Secrets Manager, KMS or STS endpoint costs a request
 * about 4 s and a clear 503, not a 500 at the function timeout. (The shared cache bounds its own calls
 * tighter still: lambda/vending/shared-cache.ts.)
 */
export const AWS_CLIENT_DEFAULTS = {
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 1000, requestTimeout: 2000, throwOnRequestTimeout: true },
} as const;
