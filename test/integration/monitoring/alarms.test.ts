import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../infra/build-app';
import { AuditLog } from '../../../lambda/audit/audit-log';
import { recordMetrics } from '../../../lambda/audit/metrics';
import type { AuditRecord } from '../../../lambda/audit/record';
import { createHttpHandler } from '../../../lambda/handlers/http';
import { createPatSweeperHandler } from '../../../lambda/handlers/pat-sweeper';
import { createRevocationAuditHandler } from '../../../lambda/handlers/revocation-audit';
import { createRotationCheckHandler } from '../../../lambda/handlers/rotation-check';
import { auditLog, metrics } from '../../../lambda/runtime';
import { RevokedError } from '../../../lambda/vending/revocations';
import type { TokenVendor } from '../../../lambda/vending/vendor';
import { ALICE, lambdaContext, ROLE_SESSION, restEvent } from '../../support/events';
import { tempDir, writeTempFile } from '../../support/keys';
import { type VendingHarness, vendingHarness } from '../../support/vending';

/**
 * An alarm that watches a metric nobody writes never fires, and nothing says so. Here the synthesized
 * template's metric filters run against the audit lines the vendor really writes (Powertools Logger,
 * as in Lambda), and its alarms' EMF metrics are looked up, by namespace, name and exact dimensions,
 * in what the functions' own `metrics` instance really prints.
 */

// ---- CloudWatch Logs JSON filter patterns: `{ ($.a = "x") && (($.b = 1) || ($.c != "y")) }` ----
// Typed on purpose: a quoted value equals only a JSON string, a number only a JSON number. Whatever
// coercion CloudWatch applies, a match here is a match there.
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function matchesFilter(pattern: string, event: Json): boolean {
  const body = /^\s*\{(.*)\}\s*$/s.exec(pattern)?.[1];
  if (body === undefined) throw new Error(`not a JSON filter pattern: ${pattern}`);
  const tokens = body.match(/\(|\)|&&|\|\||!=|=|"(?:[^"\\]|\\.)*"|[^\s()=!&|"]+/g) ?? [];
  let i = 0;
  const value = (path: string): Json | undefined => {
    let at: Json | undefined = event;
    for (const key of path.replace(/^\$\./, '').split('.')) {
      at = at !== null && typeof at === 'object' && !Array.isArray(at) ? at[key] : undefined;
    }
    return at;
  };
  const comparison = (): boolean => {
    const selector = tokens[i++]!;
    const op = tokens[i++]!;
    const raw = tokens[i++]!;
    if (!selector.startsWith('$.') || (op !== '=' && op !== '!=')) throw new Error(`unsupported: ${pattern}`);
    const actual = value(selector);
    const equal = raw.startsWith('"') ? actual === JSON.parse(raw) : actual === Number(raw);
    return op === '=' ? equal : actual !== undefined && !equal;
  };
  const term = (): boolean => {
    if (tokens[i] === '(') {
      i += 1;
      const inner = or();
      if (tokens[i++] !== ')') throw new Error(`unbalanced: ${pattern}`);
      return inner;
    }
    return comparison();
  };
  const and = (): boolean => {
    let result = term();
    while (tokens[i] === '&&') {
      i += 1;
      result = term() && result;
    }
    return result;
  };
  const or = (): boolean => {
    let result = and();
    while (tokens[i] === '||') {
      i += 1;
      result = and() || result;
    }
    return result;
  };
  const result = or();
  if (i !== tokens.length) throw new Error(`trailing tokens in ${pattern}`);
  return result;
}

/** Run `act` with stdout captured; every JSON line it printed. */
async function printed(act: () => Promise<unknown>): Promise<Record<string, Json>[]> {
  const lines: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: unknown) => {
    lines.push(...String(chunk).split('\n'));
    return true;
  }) as typeof process.stdout.write;
  try {
    await act();
  } finally {
    process.stdout.write = write;
  }
  return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, Json>);
}

type Dimension = { Name: string; Value: string };
type MetricStat = { Namespace: string; MetricName: string; Dimensions?: Dimension[] };

/** Does an EMF line carry `metric` under exactly its dimensions, with their values? */
function emitted(lines: Record<string, Json>[], metric: MetricStat): boolean {
  const wanted = (metric.Dimensions ?? []).map((d) => d.Name).sort();
  return lines.some((line) => {
    const directives = ((line._aws as { CloudWatchMetrics?: unknown[] } | undefined)?.CloudWatchMetrics ??
      []) as {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string }[];
    }[];
    return directives.some(
      (d) =>
        d.Namespace === metric.Namespace &&
        d.Metrics.some((m) => m.Name === metric.MetricName) &&
        d.Dimensions.some((set) => JSON.stringify([...set].sort()) === JSON.stringify(wanted)) &&
        (metric.Dimensions ?? []).every((dim) => line[dim.Name] === dim.Value),
    );
  });
}

describe('every alarm watches what the code writes', () => {
  let template: Template;
  let h: VendingHarness;
  const scenario: Record<string, Record<string, Json>[]> = {};

  beforeAll(async () => {
    const config = JSON.parse(readFileSync('config/example.json', 'utf8'));
    config.cache = { shared: {} };
    config.patTargets = {
      tableau: { connection: 'analytics', user: 'TABLEAU_SVC', roles: ['REPORTING_READER'] },
    };
    const context = {
      'aws:cdk:bundling-stacks': [],
      controlTowerChecks: 'false',
      config: writeTempFile('config.json', JSON.stringify(config)),
    };
    const built = buildApp(context, new App({ context, outdir: tempDir('cdk-out-') }));
    template = Template.fromStack(built.stack);

    // The audit lines and EMF metrics as Lambda writes them: Powertools Logger with the functions'
    // service name, and the `metrics` instance the Lambda entries use.
    h = await vendingHarness({ auditSink: new Logger({ serviceName: 'token-vendor' }), metrics });
    const vend = (body: unknown, arn: string, remaining = 29_000) =>
      h.http(restEvent('/v1/tokens/postgres', body, arn), lambdaContext(remaining));
    scenario.issued = await printed(() =>
      vend({ instance: 'reporting_server', username: 'reporting_user' }, ROLE_SESSION),
    );
    scenario.hit = await printed(() =>
      vend({ instance: 'reporting_server', username: 'reporting_user' }, ROLE_SESSION),
    );
    scenario.denied = await printed(() =>
      vend({ instance: 'reporting_server', username: 'etl_user' }, ROLE_SESSION),
    );
    h.emulator.faults.push({ kind: 'server-error', status: 503 }, 1000);
    scenario.unavailable = await printed(() =>
      vend({ instance: 'reporting_server', username: 'etl_user' }, ALICE, 2500),
    );
    h.emulator.faults.clear();
    h.emulator.setUserKey('SVC', 1, undefined);
    scenario.rejected = await printed(() =>
      vend({ instance: 'reporting_server', username: 'etl_user' }, ALICE),
    );
    h.emulator.setUserKey('SVC', 1, h.key.publicKey);
    // A revoked principal: the real handler and audit trail, over a vendor whose list refuses it.
    const revokedHandler = createHttpHandler({
      vendor: () =>
        ({
          vend: async () => {
            throw new RevokedError('principal', 'INC-42');
          },
        }) as unknown as TokenVendor,
      audit: new AuditLog(new Logger({ serviceName: 'token-vendor' })),
      metrics,
    });
    scenario.revoked = await printed(() =>
      revokedHandler(
        restEvent(
          '/v1/tokens/postgres',
          { instance: 'reporting_server', username: 'reporting_user' },
          ROLE_SESSION,
        ),
        lambdaContext(),
      ),
    );
    // Changes to the list, as the revocation-audit function prints them from its stream.
    const listAudit = createRevocationAuditHandler({
      audit: new AuditLog(new Logger({ serviceName: 'token-vendor' })),
    });
    const entry = {
      pk: { S: 'target|oauth:tableau' },
      kind: { S: 'target' },
      target: { S: 'oauth:tableau' },
    };
    const stream = (r: Record<string, unknown>) =>
      printed(() => listAudit({ Records: [{ eventID: 'e', ...r }] } as never, lambdaContext()));
    scenario.listRevoked = await stream({ eventName: 'INSERT', dynamodb: { NewImage: entry } });
    scenario.listExpired = await stream({
      eventName: 'REMOVE',
      dynamodb: { OldImage: entry },
      userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
    });
    scenario.listDeleted = await stream({ eventName: 'REMOVE', dynamodb: { OldImage: entry } });
    scenario.listForged = await stream({
      eventName: 'INSERT',
      dynamodb: { NewImage: { pk: { S: 'x' }, kind: { S: 'grant' } } },
    });
  }, 120_000);
  afterAll(() => h.close());

  it('the RevocationListTampered filter counts items that are no entry and deletions by other than the TTL', () => {
    expect(scenario.listRevoked!.map((l) => l.message)).toEqual(['target.revoked']);
    expect(count('RevocationListTampered', scenario.listDeleted!)).toBe(1);
    expect(count('RevocationListTampered', scenario.listForged!)).toBe(1);
    expect(count('RevocationListTampered', [...scenario.listRevoked!, ...scenario.listExpired!])).toBe(0);
  });

  const filters = () =>
    Object.values(template.findResources('AWS::Logs::MetricFilter')).map((r) => ({
      pattern: r.Properties.FilterPattern as string,
      metric: r.Properties.MetricTransformations[0].MetricName as string,
    }));
  const patternOf = (metric: string) => {
    const patterns = [
      ...new Set(
        filters()
          .filter((f) => f.metric === metric)
          .map((f) => f.pattern),
      ),
    ];
    expect(patterns, metric).toHaveLength(1);
    return patterns[0]!;
  };
  const count = (metric: string, lines: Record<string, Json>[]) =>
    lines.filter((line) => matchesFilter(patternOf(metric), line)).length;

  it('the scenarios wrote the audit records they are named after', () => {
    const events = (name: string) => scenario[name]!.map((l) => `${l.event}:${l.errorCode ?? ''}`);
    expect(events('issued')).toContain('token.issued:');
    expect(events('denied')).toContain('token.denied:NOT_AUTHORIZED');
    expect(events('unavailable')).toContain('token.failed:UPSTREAM_UNAVAILABLE');
    expect(events('rejected')).toContain('token.failed:SNOWFLAKE_AUTH_FAILED');
    expect(events('revoked')).toContain('token.denied:REVOKED');
  });

  it('the RevokedDenials filter counts the requests the revocation list refused, and no other denial', () => {
    expect(count('RevokedDenials', scenario.revoked!)).toBe(1);
    expect(
      count('RevokedDenials', [...scenario.denied!, ...scenario.issued!, ...scenario.unavailable!]),
    ).toBe(0);
    expect(count('Denials', scenario.revoked!)).toBe(1);
  });

  it('the Denials, Failures and UpstreamUnavailable filters count exactly their lines', () => {
    expect(count('Denials', scenario.denied!)).toBe(1);
    expect(count('Denials', [...scenario.issued!, ...scenario.unavailable!, ...scenario.rejected!])).toBe(0);
    expect(count('Failures', scenario.unavailable!)).toBe(1);
    expect(count('Failures', scenario.rejected!)).toBe(1);
    expect(count('Failures', [...scenario.issued!, ...scenario.denied!])).toBe(0);
    expect(count('UpstreamUnavailable', scenario.unavailable!)).toBe(1);
    expect(
      count('UpstreamUnavailable', [...scenario.rejected!, ...scenario.denied!, ...scenario.issued!]),
    ).toBe(0);
  });

  it("the GatewayDenials filter counts API Gateway's own 403s in the access log, not the vendor's", () => {
    // The access log line API Gateway writes, from the stage's format with its $context variables filled.
    const stage = Object.values(template.findResources('AWS::ApiGateway::Stage'))[0]!;
    const format = stage.Properties.AccessLogSetting.Format as string;
    const line = (status: string, integrationStatus: string) =>
      JSON.parse(
        format.replace(/\$context\.([A-Za-z.]+)/g, (_m, name: string) =>
          name === 'status' ? status : name === 'integrationStatus' ? integrationStatus : 'x',
        ),
      ) as Record<string, Json>;
    const pattern = patternOf('GatewayDenials');
    expect(matchesFilter(pattern, line('403', '-')), pattern).toBe(true); // a bad signature: no integration
    expect(matchesFilter(pattern, line('403', '200'))).toBe(false); // the vendor's own NOT_AUTHORIZED
    expect(matchesFilter(pattern, line('200', '200'))).toBe(false);
  });

  it('the saved Logs Insights queries over the vending logs name fields the audit lines have', () => {
    const audit = [...scenario.issued!, ...scenario.denied!, ...scenario.unavailable!, ...scenario.rejected!];
    const has = (path: string) =>
      audit.some((line) => {
        let at: Json | undefined = line;
        for (const key of path.split('.'))
          at = at !== null && typeof at === 'object' && !Array.isArray(at) ? at[key] : undefined;
        return at !== undefined;
      });
    const queries = Object.values(template.findResources('AWS::Logs::QueryDefinition')).filter(
      (q) => !String(q.Properties.Name).includes('key-checks'),
    );
    expect(queries.length).toBeGreaterThanOrEqual(5);
    for (const query of queries) {
      const text = query.Properties.QueryString as string;
      const fields = [
        ...(/^fields (.*)$/m.exec(text)?.[1]?.split(',') ?? []),
        ...[...text.matchAll(/(?:filter|and) ([A-Za-z][\w.]*) (?:=|like)/g)].map((m) => m[1]!),
        ...(/ by (.*)$/m.exec(text)?.[1]?.split(',') ?? []),
      ]
        .map((f) => f.trim())
        .filter((f) => f && !f.startsWith('@'));
      expect(fields.length, text).toBeGreaterThan(0);
      for (const field of fields) expect(has(field), `${query.Properties.Name}: ${field}`).toBe(true);
    }
  });

  it('every alarm on an audit metric filter watches a metric a filter writes', () => {
    const written = new Set(
      Object.values(template.findResources('AWS::Logs::MetricFilter')).map(
        (r) =>
          `${r.Properties.MetricTransformations[0].MetricNamespace}/${r.Properties.MetricTransformations[0].MetricName}`,
      ),
    );
    const watched = Object.values(template.findResources('AWS::CloudWatch::Alarm'))
      .filter((a) => String(a.Properties.Namespace ?? '').endsWith('/Audit'))
      .map((a) => `${a.Properties.Namespace}/${a.Properties.MetricName}`);
    expect(watched.sort()).toEqual(
      [
        'Denials',
        'Failures',
        'GatewayDenials',
        'RevocationListTampered',
        'RevokedDenials',
        'UpstreamUnavailable',
      ].map((m) => `TokenVendor/Audit/${m}`),
    );
    for (const metric of watched) expect(written, metric).toContain(metric);
  });

  it('every alarm and dashboard graph on an EMF metric watches a metric the functions print, with its exact dimensions', async () => {
    // What the functions print: the audit metrics of a vend that fell back from the shared cache, and a
    // rotation check (both through the `metrics` instance the Lambda entries use).
    const fallback = {
      event: 'token.issued',
      tokenType: 'postgres',
      cache: 'local-fallback',
    } as unknown as AuditRecord;
    const lines = [
      ...Object.values(scenario).flat(),
      ...(await printed(async () => {
        recordMetrics(metrics, fallback);
        metrics.publishStoredMetrics();
      })),
      ...(await printed(() =>
        createRotationCheckHandler({ runtime: () => h.runtime, audit: auditLog, metrics })(
          { source: 'aws.events', 'detail-type': 'Scheduled Event' },
          lambdaContext(),
        ),
      )),
      ...(await printed(() =>
        createPatSweeperHandler({ runtime: () => h.runtime, audit: auditLog, metrics })(
          { source: 'aws.events', 'detail-type': 'Scheduled Event' },
          lambdaContext(),
        ),
      )),
    ];
    const alarms = Object.entries(template.findResources('AWS::CloudWatch::Alarm'));
    const watched: [string, MetricStat][] = alarms.flatMap(([id, a]) => {
      const p = a.Properties;
      if (p.Metrics)
        return (p.Metrics as { MetricStat?: { Metric: MetricStat } }[])
          .filter((m) => m.MetricStat)
          .map((m) => [id, m.MetricStat!.Metric] as [string, MetricStat]);
      return [[id, { Namespace: p.Namespace, MetricName: p.MetricName, Dimensions: p.Dimensions }]];
    });
    // And the dashboard's graphs: [namespace, name, dimension, value, …, options] in its JSON body.
    const dashboard = Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]!;
    const body = JSON.parse(
      (dashboard.Properties.DashboardBody['Fn::Join'][1] as unknown[])
        .map((part) => (typeof part === 'string' ? part : 'token'))
        .join(''),
    ) as { widgets: { properties: { metrics?: unknown[][] } }[] };
    const graphed = body.widgets
      .flatMap((w) => w.properties.metrics ?? [])
      .map((m): [string, MetricStat] => {
        const [namespace, name, ...rest] = m.filter((x) => typeof x === 'string') as string[];
        const dims: Dimension[] = [];
        for (let i = 0; i + 1 < rest.length; i += 2) dims.push({ Name: rest[i]!, Value: rest[i + 1]! });
        return [`dashboard ${name}`, { Namespace: namespace!, MetricName: name!, Dimensions: dims }];
      })
      .filter(([, m]) => m.Namespace === 'TokenVendor');
    expect(graphed.map(([, m]) => m.MetricName).sort()).toEqual(
      [
        'CacheHits',
        'KeyChecksFailed',
        'KeysNotRegistered',
        'KeysOverdue',
        'KeysRotationDue',
        'TokensIssued',
        'UpstreamLatency',
        'WorkloadIdentityMismatches',
      ].sort(),
    );
    for (const [id, metric] of graphed)
      expect(emitted(lines, metric), `${id}: ${JSON.stringify(metric)}`).toBe(true);
    const emf = watched.filter(([, m]) => m.Namespace === 'TokenVendor');
    // Not vacuous: the shared cache's fallbacks (two token types), the drift check's three and four key checks.
    expect(emf.map(([, m]) => m.MetricName).sort()).toEqual(
      [
        'IntegrationsDisabled',
        'IntegrationsDrifted',
        'IntegrationsNotFound',
        'KeyChecksFailed',
        'KeysNotRegistered',
        'KeysOverdue',
        'PatSweepErrors',
        'PatTargetsNotReady',
        'PatsHeldMax',
        'SharedCacheFallbacks',
        'SharedCacheFallbacks',
        'WorkloadIdentityMismatches',
      ].sort(),
    );
    const tokenTypeOf = (m: MetricStat) => m.Dimensions?.find((d) => d.Name === 'tokenType')?.Value;
    for (const [id, metric] of emf) {
      // The fallback printed was for postgres; the oauth one differs only in the tokenType value.
      const probe =
        tokenTypeOf(metric) === 'oauth'
          ? {
              ...metric,
              Dimensions: metric.Dimensions!.map((d) =>
                d.Name === 'tokenType' ? { ...d, Value: 'postgres' } : d,
              ),
            }
          : metric;
      expect(emitted(lines, probe), `${id}: ${JSON.stringify(metric)}`).toBe(true);
    }
  });
});
