import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge } from './expected-wildcards';

/** The triggers the Token Vendor has one function (and one log group) for. */
export type Trigger =
  | 'http'
  | 'direct'
  | 'rotation-check'
  | 'rotate-key'
  | 'revocation-audit'
  | 'pat-sweeper';
/** The functions that exist only when the config needs them. */
type OptionalTrigger = 'rotate-key' | 'revocation-audit' | 'pat-sweeper';
/**
 * One per function; `rotate-key` only when there is a key to rotate, `revocation-audit` only with the
 * revocation list, `pat-sweeper` only with PAT targets.
 */
export type PerTrigger<T> = Record<Exclude<Trigger, OptionalTrigger>, T> & {
  readonly [K in OptionalTrigger]?: T;
};

export interface MonitoringProps {
  /** `rotate-key` exists only when a connection's key is in Secrets Manager (something to rotate). */
  readonly functions: PerTrigger<lambda.IFunction>;
  readonly logGroups: PerTrigger<logs.ILogGroup>;
  readonly api: apigw.RestApi;
  readonly key: kms.IKey;
  /** Email addresses subscribed to the alarm topic. */
  readonly alarmEmails?: readonly string[];
  /** The revocation list is deployed: count and alarm on the requests it refuses. */
  readonly revocations?: boolean;
  /** The revocation list's audit: stream batches it could not audit (alarm when one lands). */
  readonly revocationAuditFailures?: sqs.IQueue;
  /** The config turns the shared cache on: alarm when the vendor keeps minting without it. */
  readonly sharedCache?: boolean;
  /** The API's access log group: gateway-level refusals (403s API Gateway answers itself) are counted from it. */
  readonly accessLogs: logs.ILogGroup;
}

const NAMESPACE = 'TokenVendor';

/**
 * Metric filters over the audit records, alarms (denials, failures, upstream unavailability, key
 * findings, a silent rotation check, function errors) on an encrypted SNS topic, a dashboard, and saved
 * Logs Insights queries for the audit trail.
 */
export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Token Vendor alarms',
      masterKey: props.key,
      enforceSSL: true,
    });
    // CloudWatch alarms in this account may publish; nothing else is needed beyond the TLS-only deny.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
          ArnLike: {
            'aws:SourceArn': Stack.of(this).formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    for (const email of props.alarmEmails ?? []) {
      const subscription = this.topic.addSubscription(new subscriptions.EmailSubscription(email));
      acknowledge(
        subscription,
        'Serverless-SNSRedrivePolicy',
        'An email subscription: an undelivered alarm email stays visible as the alarm state in CloudWatch and on the dashboard.',
      );
    }

    // Metric filters: the audit trail itself is the source of truth for denials and failures.
    const vendingLogs = [props.logGroups.http, props.logGroups.direct];
    const filterMetric = (name: string, pattern: logs.IFilterPattern) => {
      vendingLogs.forEach((group, i) => {
        new logs.MetricFilter(this, `${name}Filter${i}`, {
          logGroup: group,
          metricNamespace: `${NAMESPACE}/Audit`,
          metricName: name,
          filterPattern: pattern,
          metricValue: '1',
          defaultValue: 0,
        });
      });
      return new cloudwatch.Metric({
        namespace: `${NAMESPACE}/Audit`,
        metricName: name,
        statistic: 'Sum',
        period: Duration.minutes(5),
      });
    };
    const denials = filterMetric('Denials', logs.FilterPattern.stringValue('$.event', '=', 'token.denied'));
    const failures = filterMetric('Failures', logs.FilterPattern.stringValue('$.event', '=', 'token.failed'));
    const unavailable = filterMetric(
      'UpstreamUnavailable',
      logs.FilterPattern.all(
        logs.FilterPattern.stringValue('$.event', '=', 'token.failed'),
        logs.FilterPattern.any(
          logs.FilterPattern.stringValue('$.errorCode', '=', 'UPSTREAM_UNAVAILABLE'),
          logs.FilterPattern.stringValue('$.errorCode', '=', 'THROTTLED'),
        ),
      ),
    );
    const revoked = props.revocations
      ? filterMetric(
          'RevokedDenials',
          logs.FilterPattern.all(
            logs.FilterPattern.stringValue('$.event', '=', 'token.denied'),
            logs.FilterPattern.stringValue('$.errorCode', '=', 'REVOKED'),
          ),
        )
      : undefined;
    const keyMetric = (name: string) =>
      new cloudwatch.Metric({
        namespace: NAMESPACE,
        metricName: name,
        dimensionsMap: { service: 'token-vendor' },
        statistic: 'Maximum',
        period: Duration.hours(1),
      });

    const alarm = (
      name: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      description: string,
      extra: Partial<cloudwatch.AlarmProps> = {},
    ) => {
      const a = new cloudwatch.Alarm(this, name, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...extra,
      });
      a.addAlarmAction(new actions.SnsAction(this.topic));
      this.alarms.push(a);
      return a;
    };
    alarm(
      'DenialsAlarm',
      denials,
      10,
      'Many requests were denied (token.denied): a caller lacks a grant, or someone is probing. See the "denials by principal" query.',
    );
    if (revoked)
      alarm(
        'RevokedDenialsAlarm',
        revoked,
        1,
        'A revoked principal or target was asked for a token (REVOKED): the revocation is working, and whoever holds that role is still trying. See the "denials by principal" query.',
      );
    const listLogs = props.logGroups['revocation-audit'];
    if (listLogs) {
      // Written by no CLI command: an item that is no entry, or an entry deleted by other than its TTL
      // (the operator role cannot delete), means someone wrote the table by other means.
      new logs.MetricFilter(this, 'RevocationListTamperedFilter', {
        logGroup: listLogs,
        metricNamespace: `${NAMESPACE}/Audit`,
        metricName: 'RevocationListTampered',
        filterPattern: logs.FilterPattern.any(
          logs.FilterPattern.stringValue('$.event', '=', 'revocation.unreadable'),
          logs.FilterPattern.all(
            logs.FilterPattern.stringValue('$.event', '=', 'revocation.removed'),
            logs.FilterPattern.stringValue('$.detail.removedBy', '=', 'table-writer'),
          ),
        ),
        metricValue: '1',
        defaultValue: 0,
      });
      alarm(
        'RevocationListTamperedAlarm',
        new cloudwatch.Metric({
          namespace: `${NAMESPACE}/Audit`,
          metricName: 'RevocationListTampered',
          statistic: 'Sum',
          period: Duration.minutes(5),
        }),
        1,
        'The revocation table was written outside the CLI: an item that is no entry (revocation.unreadable), or an entry deleted by other than its TTL (revocation.removed, removedBy table-writer). See the revocation-audit log group, and CloudTrail for who.',
      );
    }
    if (props.revocationAuditFailures)
      alarm(
        'RevocationAuditFailuresAlarm',
        props.revocationAuditFailures.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(5),
          statistic: 'Maximum',
        }),
        1,
        'Changes to the revocation list could not be audited after retries (the on-failure queue holds their stream positions). The entries themselves are in the table; see the revocation-audit log group.',
      );
    alarm(
      'FailuresAlarm',
      failures,
      5,
      'Token requests are failing (token.failed). See the "failures by error code" query; errorCause names the internal reason.',
    );
    alarm(
      'UpstreamUnavailableAlarm',
      unavailable,
      3,
      'Snowflake, KMS, Secrets Manager or the OAuth server is unavailable or throttling the vendor.',
      { evaluationPeriods: 2, datapointsToAlarm: 2 },
    );
    if (props.sharedCache) {
      alarm(
        'SharedCacheFallbackAlarm',
        new cloudwatch.MathExpression({
          expression: 'FILL(postgres, 0) + FILL(oauth, 0)',
          usingMetrics: Object.fromEntries(
            ['postgres', 'oauth'].map((tokenType) => [
              tokenType,
              new cloudwatch.Metric({
                namespace: NAMESPACE,
                metricName: 'SharedCacheFallbacks',
                dimensionsMap: { service: 'token-vendor', tokenType },
                statistic: 'Sum',
              }),
            ]),
          ),
          period: Duration.minutes(5),
          label: 'SharedCacheFallbacks',
        }),
        10,
        'The shared token cache (DynamoDB or KMS) is failing or slow: containers mint on their own, so Snowflake sees one mint per container again. Check the table and the key.',
      );
    }
    alarm(
      'IntegrationDriftAlarm',
      new cloudwatch.MathExpression({
        expression: 'FILL(drifted, 0) + FILL(disabled, 0) + FILL(missing, 0)',
        // The check runs daily: each metric over the same day the expression covers.
        usingMetrics: {
          drifted: keyMetric('IntegrationsDrifted').with({ period: Duration.days(1) }),
          disabled: keyMetric('IntegrationsDisabled').with({ period: Duration.days(1) }),
          missing: keyMetric('IntegrationsNotFound').with({ period: Duration.days(1) }),
        },
        period: Duration.days(1),
        label: 'IntegrationsDrifted + Disabled + NotFound',
      }),
      1,
      'A Snowflake security integration differs from the vendor’s config, is disabled, or is gone: run token-vendor integrations check; its key.rotation-checked audit record lists each property.',
    );
    alarm(
      'KeyNotRegisteredAlarm',
      keyMetric('KeysNotRegistered'),
      1,
      'A connection key is in neither Snowflake key slot: every mint for it fails. Run token-vendor rotation-check; register the key or restore it.',
    );
    alarm(
      'KeyOverdueAlarm',
      keyMetric('KeysOverdue'),
      1,
      'A connection key is past overdueAfterDays: rotate it (aws secretsmanager rotate-secret) and check the rotation schedule.',
    );
    alarm(
      'WorkloadIdentityMismatchAlarm',
      keyMetric('WorkloadIdentityMismatches'),
      1,
      "A keyless connection's Snowflake user has no workload identity for the vendor's role: every sign-in fails. Run token-vendor rotation-check; it prints the ALTER USER to run.",
    );
    alarm(
      'KeyCheckFailedAlarm',
      keyMetric('KeyChecksFailed'),
      1,
      'The rotation check could not check a connection (ERROR). Its audit record (key.rotation-checked) says why.',
    );
    const sweeper = props.functions['pat-sweeper'];
    if (sweeper) {
      alarm(
        'PatTargetNotReadyAlarm',
        keyMetric('PatTargetsNotReady'),
        1,
        'Snowflake would refuse a PAT for a PAT target now (its user has no network policy, a configured role is not granted to it, or it holds 15 PATs). Run token-vendor rotation-check: its pat:<target> line names the fix.',
      );
      const sweepMetric = (name: string, statistic: string) =>
        new cloudwatch.Metric({
          namespace: NAMESPACE,
          metricName: name,
          dimensionsMap: { service: 'token-vendor' },
          statistic,
          period: Duration.minutes(15),
        });
      alarm(
        'PatSweepErrorsAlarm',
        sweepMetric('PatSweepErrors', 'Sum'),
        1,
        "The PAT sweeper could not list or remove programmatic access tokens: a token whose lease ended may live until Snowflake's own expiry (a day after it was made). Its pat.swept audit record names each failure.",
        { evaluationPeriods: 2, datapointsToAlarm: 2 },
      );
      alarm(
        'PatsNearLimitAlarm',
        sweepMetric('PatsHeldMax', 'Maximum'),
        13,
        'A PAT user holds 13 or more of the 15 programmatic access tokens Snowflake allows: callers will soon get PAT_LIMIT. Give the consuming system its own Snowflake user, shorten leases, or remove tokens made by hand (docs/pat.md).',
      );
      alarm(
        'PatSweeperSilentAlarm',
        sweeper.metricInvocations({ period: Duration.hours(1), statistic: 'Sum' }),
        1,
        'The PAT sweeper did not run in the last hour: expired leases are not being ended. Check its EventBridge schedule.',
        {
          comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        },
      );
    }
    alarm(
      'RotationCheckSilentAlarm',
      props.functions['rotation-check'].metricInvocations({ period: Duration.days(1), statistic: 'Sum' }),
      1,
      'The daily rotation check did not run in the last day: check the EventBridge schedule.',
      {
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      },
    );
    // API Gateway's own answers: 4XX includes the 403s it gives before the Lambda runs (bad or missing
    // SigV4, a principal the resource policy refuses), which never reach the audit trail.
    alarm(
      'ApiClientErrorsAlarm',
      props.api.metricClientError({ period: Duration.minutes(5), statistic: 'Sum' }),
      25,
      'Many 4XX answers from the API (refused signatures, denied principals, bad requests). See the access log: status, errorType, userArn.',
    );
    alarm(
      'ApiServerErrorsAlarm',
      props.api.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }),
      1,
      'The API answered 5XX: the vendor is misconfigured or failing (CONFIG_ERROR, INTERNAL) or the integration failed.',
    );
    new logs.MetricFilter(this, 'GatewayDenialsFilter', {
      logGroup: props.accessLogs,
      metricNamespace: `${NAMESPACE}/Audit`,
      metricName: 'GatewayDenials',
      filterPattern: logs.FilterPattern.all(
        // The access log format quotes every $context value, status included: compare it as the string it
        // is (a numeric comparison against a JSON string may never match; test/integration/monitoring).
        logs.FilterPattern.stringValue('$.status', '=', '403'),
        logs.FilterPattern.stringValue('$.integrationStatus', '=', '-'),
      ),
      metricValue: '1',
      defaultValue: 0,
    });
    alarm(
      'GatewayDenialsAlarm',
      new cloudwatch.Metric({
        namespace: `${NAMESPACE}/Audit`,
        metricName: 'GatewayDenials',
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      10,
      'API Gateway refused many requests itself (403 before the Lambda: bad SigV4, a principal the resource policy denies). See the access log by userArn and ip.',
    );

    for (const [trigger, f] of Object.entries(props.functions)) {
      alarm(
        `${trigger.replace(/-(\w)/g, (_m, c: string) => c.toUpperCase())}ErrorsAlarm`,
        f.metricErrors({ period: Duration.minutes(5) }),
        1,
        `The ${trigger} function raised unhandled errors (crashes or timeouts): see its log group.`,
      );
    }

    const tokens = (name: string, statistic = 'Sum') =>
      new cloudwatch.Metric({
        namespace: NAMESPACE,
        metricName: name,
        dimensionsMap: { service: 'token-vendor', tokenType: 'postgres' },
        statistic,
        period: Duration.minutes(5),
      });
    new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(24),
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Audit outcomes',
            left: [denials, failures, unavailable],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Postgres tokens',
            left: [tokens('TokensIssued'), tokens('CacheHits')],
            right: [tokens('UpstreamLatency', 'p99')],
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Keys',
            left: [
              keyMetric('KeysNotRegistered'),
              keyMetric('KeysRotationDue'),
              keyMetric('KeysOverdue'),
              keyMetric('KeyChecksFailed'),
              keyMetric('WorkloadIdentityMismatches'),
            ],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'API',
            left: [props.api.metricCount(), props.api.metricClientError(), props.api.metricServerError()],
            right: [props.api.metricLatency({ statistic: 'p99' })],
            width: 12,
          }),
        ],
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 })],
      ],
    });

    const queries: [string, logs.QueryString][] = [
      [
        'who-got-tokens-for-user',
        new logs.QueryString({
          fields: [
            '@timestamp',
            'principalArn',
            'target.instance',
            'target.username',
            'tokenId',
            'cache',
            'expiresAt',
          ],
          filterStatements: ['event = "token.issued"', 'target.username = "reporting_user"'],
          sort: '@timestamp desc',
        }),
      ],
      [
        'find-token-by-id',
        new logs.QueryString({
          fields: [
            '@timestamp',
            'event',
            'principalArn',
            'tokenType',
            'target.instance',
            'target.username',
            'issuedAt',
            'expiresAt',
          ],
          filterStatements: ['tokenId = "tid_replace_me"'],
          sort: '@timestamp desc',
        }),
      ],
      [
        'denials-by-principal',
        new logs.QueryString({
          filterStatements: ['event = "token.denied"'],
          statsStatements: ['count(*) as denials by principalArn, tokenType'],
          sort: 'denials desc',
        }),
      ],
      [
        'failures-by-error-code',
        new logs.QueryString({
          filterStatements: ['event = "token.failed"'],
          statsStatements: ['count(*) as failures by errorCode, errorCause'],
          sort: 'failures desc',
        }),
      ],
      [
        'tokens-by-principal',
        new logs.QueryString({
          filterStatements: ['event = "token.issued"'],
          statsStatements: ['count(*) as issued by principalArn, tokenType'],
          sort: 'issued desc',
        }),
      ],
    ];
    for (const [name, queryString] of queries) {
      new logs.QueryDefinition(
        this,
        `Query${name.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase())}`,
        {
          queryDefinitionName: `token-vendor/${name}`,
          queryString,
          logGroups: [props.logGroups.http, props.logGroups.direct],
        },
      );
    }
    new logs.QueryDefinition(this, 'QueryKeyHistory', {
      queryDefinitionName: 'token-vendor/key-checks-and-rotations',
      queryString: new logs.QueryString({
        fields: ['@timestamp', 'event', 'errorCode', 'detail.step', 'detail.connection', 'detail.outcome'],
        filterStatements: ['event like /key\\./'],
        sort: '@timestamp desc',
      }),
      logGroups: [
        props.logGroups['rotation-check'],
        ...(props.logGroups['rotate-key'] ? [props.logGroups['rotate-key']] : []),
      ],
    });
  }
}
