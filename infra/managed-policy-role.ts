import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

/** IAM's limit for a customer-managed policy is 6,144 characters; leave room for the document's frame. */
const POLICY_BUDGET = 5500;

/**
 * A role whose permissions live in customer-managed policies of its own (children `Policy`, then
 * `Policy2`, … when one would pass IAM's 6,144-character limit) instead of an inline default policy:
 * regulated teams' packs (cdk-nag NIST 800-53 R5, HIPAA, PCI: IAMNoInlinePolicy) refuse inline
 * policies, and a managed policy can be reviewed, versioned and attached on its own. Every grant CDK
 * makes to the role (`grant*`, `addToRolePolicy`) lands there. The policies are children of the role, so
 * whatever depends on the role (the function) is created after its permissions are.
 *
 * A statement's size is counted as its CloudFormation JSON, which is at least as long as what IAM counts
 * once the references are resolved, so a policy never passes the limit.
 *
 * @example
 * ```ts
 * const role = new ManagedPolicyRole(this, 'HttpRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
 * ```
 */
export class ManagedPolicyRole extends iam.Role {
  readonly #policies: { policy: iam.ManagedPolicy; size: number }[] = [];

  constructor(scope: Construct, id: string, props: iam.RoleProps) {
    super(scope, id, props);
  }

  /** The role's own policies, in the order they were started. */
  get ownPolicies(): readonly iam.ManagedPolicy[] {
    return this.#policies.map((p) => p.policy);
  }

  override addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    const size = JSON.stringify(Stack.of(this).resolve(statement.toStatementJson())).length + 1;
    let current = this.#policies.at(-1);
    if (!current || current.size + size > POLICY_BUDGET) {
      const n = this.#policies.length + 1;
      current = {
        policy: new iam.ManagedPolicy(this, n === 1 ? 'Policy' : `Policy${n}`, {
          description: `${this.node.path}: its own permissions${n === 1 ? '' : ` (part ${n})`}`,
          roles: [this],
        }),
        size: 0,
      };
      this.#policies.push(current);
    }
    current.policy.addStatements(statement);
    current.size += size;
    return { statementAdded: true, policyDependable: current.policy };
  }
}
