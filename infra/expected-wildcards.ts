import { type IAspect, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { rules } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** The wildcard IAM permissions the Token Vendor needs, each with the reason it is acceptable. */
const EXPECTED: readonly { readonly finding: RegExp; readonly reason: string }[] = [
  {
    finding: /^Resource::<\w+Logs\w*\.Arn>:\*$/,
    reason:
      "Lambda writes to log streams with generated names; the statement is limited to the function's own log group.",
  },
  {
    finding: /^Resource::<\w+DirectFunction\w*\.Arn>:\*$/,
    reason:
      'The state machine may invoke any version or alias of the direct-invoke function, and only that function.',
  },
  {
    finding: /^Resource::\*$/,
    reason: 'X-Ray PutTraceSegments/PutTelemetryRecords/GetSampling* support no resource-level permissions.',
  },
  {
    finding: /^Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key\/\*$/,
    reason:
      'A KMS key named by alias: the statement is limited to keys carrying that alias (kms:ResourceAliases condition).',
  },
];

/**
 * Acknowledges, finding by finding, exactly the wildcard permissions listed above (cdk-nag
 * AwsSolutions-IAM5) on the policies it visits. Any other wildcard still fails the synth.
 *
 * @example
 * ```ts
 * Aspects.of(vendor).add(new AcknowledgeExpectedWildcards());
 * ```
 */
export class AcknowledgeExpectedWildcards implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof iam.CfnPolicy)) return;
    const findings = rules.iam.IAMNoWildcardPermissions(node);
    if (!Array.isArray(findings)) return;
    for (const finding of findings) {
      const expected = EXPECTED.find((e) => e.finding.test(finding));
      if (expected)
        Validations.of(node).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason: expected.reason });
    }
  }
}
