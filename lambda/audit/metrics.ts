import type { Metrics } from '@aws-lambda-powertools/metrics';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { AuditRecord } from './record';

/** Metric names (namespace `TokenVendor`), shared with the CDK alarms and dashboard. */
export const MetricName = {
  TokensIssued: 'TokensIssued',
  TokensDenied: 'TokensDenied',
  TokensFailed: 'TokensFailed',
  CacheHits: 'CacheHits',
  SharedCacheHits: 'SharedCacheHits',
  SharedCacheFallbacks: 'SharedCacheFallbacks',
  UpstreamUnavailable: 'UpstreamUnavailable',
  UpstreamLatency: 'UpstreamLatency',
} as const;

/**
 * Turn an audit record into EMF metrics: one count per outcome, cache hits, upstream unavailability,
 * and the upstream latency of a miss.
 *
 * @example
 * ```ts
 * recordMetrics(metrics, record); // flushed by the logMetrics middleware
 * ```
 */
export function recordMetrics(metrics: Metrics, record: AuditRecord): void {
  if (record.tokenType) metrics.addDimension('tokenType', record.tokenType);
  switch (record.event) {
    case 'token.issued':
      metrics.addMetric(MetricName.TokensIssued, MetricUnit.Count, 1);
      if (record.cache === 'hit' || record.cache === 'coalesced')
        metrics.addMetric(MetricName.CacheHits, MetricUnit.Count, 1);
      if (record.cache === 'shared-hit') metrics.addMetric(MetricName.SharedCacheHits, MetricUnit.Count, 1);
      if (record.cache === 'local-fallback')
        metrics.addMetric(MetricName.SharedCacheFallbacks, MetricUnit.Count, 1);
      if (record.upstreamMs !== undefined)
        metrics.addMetric(MetricName.UpstreamLatency, MetricUnit.Milliseconds, record.upstreamMs);
      break;
    case 'token.denied':
      metrics.addMetric(MetricName.TokensDenied, MetricUnit.Count, 1);
      break;
    case 'token.failed':
      metrics.addMetric(MetricName.TokensFailed, MetricUnit.Count, 1);
      if (record.errorCode === 'UPSTREAM_UNAVAILABLE' || record.errorCode === 'THROTTLED') {
        metrics.addMetric(MetricName.UpstreamUnavailable, MetricUnit.Count, 1);
      }
      break;
    default:
      break;
  }
}
