/**
 * `token-vendor/cdk`: what a platform team adds to its own CDK app. This repository's own app
 * (infra/app.ts) uses nothing but what is exported here, as an adopter would.
 *
 * @packageDocumentation
 * @module token-vendor/cdk
 */
export { parseConfig, parseConfigText } from '../lambda/config/load';
export type { Config, ConfigInput } from '../lambda/config/schema';
export { VendorApi, type VendorApiProps } from './api';
export { DirectPath, type DirectPathProps } from './direct-path';
export { acknowledge, compliance } from './expected-wildcards';
export { type FunctionPlacement, VendorFunctions, type VendorFunctionsProps } from './functions';
export { VendorKeys } from './keys';
export { LeaseRecord, type LeaseRecordProps } from './leases';
export { Monitoring, type MonitoringProps, type PerTrigger, type Trigger } from './monitoring';
export { VendorNetwork, type VendorNetworkProps } from './network';
export { PatLeases, type PatLeasesProps } from './pats';
export { RevocationList, type RevocationListProps } from './revocations';
export { KeyRotation, type KeyRotationProps, rotationTargets } from './rotation';
export { applyRuleSets } from './rule-sets';
export { SharedCache, type SharedCacheProps } from './shared-cache';
export { TokenVendorStack, type TokenVendorStackProps } from './stack';
export {
  DEFAULT_RESERVED_CONCURRENCY,
  readConfigFile,
  TokenVendor,
  type TokenVendorProps,
} from './token-vendor';
