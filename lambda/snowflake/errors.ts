import { TokenVendorError } from '../errors';

/** An account identifier that matches none of the forms `accountForJwt` accepts. */
export class AccountIdentifierError extends TokenVendorError {
  constructor(message: string) {
    super('ACCOUNT_IDENTIFIER_INVALID', message);
  }
}

/** A JWT request that would break Snowflake's rules (lifetime over 3600 s, empty user, …). */
export class JwtRequestError extends TokenVendorError {
  constructor(code: 'JWT_LIFETIME_INVALID' | 'JWT_USER_INVALID', message: string) {
    super(code, message);
  }
}
