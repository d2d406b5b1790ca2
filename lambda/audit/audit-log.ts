import { type AuditRecord, clean } from './record';

/** The part of Powertools Logger the audit log needs; tests may pass any sink of this shape. */
export interface AuditSink {
  info(message: string, ...attributes: Record<string, unknown>[]): void;
}

/**
 * Writes audit records as structured JSON lines (one per request) through Powertools Logger, so they
 * land in CloudWatch Logs where metric filters and Logs Insights queries read them
 * (`{ $.event = "token.denied" }`).
 *
 * @example
 * ```ts
 * const audit = new AuditLog(new Logger({ serviceName: 'token-vendor' }));
 * audit.write({ event: 'token.issued', … });
 * ```
 */
export class AuditLog {
  constructor(private readonly sink: AuditSink) {}

  write(record: AuditRecord): void {
    this.sink.info(record.event, {
      ...record,
      principalArn: clean(record.principalArn, 2048),
      sourceIp: clean(record.sourceIp, 64),
      userAgent: clean(record.userAgent),
      errorMessage: clean(record.errorMessage, 1024),
    });
  }
}
