import { Validations } from 'aws-cdk-lib';
import type * as Nag from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { ControlTowerChecks } from './control-tower';
import { requiredPeer } from './optional-peer';

/**
 * The rule sets the Token Vendor passes, on your own app: cdk-nag's AwsSolutions and Serverless packs,
 * the packs regulated teams gate on (NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1), and AWS Control
 * Tower's proactive controls through cfn-guard (about 7 s a synth; `controlTower: false` skips them).
 * An unacknowledged finding anywhere in `scope` fails the synth; the construct acknowledges its own,
 * each on its resource with its reason. Needs the optional peer dependencies `cdk-nag` and (for the
 * Control Tower controls) `@cdklabs/cdk-validator-cfnguard` in the app.
 *
 * @example
 * ```ts
 * const app = new App();
 * new TokenVendor(new Stack(app, 'Tokens'), 'TokenVendor', { config });
 * applyRuleSets(app);
 * ```
 */
export function applyRuleSets(scope: IConstruct, options: { readonly controlTower?: boolean } = {}): void {
  const { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } =
    requiredPeer<typeof Nag>('cdk-nag', 'applyRuleSets');
  Validations.of(scope).addPlugins(
    new AwsSolutionsChecks(scope),
    new ServerlessChecks(scope),
    new NIST80053R5Checks(scope),
    new HIPAASecurityChecks(scope),
    new PCIDSS321Checks(scope),
    ...(options.controlTower === false ? [] : [new ControlTowerChecks({ maxBuffer: 16 * 1024 * 1024 })]),
  );
}
