import { TokenVendorError } from '../errors';

/** The caller has no grant for the target. Says nothing about whether the target exists. */
export class NotAuthorizedError extends TokenVendorError {
  constructor(message = 'The caller is not granted this target.') {
    super('NOT_AUTHORIZED', message);
  }
}

/** The request is malformed: bad JSON, unknown or missing fields, bad names. */
export class InvalidRequestError extends TokenVendorError {
  constructor(message: string) {
    super('INVALID_REQUEST', message);
  }
}

/** The body is larger than the API accepts. */
export class PayloadTooLargeError extends TokenVendorError {
  constructor(limitBytes: number) {
    super('PAYLOAD_TOO_LARGE', `The request body is larger than ${limitBytes / 1024} KiB.`);
  }
}

/** No such route or token type. */
export class UnknownTargetError extends TokenVendorError {
  constructor(message: string) {
    super('UNKNOWN_TARGET', message);
  }
}
