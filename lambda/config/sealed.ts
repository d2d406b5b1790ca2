import { createHash } from 'node:crypto';
import { ConfigError } from './errors';
import type { Config } from './schema';

/**
 * The config a deployed function reads, validated once at `cdk synth` instead of at every cold start.
 *
 * The stack parses the config with the full schema (defaults applied, every cross-reference checked)
 * and ships the result in each function's code as a sealed document:
 * `{"tokenVendorValidatedConfig": 1, "sha256": "<hex>", "config": {...}}`. The function trusts it
 * when the digest matches: building the zod schema (≈ 350 schema objects) and parsing with it would
 * otherwise cost every cold start ≈ 20 ms for a result the synth already computed. The digest is for
 * integrity (a truncated or hand-edited file), not a secret: whoever can change a function's code can
 * change its behaviour anyway. Anything else (a plain config: local use, `TOKEN_VENDOR_CONFIG`) is
 * validated in full, with the schema loaded on demand.
 */
export const VALIDATED_CONFIG_FORMAT = 1;

interface SealedConfig {
  readonly tokenVendorValidatedConfig: number;
  readonly sha256: string;
  readonly config: Config;
}

const digestOf = (config: unknown): string =>
  createHash('sha256').update(JSON.stringify(config)).digest('hex');

/**
 * The sealed document for a config `parseConfig` returned (JSON text, as the stack writes it).
 *
 * @example
 * ```ts
 * writeFileSync(join(assetDir, 'config.json'), sealConfig(parseConfig(json)));
 * ```
 */
export function sealConfig(config: Config): string {
  const sealed: SealedConfig = {
    tokenVendorValidatedConfig: VALIDATED_CONFIG_FORMAT,
    sha256: digestOf(config),
    config,
  };
  return `${JSON.stringify(sealed, null, 2)}\n`;
}

/** Is `doc` a sealed document (of any format version)? */
export function isSealed(doc: unknown): doc is SealedConfig {
  return typeof doc === 'object' && doc !== null && Object.hasOwn(doc, 'tokenVendorValidatedConfig');
}

/**
 * The config in a sealed document, checked: the format this code reads and a matching digest.
 * Throws a {@link ConfigError} saying what to do otherwise.
 */
export function unseal(doc: SealedConfig, origin: string): Config {
  if (doc.tokenVendorValidatedConfig !== VALIDATED_CONFIG_FORMAT) {
    throw new ConfigError(
      `Invalid token vendor ${origin}: a validated config of format ${JSON.stringify(doc.tokenVendorValidatedConfig)}, ` +
        `not ${VALIDATED_CONFIG_FORMAT}; it was written by another version of the stack. Deploy it again with cdk deploy.`,
    );
  }
  const keys = Object.keys(doc).sort().join(',');
  if (
    keys !== 'config,sha256,tokenVendorValidatedConfig' ||
    typeof doc.config !== 'object' ||
    doc.config === null ||
    Array.isArray(doc.config) ||
    typeof doc.sha256 !== 'string' ||
    doc.sha256 !== digestOf(doc.config)
  ) {
    throw new ConfigError(
      `Invalid token vendor ${origin}: the validated config was changed after cdk synth wrote it ` +
        '(its SHA-256 does not match). Change the config you deploy from and deploy it again.',
    );
  }
  return doc.config;
}
