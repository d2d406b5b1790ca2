import { Logger } from '@aws-lambda-powertools/logger';
import middy from '@middy/core';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { AuditLog } from '../audit/audit-log';
import { listChange } from '../audit/list-change';

export interface RevocationAuditDeps {
  readonly audit: AuditLog;
  readonly now?: () => number;
}

/**
 * The revocation table's stream (new and old images) → one audit record per change to the list
 * (`principal.revoked`, `target.unrevoked`, `revocation.removed`, …; audit/list-change.ts). It reads
 * nothing else and calls nothing: its role may only read the stream. A record whose audit line cannot be
 * written is reported as a batch item failure, so Lambda retries from it and nothing is lost; after the
 * mapping's retries it goes to the on-failure queue.
 */
export function createRevocationAuditHandler(deps: RevocationAuditDeps) {
  return middy<DynamoDBStreamEvent, DynamoDBBatchResponse, Error, Context>().handler(async (event) => {
    const batchItemFailures: DynamoDBBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records ?? []) {
      try {
        deps.audit.write(listChange(record, deps.now));
      } catch (error) {
        const id = record.dynamodb?.SequenceNumber;
        // Without a sequence number there is nothing to retry from: fail the whole batch instead.
        if (!id) throw error;
        // Lambda retries from the first failure: everything after it comes again.
        batchItemFailures.push({ itemIdentifier: id });
        break;
      }
    }
    return { batchItemFailures };
  });
}

/** The Lambda entry point for the revocation table's stream. */
export const handler = createRevocationAuditHandler({
  audit: new AuditLog(new Logger({ serviceName: 'token-vendor' })),
});
