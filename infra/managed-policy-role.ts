import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

/**
 * A role whose permissions live in a customer-managed policy of its own (child `Policy`) instead of an
 * inline default policy: regulated teams' packs (cdk-nag NIST 800-53 R5, HIPAA, PCI: IAMNoInlinePolicy)
 * refuse inline policies, and a managed policy can be reviewed, versioned and attached on its own. Every
 * grant CDK makes to the role (`grant*`, `addToRolePolicy`) lands there. The policy is a child of the
 * role, so whatever depends on the role (the function) is created after its permissions are.
 *
 * A managed policy holds at most 6,144 characters; a config that needs more fails the deploy naming the
 * policy (CDK does not split a managed policy as it splits an inline one).
 *
 * @example
 * ```ts
 * const role = new ManagedPolicyRole(this, 'HttpRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
 * ```
 */
export class ManagedPolicyRole extends iam.Role {
  #policy: iam.ManagedPolicy | undefined;

  constructor(scope: Construct, id: string, props: iam.RoleProps) {
    super(scope, id, props);
  }

  override addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    this.#policy ??= new iam.ManagedPolicy(this, 'Policy', {
      description: `${this.node.path}: its own permissions`,
      roles: [this],
    });
    this.#policy.addStatements(statement);
    return { statementAdded: true, policyDependable: this.#policy };
  }
}
