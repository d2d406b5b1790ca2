/**
 * Base class of every error the token vendor raises on purpose.
 *
 * Each error carries a stable, machine-readable `code` (UPPER_SNAKE_CASE) so that callers, the HTTP
 * layer and the CLI branch on the code, never on the message. Messages say what to fix and never
 * contain secret material.
 *
 * @example
 * ```ts
 * try { await signer.currentKey(); } catch (e) {
 *   if (e instanceof TokenVendorError && e.code === 'KEY_WRONG_PASSPHRASE') { … }
 * }
 * ```
 */
export class TokenVendorError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
