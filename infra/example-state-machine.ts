import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ManagedPolicyRole } from './managed-policy-role';

export interface ExampleStateMachineProps {
  readonly direct: lambda.IFunction;
  readonly key: kms.IKey;
  readonly retention: logs.RetentionDays;
  readonly target: { readonly instance: string; readonly username: string };
}

/**
 * An example workflow step: get a Postgres token from the direct entry. The token comes back
 * KMS-encrypted (`encryptedToken`), the state machine logs everything but execution data, and it
 * retries the vendor's retryable errors by name.
 */
export class ExampleStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: ExampleStateMachineProps) {
    super(scope, id);
    const getToken = new tasks.LambdaInvoke(this, 'GetPostgresToken', {
      lambdaFunction: props.direct,
      payload: sfn.TaskInput.fromObject({
        tokenType: 'postgres',
        instance: props.target.instance,
        username: props.target.username,
      }),
      payloadResponseOnly: true,
      resultPath: '$.credentials',
      retryOnServiceExceptions: true,
    });
    getToken.addRetry({
      errors: ['UpstreamUnavailable', 'Throttled'],
      interval: Duration.seconds(5),
      maxAttempts: 4,
      backoffRate: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
    const denied = new sfn.Fail(this, 'NotAuthorized', {
      error: 'NotAuthorized',
      cause: 'The state machine is not granted this target (directInvoke in the config).',
    });
    getToken.addCatch(denied, { errors: ['NotAuthorized'] });
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.retention,
      encryptionKey: props.key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      role: new ManagedPolicyRole(this, 'Role', {
        assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
      }),
      definitionBody: sfn.DefinitionBody.fromChainable(
        getToken.next(new sfn.Succeed(this, 'UseCredentials')),
      ),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
      timeout: Duration.minutes(5),
    });
  }
}
