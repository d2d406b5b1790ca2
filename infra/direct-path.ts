import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { Config } from '../lambda/config/schema';

export interface DirectPathProps {
  readonly config: Config;
  /** The direct-invoke function. */
  readonly direct: lambda.Function;
  /** Seals the tokens it returns. */
  readonly envelopeKey: kms.Key;
}

/**
 * What the direct path trusts. Lambda resource policies cannot deny, so any principal of this account
 * with `lambda:InvokeFunction` on the direct function can invoke it; the tokens it returns are sealed
 * with the envelope key, and that key's policy lets only the named consumers
 * (`deployment.envelopeConsumers`) open them, and only for contexts that name a token, denying
 * `kms:Decrypt` to everyone else. The function's resource policy names the state machines' roles
 * (`deployment.directInvokers`), so cross-account or service callers need nothing else.
 *
 * @example
 * ```ts
 * vendor.functions.direct.grantInvoke(myStateMachine);
 * ```
 */
export class DirectPath extends Construct {
  constructor(scope: Construct, id: string, props: DirectPathProps) {
    super(scope, id);
    const { direct, envelopeKey } = props;
    const { directInvokers, envelopeConsumers } = props.config.deployment;
    direct.addEnvironment('TOKEN_VENDOR_ENVELOPE_KEY_ID', envelopeKey.keyArn);
    envelopeKey.grant(direct, 'kms:GenerateDataKey');
    directInvokers.forEach((arn, i) => {
      direct.addPermission(`DirectInvoker${i}`, { principal: new iam.ArnPrincipal(arn) });
    });
    const consumers = [...new Set(envelopeConsumers)];
    if (consumers.length > 0) {
      envelopeKey.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'NamedConsumersOpenSealedTokens',
          principals: consumers.map((arn) => new iam.ArnPrincipal(arn)),
          actions: ['kms:Decrypt'],
          resources: ['*'],
          conditions: {
            'ForAllValues:StringEquals': {
              'kms:EncryptionContextKeys': [
                'token-vendor:tokenType',
                'token-vendor:tokenId',
                'token-vendor:requestId',
              ],
            },
            Null: { 'kms:EncryptionContext:token-vendor:tokenId': 'false' },
          },
        }),
      );
    }
    envelopeKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'NobodyElseOpensSealedTokens',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:Decrypt'],
        resources: ['*'],
        ...(consumers.length > 0 ? { conditions: { ArnNotEquals: { 'aws:PrincipalArn': consumers } } } : {}),
      }),
    );
  }
}
