import { Validations } from 'aws-cdk-lib';
import {
  AwsSolutionsChecks,
  HIPAASecurityChecks,
  NIST80053R5Checks,
  PCIDSS321Checks,
  ServerlessChecks,
} from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { ControlTowerChecks } from './control-tower';

/**
 * The rule sets the Token Vendor passes, on your own app: cdk-nag's AwsSolutions and Serverless packs,
 * the packs regulated teams gate on (NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1), and AWS Control
 * Tower's proactive controls through cfn-guard (about 7 s a synth; `controlTower: false` skips them).
 * An unacknowledged finding anywhere in `scope` fails the synth; the construct acknowledges its own,
 * each on its resource with its reason.
 *
 * @example
 * ```ts
 * const app = new App();
 * new TokenVendor(new Stack(app, 'Tokens'), 'TokenVendor', { config });
 * applyRuleSets(app);
 * ```
 */
export function applyRuleSets(scope: IConstruct, options: { readonly controlTower?: boolean } = {}): void {
  Validations.of(scope).addPlugins(
    new AwsSolutionsChecks(scope),
    new ServerlessChecks(scope),
    new NIST80053R5Checks(scope),
    new HIPAASecurityChecks(scope),
    new PCIDSS321Checks(scope),
    ...(options.controlTower === false ? [] : [new ControlTowerChecks({ maxBuffer: 16 * 1024 * 1024 })]),
  );
}
