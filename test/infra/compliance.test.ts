import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/build-app';
import { DEFAULT_RESERVED_CONCURRENCY } from '../../infra/token-vendor';
import { tempDir, writeTempFile } from '../support/keys';

/**
 * The regulated teams' packs (cdk-nag NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1) gate every synth,
 * as AwsSolutions and Serverless do, and the settings they ask for exist: reserved concurrency, WAF with
 * a rate rule, VPC endpoints. Real synth, bundling skipped; Control Tower runs in stack.test.ts.
 */
const PACKS = ['NIST.800.53.R5', 'HIPAA.Security', 'PCI.DSS.321'];
const build = (context: Record<string, unknown>) => {
  const all = { 'aws:cdk:bundling-stacks': [], controlTowerChecks: 'false', ...context };
  return buildApp(all, new App({ context: all, outdir: tempDir('cdk-out-') }));
};
const exampleWith = (edit: (c: any) => void) => {
  const config = JSON.parse(readFileSync('config/example.json', 'utf8'));
  edit(config);
  return writeTempFile('config.json', JSON.stringify(config));
};
const functionsOf = (template: Template) =>
  Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) =>
    /^TokenVendorFunctions(Http|Direct|RotationCheck|RotateKey)Function/.test(id),
  );

describe('compliance packs and the settings they ask for', () => {
  it('an unacknowledged finding of the packs fails the synth, naming each pack', () => {
    const { app, stack } = build({ config: 'config/example.json' });
    // An inline policy, as a construct added beside the vendor might bring
    new iam.Policy(stack, 'Inline', {
      statements: [
        new iam.PolicyStatement({
          actions: ['sqs:SendMessage'],
          resources: ['arn:aws:sqs:us-east-1:111122223333:q'],
        }),
      ],
      roles: [stack.vendor.functions.http.role!],
    });
    let message = '';
    try {
      app.synth();
    } catch (error) {
      message = String(error);
    }
    for (const pack of PACKS) expect(message).toContain(`${pack}-IAMNoInlinePolicy`);
  }, 60_000);

  describe('the example config', () => {
    let template: Template;
    beforeAll(() => {
      const { app, stack } = build({ config: 'config/example.json' });
      app.synth(); // throws on any unacknowledged finding of any pack
      template = Template.fromStack(stack);
    }, 60_000);

    it('reserves concurrency for every function by default', () => {
      const reserved = Object.fromEntries(
        functionsOf(template).map(([id, f]) => [
          id.replace(/^TokenVendorFunctions(\w+)Function.*$/, '$1'),
          f.Properties.ReservedConcurrentExecutions,
        ]),
      );
      expect(reserved).toEqual({
        Http: DEFAULT_RESERVED_CONCURRENCY.http,
        Direct: DEFAULT_RESERVED_CONCURRENCY.direct,
        RotationCheck: DEFAULT_RESERVED_CONCURRENCY['rotation-check'],
        RotateKey: DEFAULT_RESERVED_CONCURRENCY['rotate-key'],
      });
    });

    it('acknowledges what it does not turn on, on the resource, with the reason', () => {
      const stage = Object.values(template.findResources('AWS::ApiGateway::Stage'))[0]!;
      const ids = (stage.Metadata.cdk_nag.rules_to_suppress as { id: string; reason: string }[]).map(
        (r) => r.id,
      );
      for (const pack of PACKS) {
        expect(ids).toContain(`${pack}-APIGWCacheEnabledAndEncrypted`);
        expect(ids).toContain(`${pack}-APIGWSSLEnabled`);
      }
      expect(ids).toContain('NIST.800.53.R5-APIGWAssociatedWithWAF');
      expect(Object.keys(template.findResources('AWS::WAFv2::WebACL'))).toEqual([]);
    });
  });

  it('-c reservedConcurrency: one function changed, the rest default; false reserves none (and says why)', () => {
    const one = build({ config: 'config/example.json', reservedConcurrency: '{"http":300}' });
    one.app.synth();
    const changed = Object.fromEntries(
      functionsOf(Template.fromStack(one.stack)).map(([id, f]) => [
        id.replace(/^TokenVendorFunctions(\w+?)Function.*$/, '$1'),
        f.Properties.ReservedConcurrentExecutions,
      ]),
    );
    expect(changed).toMatchObject({ Http: 300, Direct: 50, RotationCheck: 2 });
    const none = build({ config: 'config/example.json', reservedConcurrency: 'false' });
    none.app.synth(); // passes: LambdaConcurrency acknowledged with its reason
    const functions = functionsOf(Template.fromStack(none.stack));
    for (const [, f] of functions) {
      expect(f.Properties.ReservedConcurrentExecutions).toBeUndefined();
      expect(JSON.stringify(f.Metadata)).toContain('NIST.800.53.R5-LambdaConcurrency');
    }
    for (const bad of ['{"http":0}', '{"htp":5}', '{"http":1.5}', '[]', 'lots'])
      expect(() => build({ config: 'config/example.json', reservedConcurrency: bad })).toThrow(
        /Context reservedConcurrency must be false or a JSON object/,
      );
  }, 60_000);

  it('a config too large for one managed policy splits it: each part under IAM’s 6,144 characters, the function after all', () => {
    const config = exampleWith((c) => {
      for (let i = 0; i < 25; i += 1)
        c.connections[`conn${i}`] = {
          account: 'myorg-analytics',
          user: `SVC${i}`,
          key: {
            secretsManager: {
              secretId: `token-vendor/snowflake/connection-number-${i}`,
              kmsKeyId: `arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-1111-2222-3333-4444444444${String(i).padStart(2, '0')}`,
            },
          },
        };
    });
    const { app, stack } = build({ config });
    app.synth();
    const template = Template.fromStack(stack);
    const http = Object.entries(template.findResources('AWS::IAM::ManagedPolicy')).filter(([id]) =>
      id.startsWith('TokenVendorFunctionsHttpRolePolicy'),
    );
    expect(http.length).toBeGreaterThan(1);
    for (const [, p] of http) expect(JSON.stringify(p.Properties.PolicyDocument).length).toBeLessThan(6144);
    // Every secret is granted somewhere in them
    const granted = JSON.stringify(http.map(([, p]) => p.Properties.PolicyDocument));
    for (let i = 0; i < 25; i += 1) expect(granted).toContain(`connection-number-${i}-`);
    const [, fn] = functionsOf(template).find(([id]) => id.startsWith('TokenVendorFunctionsHttpFunction'))!;
    for (const [id] of http) expect(fn.DependsOn).toContain(id);
  }, 60_000);

  describe('every network setting: VPC with its endpoints, WAF with a rate rule', () => {
    let template: Template;
    beforeAll(() => {
      const config = exampleWith((c) => {
        c.cache = { ...c.cache, shared: {} };
        c.deployment = {
          vpc: {
            vpcId: 'vpc-0123456789abcdef0',
            subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
            securityGroupIds: ['sg-0123456789abcdef0'],
            createEndpoints: true,
            routeTableIds: ['rtb-0123456789abcdef0'],
          },
          waf: { rateLimit: 500 },
        };
      });
      const { app, stack } = build({ config });
      app.synth(); // every pack, no acknowledgement of VPC or WAF findings needed
      template = Template.fromStack(stack);
    }, 60_000);

    it('creates the interface endpoints the functions need, HTTPS from the functions only, and DynamoDB’s gateway', () => {
      const endpoints = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map(
        (e) => e.Properties,
      );
      const names = endpoints.map((e) => JSON.stringify(e.ServiceName));
      expect(names.some((n) => n.includes('secretsmanager'))).toBe(true);
      expect(names.some((n) => n.includes('.kms'))).toBe(true);
      expect(names.some((n) => n.includes('sts'))).toBe(false); // no keyless connection in this config
      const gateway = endpoints.find((e) => e.VpcEndpointType === 'Gateway');
      expect(gateway).toMatchObject({ RouteTableIds: ['rtb-0123456789abcdef0'] });
      for (const e of endpoints.filter((x) => x.VpcEndpointType === 'Interface'))
        expect(e.PrivateDnsEnabled).toBe(true);
      // One security group, for the endpoints: HTTPS in from the functions' group, nothing else
      const groups = Object.values(template.findResources('AWS::EC2::SecurityGroup')).map(
        (g) => g.Properties,
      );
      expect(groups).toHaveLength(1);
      const ingress = [
        ...(groups[0]!.SecurityGroupIngress ?? []),
        ...Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')).map((i) => i.Properties),
      ];
      expect(ingress).toEqual([
        expect.objectContaining({
          IpProtocol: 'tcp',
          FromPort: 443,
          ToPort: 443,
          SourceSecurityGroupId: 'sg-0123456789abcdef0',
        }),
      ]);
    });

    it('attaches a web ACL that blocks a source IP past the rate, logs with credentials redacted', () => {
      const acl = Object.values(template.findResources('AWS::WAFv2::WebACL'))[0]!.Properties;
      expect(acl.Scope).toBe('REGIONAL');
      expect(acl.DefaultAction).toEqual({ Allow: {} });
      expect(acl.Rules).toEqual([
        expect.objectContaining({
          Action: { Block: {} },
          Statement: { RateBasedStatement: { Limit: 500, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } },
        }),
      ]);
      const association = Object.values(template.findResources('AWS::WAFv2::WebACLAssociation'))[0]!
        .Properties;
      expect(JSON.stringify(association.ResourceArn)).toContain('/stages/');
      const logging = Object.values(template.findResources('AWS::WAFv2::LoggingConfiguration'))[0]!
        .Properties;
      expect(logging.RedactedFields).toEqual([
        { SingleHeader: { Name: 'authorization' } },
        { SingleHeader: { Name: 'x-amz-security-token' } },
      ]);
      const groups = Object.values(template.findResources('AWS::Logs::LogGroup')).map((g) => g.Properties);
      const wafLogs = groups.find((g) => String(g.LogGroupName ?? '').startsWith('aws-waf-logs-'));
      expect(wafLogs?.KmsKeyId).toBeDefined();
    });

    it('an existing web ACL is associated, and none is created', () => {
      const arn =
        'arn:aws:wafv2:us-east-1:111122223333:regional/webacl/corp/0f0e0d0c-0b0a-0908-0706-050403020100';
      const { app, stack } = build({
        config: exampleWith((c) => (c.deployment = { waf: { webAclArn: arn } })),
      });
      app.synth();
      const t = Template.fromStack(stack);
      expect(Object.keys(t.findResources('AWS::WAFv2::WebACL'))).toEqual([]);
      t.hasResourceProperties('AWS::WAFv2::WebACLAssociation', { WebACLArn: arn });
    }, 60_000);
  });
});
