import { Names, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { apiGatewayModel } from '../lambda/api/openapi';
import { ROUTES, TOKEN_TYPES } from '../lambda/api/routes';
import type { Config } from '../lambda/config/schema';
import { acknowledge, compliance } from './expected-wildcards';
import { pascal } from './grants';

/** The API's one stage. */
const STAGE = 'prod';

export interface VendorApiProps {
  readonly config: Config;
  /** The function behind every route. */
  readonly handler: lambda.IFunction;
  /** Encrypts the access, execution and WAF log groups. */
  readonly key: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Stage throttling (requests per second, burst); default 50 / 100. */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
}

/**
 * The `AWS_IAM` REST API callers sign their requests to (SigV4). Its resource policy admits only the
 * principals named in grants (an empty grant list denies everyone) and adds the network perimeter the
 * config asks for (VPC endpoints, organization, source IPs). Routes and request models come from the
 * API contract (`lambda/api/`), validated at the gateway; one JSON access-log line per request (gateway
 * refusals included); execution logs at ERROR in a managed, encrypted log group; X-Ray; an optional
 * WAF web ACL (config `deployment.waf`). It never caches.
 *
 * @example
 * ```ts
 * vendor.gateway.api.deploymentStage.stageName; // 'prod'
 * ```
 */
export class VendorApi extends Construct {
  readonly api: apigw.RestApi;
  /** The API's access log group (one JSON line per request, gateway refusals included). */
  readonly accessLogs: logs.LogGroup;
  /** The web ACL's association, when the config turns WAF on. */
  readonly webAclAssociation?: wafv2.CfnWebACLAssociation;

  constructor(scope: Construct, id: string, props: VendorApiProps) {
    super(scope, id);
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      encryptionKey: props.key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.accessLogs = accessLogs;
    const principals = [...new Set(props.config.grants.map((g) => g.principal))];
    const invoke = TOKEN_TYPES.map((type) => `execute-api:/*/${ROUTES[type].method}${ROUTES[type].path}`);
    const { endpoint, principalOrgId, allowedSourceIps } = props.config.deployment;
    const privateApi = endpoint.type === 'PRIVATE';
    // The network perimeter: each condition denies every request that does not meet it, whoever signs it,
    // so leaked credentials of a granted role do not work from elsewhere.
    const deny = (sid: string, conditions: Record<string, unknown>) =>
      new iam.PolicyStatement({
        sid,
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: ['execute-api:/*'],
        conditions,
      });
    const perimeter = [
      ...(privateApi
        ? [
            deny('OnlyThroughTheseVpcEndpoints', {
              StringNotEquals: { 'aws:SourceVpce': endpoint.vpcEndpointIds },
            }),
          ]
        : []),
      ...(principalOrgId
        ? [deny('OnlyThisOrganization', { StringNotEquals: { 'aws:PrincipalOrgID': principalOrgId } })]
        : []),
      ...(allowedSourceIps.length > 0
        ? [
            deny('OnlyFromTheseNetworks', {
              NotIpAddress: { [privateApi ? 'aws:VpcSourceIp' : 'aws:SourceIp']: allowedSourceIps },
            }),
          ]
        : []),
    ];
    const policy = new iam.PolicyDocument({
      statements:
        principals.length === 0
          ? [
              new iam.PolicyStatement({
                effect: iam.Effect.DENY,
                principals: [new iam.AnyPrincipal()],
                actions: ['execute-api:Invoke'],
                resources: ['execute-api:/*'],
              }),
            ]
          : [
              // Only the principals named in grants may call; the handler then checks what each may have.
              new iam.PolicyStatement({
                principals: [new iam.AnyPrincipal()],
                actions: ['execute-api:Invoke'],
                resources: invoke,
                conditions: { ArnEquals: { 'aws:PrincipalArn': principals } },
              }),
              new iam.PolicyStatement({
                effect: iam.Effect.DENY,
                principals: [new iam.AnyPrincipal()],
                actions: ['execute-api:Invoke'],
                resources: ['execute-api:/*'],
                conditions: { ArnNotEquals: { 'aws:PrincipalArn': principals } },
              }),
              ...perimeter,
            ],
    });
    const api = new apigw.RestApi(this, 'Api', {
      description: 'Token Vendor: short-lived Snowflake credentials for IAM principals',
      policy,
      endpointTypes: [privateApi ? apigw.EndpointType.PRIVATE : apigw.EndpointType.REGIONAL],
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: STAGE,
        throttlingRateLimit: props.throttle?.rateLimit ?? 50,
        throttlingBurstLimit: props.throttle?.burstLimit ?? 100,
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        // Who asked (userArn), what API Gateway itself said (error message and response type, for refusals
        // the Lambda never sees) and how long it took.
        accessLogFormat: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: apigw.AccessLogField.contextRequestId(),
            requestTime: apigw.AccessLogField.contextRequestTime(),
            ip: apigw.AccessLogField.contextIdentitySourceIp(),
            userArn: apigw.AccessLogField.contextIdentityUserArn(),
            caller: apigw.AccessLogField.contextIdentityCaller(),
            userAgent: apigw.AccessLogField.contextIdentityUserAgent(),
            httpMethod: apigw.AccessLogField.contextHttpMethod(),
            resourcePath: apigw.AccessLogField.contextResourcePath(),
            protocol: apigw.AccessLogField.contextProtocol(),
            status: apigw.AccessLogField.contextStatus(),
            responseLength: apigw.AccessLogField.contextResponseLength(),
            responseLatency: apigw.AccessLogField.contextResponseLatency(),
            integrationStatus: apigw.AccessLogField.contextIntegrationStatus(),
            integrationLatency: apigw.AccessLogField.contextIntegrationLatency(),
            errorMessage: apigw.AccessLogField.contextErrorMessage(),
            errorType: apigw.AccessLogField.contextErrorResponseType(),
            wafStatus: apigw.AccessLogField.contextWafResponseCode(),
            xrayTraceId: apigw.AccessLogField.contextXrayTraceId(),
          }),
        ),
        tracingEnabled: true,
      },
      defaultMethodOptions: { authorizationType: apigw.AuthorizationType.IAM },
    });
    const validator = api.addRequestValidator('BodyValidator', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    // API Gateway's execution log group, managed here (retention, KMS) instead of created on first use.
    const executionLogs = new logs.LogGroup(this, 'ApiExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${api.restApiId}/${STAGE}`,
      retention: props.logRetention,
      encryptionKey: props.key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    api.deploymentStage.node.addDependency(executionLogs);
    // No console test-invoke permission: it would let the console invoke the function without the
    // resource policy's principal check.
    const integration = new apigw.LambdaIntegration(props.handler, {
      proxy: true,
      allowTestInvoke: false,
    });
    // Resources, methods and request models come from the API contract (lambda/api/), as does openapi.json.
    for (const type of TOKEN_TYPES) {
      const route = ROUTES[type];
      const { $schema: _, ...schema } = apiGatewayModel(route.request);
      const model = api.addModel(`${pascal(type)}Request`, {
        contentType: 'application/json',
        schema: { schema: apigw.JsonSchemaVersion.DRAFT4, ...(schema as apigw.JsonSchema) },
      });
      const resource = route.path
        .split('/')
        .filter(Boolean)
        .reduce<apigw.IResource>(
          (parent, part) => parent.getResource(part) ?? parent.addResource(part),
          api.root,
        );
      resource.addMethod(route.method, integration, {
        authorizationType: apigw.AuthorizationType.IAM,
        requestValidator: validator,
        requestModels: { 'application/json': model },
      });
    }
    this.api = api;
    this.webAclAssociation = this.#waf(props);
    this.#acknowledge(props.config);
  }

  /**
   * AWS WAF on the stage (config `deployment.waf`): the web ACL named, or one made here that blocks a
   * source IP past `rateLimit` requests in 5 minutes and logs to an encrypted log group with the
   * credentials (Authorization, X-Amz-Security-Token) redacted.
   */
  #waf(props: VendorApiProps): wafv2.CfnWebACLAssociation | undefined {
    const api = this.api;
    const settings = props.config.deployment.waf;
    if (!settings) return undefined;
    const stack = Stack.of(this);
    let webAclArn = settings.webAclArn;
    if (!webAclArn) {
      const metric = (name: string) => ({
        cloudWatchMetricsEnabled: true,
        metricName: `TokenVendor${name}`,
        sampledRequestsEnabled: false, // sampled requests would show callers' headers in the console
      });
      const acl = new wafv2.CfnWebACL(this, 'WebAcl', {
        scope: 'REGIONAL',
        description: 'Token Vendor: rate limit per source IP',
        defaultAction: { allow: {} },
        visibilityConfig: metric('WebAcl'),
        rules: [
          {
            name: 'RateLimitPerSourceIp',
            priority: 0,
            action: { block: {} },
            statement: {
              rateBasedStatement: {
                limit: settings.rateLimit,
                aggregateKeyType: 'IP',
                evaluationWindowSec: 300,
              },
            },
            visibilityConfig: metric('RateLimited'),
          },
        ],
      });
      webAclArn = acl.attrArn;
      // WAF delivers only to a log group whose name starts aws-waf-logs-.
      const wafLogs = new logs.LogGroup(this, 'WafLogs', {
        logGroupName: `aws-waf-logs-token-vendor-${Names.uniqueId(this).slice(-24)}`,
        retention: props.logRetention,
        encryptionKey: props.key,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      wafLogs.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal('delivery.logs.amazonaws.com')],
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [`${wafLogs.logGroupArn}:*`],
          conditions: {
            StringEquals: { 'aws:SourceAccount': stack.account },
            ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:*` },
          },
        }),
      );
      new wafv2.CfnLoggingConfiguration(this, 'WafLogging', {
        resourceArn: acl.attrArn,
        logDestinationConfigs: [wafLogs.logGroupArn],
        redactedFields: [
          { singleHeader: { Name: 'authorization' } },
          { singleHeader: { Name: 'x-amz-security-token' } },
        ],
      });
    }
    return new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', {
      resourceArn: api.deploymentStage.stageArn,
      webAclArn,
    });
  }

  #acknowledge(config: Config): void {
    if (!config.deployment.waf)
      acknowledge(
        this.api.deploymentStage,
        compliance('APIGWAssociatedWithWAF'),
        'WAF is optional (config deployment.waf): every method requires SigV4, the resource policy admits only granted principals, and the stage is throttled. Turn it on to rate-limit per source IP.',
      );
    acknowledge(
      this.api.deploymentStage,
      compliance('APIGWCacheEnabledAndEncrypted'),
      'Never cache at API Gateway: its cache key is not the caller, so a cache could hand one principal another’s token, and it would hold live tokens outside the vendor’s seal. The vendor caches per target after authorization.',
    );
    acknowledge(
      this.api.deploymentStage,
      compliance('APIGWSSLEnabled'),
      'Backend client certificates authenticate API Gateway to an HTTP backend; the only integration is a Lambda proxy, which API Gateway invokes through IAM, not over a TLS connection it could present a certificate on.',
    );
    acknowledge(
      this.api,
      'AwsSolutions-APIG3',
      'Every method requires SigV4 (AWS_IAM) and the resource policy admits only granted principals; attach a WAF web ACL when exposing the API beyond AWS callers.',
    );
    acknowledge(
      this.api,
      'AwsSolutions-COG4',
      'Callers are AWS IAM principals, authorized with AWS_IAM; Cognito user pools do not apply.',
    );
    acknowledge(
      this.api,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      'The API Gateway account-level CloudWatch role uses the AWS-managed AmazonAPIGatewayPushToCloudWatchLogs policy, as API Gateway requires for execution logs.',
    );
  }
}
