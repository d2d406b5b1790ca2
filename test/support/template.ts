import type { Template } from 'aws-cdk-lib/assertions';

/**
 * Each role's own policy, by logical id: every grant CDK made to a role lands in its customer-managed
 * policy (infra/managed-policy-role.ts); the template has no inline policies. Shared managed policies
 * (XRayWrite, WorkloadIdentitySignIn) are not in it.
 *
 * @example
 * ```ts
 * const statements = Object.values(rolePolicies(template)).flatMap((p) => p.Properties.PolicyDocument.Statement);
 * ```
 */
export function rolePolicies(template: Template): Record<string, any> {
  return Object.fromEntries(
    Object.entries(template.findResources('AWS::IAM::ManagedPolicy')).filter(([id]) =>
      /RolePolicy\d*[0-9A-F]{8}$/.test(id),
    ),
  );
}
