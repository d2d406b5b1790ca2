import type * as CfnGuard from '@cdklabs/cdk-validator-cfnguard';
import type {
  IPolicyValidationContextBeta1,
  IPolicyValidationPluginBeta1,
  PolicyValidationPluginReportBeta1,
} from 'aws-cdk-lib';
import { requiredPeer } from './optional-peer';

/**
 * AWS Control Tower's proactive controls (cfn-guard), as a gate that fails the synth.
 *
 * `CfnGuardValidator` reports its violations without a severity. Once any of them is acknowledged, CDK
 * recomputes the report's success from the severities of the violations left ("error" or "fatal"
 * fail), finds none, and passes the synth: every unacknowledged violation is then printed and ignored.
 * (That is how a table without point-in-time recovery once went through unnoticed.) Here every
 * violation is an error, so the acknowledged ones pass and the others fail the synth, as cdk-nag's do.
 * The plugin keeps cfn-guard's name, so acknowledgements stay `cdk-validator-cfnguard::<rule>`.
 *
 * @example
 * ```ts
 * Validations.of(app).addPlugins(new ControlTowerChecks({ maxBuffer: 16 * 1024 * 1024 }));
 * ```
 */
export class ControlTowerChecks implements IPolicyValidationPluginBeta1 {
  readonly #guard: CfnGuard.CfnGuardValidator;

  constructor(props: CfnGuard.CfnGuardValidatorProps = {}) {
    const { CfnGuardValidator } = requiredPeer<typeof CfnGuard>(
      '@cdklabs/cdk-validator-cfnguard',
      'The Control Tower checks (applyRuleSets; controlTower: false skips them)',
    );
    this.#guard = new CfnGuardValidator(props);
  }

  get name(): string {
    return this.#guard.name;
  }

  get version(): string | undefined {
    return this.#guard.version;
  }

  get ruleIds(): string[] | undefined {
    return this.#guard.ruleIds;
  }

  validate(context: IPolicyValidationContextBeta1): PolicyValidationPluginReportBeta1 {
    const report = this.#guard.validate(context);
    return {
      ...report,
      violations: report.violations.map((violation) => ({
        ...violation,
        severity: violation.severity ?? 'error',
      })),
    };
  }
}
