import { CfnResource, type IAspect, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as Nag from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { optionalPeer } from './optional-peer';

/**
 * The wildcard IAM permissions the Token Vendor needs: each acknowledged only on the policy it belongs
 * to (by construct path) and only for its exact finding. The same wildcard on any other policy, or any
 * other wildcard, still fails the synth.
 */
interface Expected {
  /** The policy's construct path, below the TokenVendor construct. */
  readonly policy: RegExp;
  /** The finding, given what `policy` matched. */
  readonly finding: (match: RegExpExecArray) => RegExp;
  readonly reason: string;
}

const FUNCTION_ROLE =
  /\/(Http|Direct|RotationCheck|RotateKey|RevocationAudit|PatSweeper)Role\/Policy\d*\/Resource$/;

const EXPECTED: readonly Expected[] = [
  {
    policy: FUNCTION_ROLE,
    finding: (m) => new RegExp(`^Resource::<\\w*${m[1]}Logs[0-9A-F]{8}\\.Arn>:\\*$`),
    reason:
      "Lambda writes to log streams with generated names; the statement is limited to the function's own log group.",
  },
  {
    policy: FUNCTION_ROLE,
    finding: () => /^Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key\/\*$/,
    reason:
      'A KMS key named by alias in the config: the statement is limited to keys carrying that alias (kms:ResourceAliases condition).',
  },
  {
    policy: /\/XRayWrite\/Resource$/,
    finding: () => /^Resource::\*$/,
    reason:
      'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions; this policy holds nothing else.',
  },
  {
    policy: /\/WorkloadIdentitySignIn\/Resource$/,
    finding: () => /^Resource::\*$/,
    reason:
      'sts:GetWebIdentityToken has no resource type; the policy holds only it, limited to audience snowflakecomputing.com (non-vacuously) and the configured token lifetime.',
  },
  {
    policy: /\/ExampleStateMachine\/Role\/Policy\d*\/Resource$/,
    finding: () => /^Resource::<\w*DirectFunction\w*\.Arn>:\*$/,
    reason:
      'The state machine may invoke any version or alias of the direct-invoke function, and only that function.',
  },
  {
    policy: /\/ExampleStateMachine\/Role\/Policy\d*\/Resource$/,
    finding: () => /^Resource::\*$/,
    reason:
      'Step Functions log delivery (logs:CreateLogDelivery, …) and X-Ray support no resource-level permissions.',
  },
];

/**
 * Acknowledge one cdk-nag finding on `scope` (or several with one reason: the same rule in each
 * pack), with its reason, and record it in the template on the resource it applies to (`Metadata.cdk_nag.rules_to_suppress`, the convention reviewers and tools read).
 *
 * @example
 * ```ts
 * acknowledge(api, 'AwsSolutions-COG4', 'Callers are IAM principals; Cognito does not apply.');
 * ```
 */
export function acknowledge(scope: IConstruct, ids: string | readonly string[], reason: string): void {
  const resource = scope instanceof CfnResource ? scope : scope.node.defaultChild;
  for (const id of typeof ids === 'string' ? [ids] : ids) {
    Validations.of(scope).acknowledge({ id, reason });
    if (!(resource instanceof CfnResource)) continue;
    const existing = (resource.getMetadata('cdk_nag') as { rules_to_suppress?: unknown[] } | undefined) ?? {};
    resource.addMetadata('cdk_nag', {
      ...existing,
      rules_to_suppress: [...(existing.rules_to_suppress ?? []), { id, reason }],
    });
  }
}

/**
 * Acknowledges cdk-nag AwsSolutions-IAM5 (and Serverless' equivalent, where it reports the same finding)
 * for exactly the wildcard permissions listed above, each on its own policy. The acknowledgement is an
 * `appliesTo`-style id, `AwsSolutions-IAM5[<finding>]`, recorded on the policy resource.
 *
 * @example
 * ```ts
 * Aspects.of(vendor).add(new AcknowledgeExpectedWildcards());
 * ```
 */
export class AcknowledgeExpectedWildcards implements IAspect {
  // cdk-nag computes the finding strings; without it installed nothing reports them, so none to acknowledge.
  readonly #nag = optionalPeer<typeof Nag>('cdk-nag');

  visit(node: IConstruct): void {
    if (!this.#nag) return;
    if (!(node instanceof iam.CfnPolicy) && !(node instanceof iam.CfnManagedPolicy)) return;
    const findings = this.#nag.rules.iam.IAMNoWildcardPermissions(node);
    if (!Array.isArray(findings)) return;
    const path = node.node.path.slice(Stack.of(node).node.path.length);
    for (const finding of findings) {
      const expected = EXPECTED.find((e) => {
        const match = e.policy.exec(path);
        return match !== null && e.finding(match).test(finding);
      });
      if (expected) acknowledge(node, `AwsSolutions-IAM5[${finding}]`, expected.reason);
    }
  }
}

/**
 * A rule's ids in the regulated teams' cdk-nag packs (NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1),
 * which share their rules: one acknowledgement, one reason, in all three.
 */
export function compliance(rule: string): string[] {
  return ['NIST.800.53.R5', 'HIPAA.Security', 'PCI.DSS.321'].map((pack) => `${pack}-${rule}`);
}
