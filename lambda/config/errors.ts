import { TokenVendorError } from '../errors';

/** The config document is invalid; the message lists every bad field by its path. */
export class ConfigError extends TokenVendorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', message, options);
  }
}
