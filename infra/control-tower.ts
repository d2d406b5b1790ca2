import { readdirSync, readFileSync } from 'node:fs';
import { join, parse } from 'node:path';
import type * as CfnGuard from '@cdklabs/cdk-validator-cfnguard';
import type {
  IPolicyValidationContextBeta1,
  IPolicyValidationPluginBeta1,
  PolicyValidationPluginReportBeta1,
} from 'aws-cdk-lib';
import { peerFile, requiredPeer } from './optional-peer';

const GUARD = '@cdklabs/cdk-validator-cfnguard';

/** A Control Tower rule file: its name (what `disabledRules` takes) and the resource types it names. */
export interface ControlTowerRule {
  readonly name: string;
  readonly types: readonly string[];
}

/** The rule files bundled with the validator (`rules/control-tower/cfn-guard/<service>/ct-*.guard`). */
export function controlTowerRules(
  dir = peerFile(GUARD, 'rules', 'control-tower', 'cfn-guard'),
): ControlTowerRule[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.guard'))
    .map((file) => ({
      name: parse(file).name,
      types: [...new Set(readFileSync(join(dir, file), 'utf8').match(/AWS::[A-Za-z0-9]+::[A-Za-z0-9]+/g))],
    }));
}

/** Every resource type the templates declare. */
export function resourceTypesOf(templatePaths: readonly string[]): Set<string> {
  const types = new Set<string>();
  for (const path of templatePaths) {
    const template = JSON.parse(readFileSync(path, 'utf8')) as {
      Resources?: Record<string, { Type?: unknown }>;
    };
    for (const resource of Object.values(template.Resources ?? {}))
      if (typeof resource?.Type === 'string') types.add(resource.Type);
  }
  return types;
}

/**
 * The rule files that cannot apply to templates declaring `present`: every Control Tower rule selects
 * its resources by type (`Resources.*[ Type == %X ]` with `let X = "AWS::Service::Resource"`), so a rule
 * none of whose types is present finds nothing and passes. A rule naming no type at all is kept.
 */
export function inapplicableRules(
  rules: readonly ControlTowerRule[],
  present: ReadonlySet<string>,
): string[] {
  return rules.filter((r) => r.types.length > 0 && !r.types.some((t) => present.has(t))).map((r) => r.name);
}

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
 * cfn-guard evaluates each of its 237 rule files against the whole template, about 35 ms each for this
 * stack (8 s a synth), whether or not the template has the rule's resource type. Rules for types the
 * templates do not declare cannot find anything, so they are left out of the run: the same violations,
 * in about a second (`test/infra/control-tower.test.ts` compares the two runs).
 *
 * @example
 * ```ts
 * Validations.of(app).addPlugins(new ControlTowerChecks({ maxBuffer: 16 * 1024 * 1024 }));
 * ```
 */
export class ControlTowerChecks implements IPolicyValidationPluginBeta1 {
  readonly #props: CfnGuard.CfnGuardValidatorProps;
  readonly #guard: CfnGuard.CfnGuardValidator;
  readonly #validator: typeof CfnGuard.CfnGuardValidator;
  #rules: ControlTowerRule[] | undefined;

  constructor(props: CfnGuard.CfnGuardValidatorProps & { readonly everyRule?: boolean } = {}) {
    const { CfnGuardValidator } = requiredPeer<typeof CfnGuard>(
      GUARD,
      'The Control Tower checks (applyRuleSets; controlTower: false skips them)',
    );
    const { everyRule, ...guardProps } = props;
    this.#validator = CfnGuardValidator;
    this.#props = guardProps;
    this.#guard = new CfnGuardValidator(guardProps);
    // Only the bundled Control Tower rules are known to select by type; a run with rules of the app's own runs them all.
    if (everyRule || props.controlTowerRulesEnabled === false || (props.rules?.length ?? 0) > 0)
      this.#rules = [];
  }

  get name(): string {
    return this.#guard.name;
  }

  get version(): string | undefined {
    return this.#guard.version;
  }

  /** Every Control Tower rule this plugin checks, whether or not a given synth needs to run it. */
  get ruleIds(): string[] | undefined {
    return this.#guard.ruleIds;
  }

  validate(context: IPolicyValidationContextBeta1): PolicyValidationPluginReportBeta1 {
    this.#rules ??= controlTowerRules();
    const skip = inapplicableRules(this.#rules, resourceTypesOf(context.templatePaths));
    // Nothing can apply (a template of types no control covers): cfn-guard refuses a run without rules.
    if (skip.length > 0 && skip.length === this.#rules.length) return { success: true, violations: [] };
    const guard =
      skip.length === 0
        ? this.#guard
        : new this.#validator({
            ...this.#props,
            disabledRules: [...(this.#props.disabledRules ?? []), ...skip],
          });
    const report = guard.validate(context);
    return {
      ...report,
      violations: report.violations.map((violation) => ({
        ...violation,
        severity: violation.severity ?? 'error',
      })),
    };
  }
}
