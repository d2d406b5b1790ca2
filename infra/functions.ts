import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration, Fn, Names, RemovalPolicy, Stage } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { Config } from '../lambda/config/schema';
import { sealConfig } from '../lambda/config/sealed';
import { SNOWFLAKE_WIF_AUDIENCE } from '../lambda/snowflake/workload-identity';
import { grantKeySources, pascal, type SecretRef } from './grants';
import { prebuiltCode } from './lambda-code';
import { ManagedPolicyRole } from './managed-policy-role';
import type { PerTrigger, Trigger } from './monitoring';
import { rotationTargets } from './rotation';

/** Where the functions run in a VPC (config `deployment.vpc`); see {@link VendorNetwork}. */
export interface FunctionPlacement {
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly securityGroups: ec2.ISecurityGroup[];
}

export interface VendorFunctionsProps {
  /** The validated config; sealed into each function's code as `config.json`. */
  readonly config: Config;
  /** Encrypts the log groups. */
  readonly key: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Reserved concurrency per function, or undefined to reserve none. */
  readonly reservedConcurrency?: Readonly<Record<Trigger, number>>;
  /** Default nodejs22.x. */
  readonly runtime?: lambda.Runtime;
  /** VPC placement, when the config asks for one. */
  readonly placement?: FunctionPlacement;
}

/**
 * One function per trigger, each with its own role (customer-managed policies only) and its own
 * encrypted log group: `http` (behind the API), `direct` (Step Functions), `rotation-check` (scheduled)
 * `rotate-key` (Secrets Manager rotation; only when the config has a key or client secret to
 * rotate), `revocation-audit` (the revocation table's stream; only with the revocation list) and
 * `pat-sweeper` (ends the PATs whose lease ended; only with PAT targets). The code is the package's prebuilt bundle with the sealed config beside it; arm64, 512 MB,
 * X-Ray active. Each role may read exactly the key material its function uses: `GetSecretValue` on the
 * named secrets, `kms:Sign` on the named signing keys, and for keyless connections
 * `sts:GetWebIdentityToken` for Snowflake's audience only.
 *
 * @example
 * ```ts
 * const { http } = vendor.functions;
 * http.addEnvironment('POWERTOOLS_LOG_LEVEL', 'DEBUG');
 * ```
 */
export class VendorFunctions extends Construct {
  readonly functions: PerTrigger<lambda.Function>;
  readonly logGroups: PerTrigger<logs.LogGroup>;

  constructor(scope: Construct, id: string, props: VendorFunctionsProps) {
    super(scope, id);
    const { config } = props;
    const { rotated, synced } = rotationTargets(config);
    const rotates = rotated.length > 0 || synced.length > 0;
    const audits = config.revocations.enabled;
    const sweeps = Object.keys(config.patTargets).length > 0;
    const logGroup = (trigger: Trigger) =>
      new logs.LogGroup(this, `${pascal(trigger)}Logs`, {
        retention: props.logRetention,
        encryptionKey: props.key,
        removalPolicy: RemovalPolicy.RETAIN,
      });
    this.logGroups = {
      http: logGroup('http'),
      direct: logGroup('direct'),
      'rotation-check': logGroup('rotation-check'),
      ...(rotates ? { 'rotate-key': logGroup('rotate-key') } : {}),
      ...(audits ? { 'revocation-audit': logGroup('revocation-audit') } : {}),
      ...(sweeps ? { 'pat-sweeper': logGroup('pat-sweeper') } : {}),
    };

    // The validated config ships inside each function's code as config.json (no env-var size limit),
    // sealed: the functions use it without building the schema at every cold start (config/sealed.ts).
    // It is written to the cloud assembly directory (cdk.out), so it goes wherever the synth output goes
    // and leaves nothing in the system temp folder.
    const outdir = Stage.of(this)?.outdir ?? mkdtempSync(join(tmpdir(), 'token-vendor-config-'));
    mkdirSync(outdir, { recursive: true });
    const configFile = join(outdir, `token-vendor-config.${Names.uniqueId(this)}.json`);
    writeFileSync(configFile, sealConfig(config));

    // X-Ray on every function. The permission is granted by one policy of its own (X-Ray supports no
    // resource-level permissions), so the one acknowledged `Resource::*` finding is that policy's alone.
    const xray = new iam.ManagedPolicy(this, 'XRayWrite', {
      description: 'Token Vendor functions: send X-Ray traces',
      statements: [
        new iam.PolicyStatement({
          actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
          resources: ['*'],
        }),
      ],
    });
    const fn = (
      trigger: Trigger,
      environment: Record<string, string> = {},
      timeout = Duration.seconds(25),
    ) => {
      const role = new ManagedPolicyRole(this, `${pascal(trigger)}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Token Vendor ${trigger} function`,
      });
      const group = this.logGroups[trigger]!;
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [`${group.logGroupArn}:*`],
        }),
      );
      const f = new lambda.Function(this, `${pascal(trigger)}Function`, {
        ...(props.placement ?? {}),
        code: prebuiltCode(trigger, configFile),
        handler: 'index.handler',
        runtime: props.runtime ?? lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: 512,
        timeout,
        ...(props.reservedConcurrency
          ? { reservedConcurrentExecutions: props.reservedConcurrency[trigger] }
          : {}),
        role,
        logGroup: group,
        description: `Token Vendor: ${trigger}`,
        environment: {
          POWERTOOLS_SERVICE_NAME: 'token-vendor',
          POWERTOOLS_METRICS_NAMESPACE: 'TokenVendor',
          TOKEN_VENDOR_CONFIG_FILE: '/var/task/config.json',
          ...environment,
        },
      });
      // Active tracing through the escape hatch: `tracing: ACTIVE` would add a wildcard X-Ray statement to
      // the role's own policy; the permission comes from the shared XRayWrite policy instead.
      (f.node.defaultChild as lambda.CfnFunction).tracingConfig = { mode: 'Active' };
      role.addManagedPolicy(xray);
      return f;
    };
    this.functions = {
      http: fn('http'),
      direct: fn('direct'),
      'rotation-check': fn('rotation-check', {}, Duration.seconds(120)),
      ...(rotates ? { 'rotate-key': fn('rotate-key', {}, Duration.seconds(120)) } : {}),
      ...(audits ? { 'revocation-audit': fn('revocation-audit', {}, Duration.seconds(30)) } : {}),
      ...(sweeps ? { 'pat-sweeper': fn('pat-sweeper', {}, Duration.seconds(120)) } : {}),
    };

    // Exactly the key material each function reads.
    const connectionKeys = Object.values(config.connections).flatMap((c) => (c.key ? [c.key] : []));
    const assertionKeys = Object.values(config.oauthIntegrations).flatMap((i) =>
      i.assertion ? [i.assertion.key] : [],
    );
    const clientSecrets: SecretRef[] = Object.values(config.oauthIntegrations).flatMap((i) =>
      i.clientSecret?.secretsManager ? [i.clientSecret.secretsManager] : [],
    );
    grantKeySources(this.functions.http, [...connectionKeys, ...assertionKeys], clientSecrets, false);
    grantKeySources(this.functions.direct, [...connectionKeys, ...assertionKeys], clientSecrets, false);
    grantKeySources(this.functions['rotation-check'], connectionKeys, [], true);
    // The sweeper signs in through the PAT targets' connections, and only those.
    const sweeper = this.functions['pat-sweeper'];
    if (sweeper) {
      const patConnections = new Set(Object.values(config.patTargets).map((t) => t.connection));
      const keys = [...patConnections].flatMap((c) => {
        const key = config.connections[c]?.key;
        return key ? [key] : [];
      });
      grantKeySources(sweeper, keys, [], true);
    }
    this.#grantWorkloadIdentity(config);
  }

  /**
   * Keyless connections: the functions that sign in to Snowflake (http, direct, rotation-check) may ask
   * STS for a web identity token for audience `snowflakecomputing.com` only, no longer-lived than the
   * config asks. The `Null` condition makes the audience check non-vacuous: `ForAllValues` alone is
   * true for a request that carries no audience at all.
   */
  #grantWorkloadIdentity(config: Config): void {
    const lifetimes = Object.values(config.connections).flatMap((c) =>
      c.workloadIdentity ? [c.workloadIdentity.tokenLifetimeSeconds] : [],
    );
    if (lifetimes.length === 0) return;
    const policy = new iam.ManagedPolicy(this, 'WorkloadIdentitySignIn', {
      description: 'Token Vendor functions: sign in to Snowflake as this role (STS GetWebIdentityToken)',
      statements: [
        new iam.PolicyStatement({
          actions: ['sts:GetWebIdentityToken'],
          resources: ['*'],
          conditions: {
            'ForAllValues:StringEquals': { 'sts:IdentityTokenAudience': SNOWFLAKE_WIF_AUDIENCE },
            Null: { 'sts:IdentityTokenAudience': 'false' },
            NumericLessThanEquals: { 'sts:DurationSeconds': Math.max(...lifetimes) },
          },
        }),
      ],
    });
    for (const f of [
      this.functions.http,
      this.functions.direct,
      this.functions['rotation-check'],
      this.functions['rotate-key'], // client-secret sync through a keyless connection
      this.functions['pat-sweeper'], // PATs of a user managed through a keyless connection
    ])
      f?.role?.addManagedPolicy(policy);
    // The check runs as its own role; it must also know the others to confirm Snowflake trusts each.
    this.functions['rotation-check'].addEnvironment(
      'TOKEN_VENDOR_SIGN_IN_ROLE_ARNS',
      Fn.join(',', [this.functions.http.role!.roleArn, this.functions.direct.role!.roleArn]),
    );
  }
}
