import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2WithIAMAuthorizer, Context } from 'aws-lambda';

/**
 * A REST API (v1) proxy event exactly as API Gateway sends it for an `AWS_IAM` method, signed by
 * `userArn`.
 *
 * @example
 * ```ts
 * restEvent('/v1/tokens/postgres', { instance: 'reporting_server', username: 'reporting_user' }, roleSessionArn);
 * ```
 */
export function restEvent(
  path: string,
  body: unknown,
  userArn: string | null,
  overrides: Partial<APIGatewayProxyEvent> = {},
): APIGatewayProxyEvent {
  const requestId = randomUUID();
  return {
    resource: path,
    path,
    httpMethod: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Host: 'abc123.execute-api.us-east-1.amazonaws.com',
      'User-Agent': 'test-client/1.0',
    },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: {
      accountId: '111122223333',
      apiId: 'abc123',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: 'POST',
      path: `/prod${path}`,
      stage: 'prod',
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'r1',
      resourcePath: path,
      identity: {
        accessKey: 'ASIAEXAMPLE',
        accountId: userArn ? (userArn.split(':')[4] ?? null) : null,
        apiKey: null,
        apiKeyId: null,
        caller: userArn ? 'AROAEXAMPLE:session' : null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: '203.0.113.7',
        user: userArn ? 'AROAEXAMPLE:session' : null,
        userAgent: 'test-client/1.0',
        userArn,
      },
    },
    ...overrides,
  };
}

/** An HTTP API (v2) event with the IAM authorizer, as API Gateway sends it. */
export function httpApiEvent(
  path: string,
  body: unknown,
  userArn: string,
  overrides: Partial<APIGatewayProxyEventV2WithIAMAuthorizer> = {},
): APIGatewayProxyEventV2WithIAMAuthorizer {
  const accountId = userArn.split(':')[4] ?? '';
  return {
    version: '2.0',
    routeKey: `POST ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', 'user-agent': 'test-client/2.0' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: {
      accountId: '111122223333',
      apiId: 'def456',
      authorizer: {
        iam: {
          accessKey: 'ASIAEXAMPLE',
          accountId,
          callerId: 'AROAEXAMPLE:session',
          cognitoIdentity: null,
          principalOrgId: null,
          userArn,
          userId: 'AROAEXAMPLE:session',
        },
      },
      domainName: 'def456.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'def456',
      http: {
        method: 'POST',
        path,
        protocol: 'HTTP/1.1',
        sourceIp: '198.51.100.9',
        userAgent: 'test-client/2.0',
      },
      requestId: randomUUID(),
      routeKey: `POST ${path}`,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    ...overrides,
  } as APIGatewayProxyEventV2WithIAMAuthorizer;
}

/** A fresh Lambda context (one per invocation, as Lambda makes). */
export function lambdaContext(remainingMs = 29_000): Context {
  const started = Date.now();
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'token-vendor-http',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:111122223333:function:token-vendor-http',
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/token-vendor-http',
    logStreamName: '2026/11/22/[$LATEST]abc',
    getRemainingTimeInMillis: () => Math.max(0, remainingMs - (Date.now() - started)),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

export const ROLE_ARN = 'arn:aws:iam::111122223333:role/services/reporting-api';
/** A second granted role (the fleet's revocation tests: the principal that is not revoked). */
export const OTHER_ROLE_ARN = 'arn:aws:iam::111122223333:role/billing-api';
export const ROLE_SESSION = 'arn:aws:sts::111122223333:assumed-role/reporting-api/i-0123456789abcdef0';
export const ALICE = 'arn:aws:iam::111122223333:user/alice';
