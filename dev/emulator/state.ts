import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

/** A Snowflake user as the emulator knows it: its two public-key slots, roles and default role. */
export interface EmulatedUser {
  /** Uppercase login name. */
  readonly name: string;
  defaultRole: string;
  readonly roles: Set<string>;
  /** Base64 body of the DER SPKI public key in slot 1 (`RSA_PUBLIC_KEY`), or undefined. */
  rsaPublicKey?: string;
  rsaPublicKeyLastSet?: Date;
  rsaPublicKey2?: string;
  rsaPublicKey2LastSet?: Date;
  /** Roles holding OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS on this user. */
  readonly keyAdminRoles: Set<string>;
  /**
   * The user's AWS workload identities: `DEFAULT` (the `WORKLOAD_IDENTITY` property) and any added with
   * `ALTER USER … ADD WORKLOAD IDENTITY <name>`. The user signs in keyless as any of them.
   */
  readonly workloadIdentities: AwsWorkloadIdentity[];
  /** `TYPE`: a service user (`SERVICE`, `LEGACY_SERVICE`) may make or use a PAT only under a network policy. */
  type: UserType;
  /** The network policy set on the user (`ALTER USER … SET NETWORK_POLICY`), if any. */
  networkPolicy?: string;
  /** The user's programmatic access tokens (removed ones are gone; expired ones stay listed 30 days). */
  readonly pats: EmulatedPat[];
}

export type UserType = 'PERSON' | 'SERVICE' | 'LEGACY_SERVICE';

/** A programmatic access token (`ALTER USER … ADD PROGRAMMATIC ACCESS TOKEN`). */
export interface EmulatedPat {
  /** As Snowflake resolves the identifier: upper case unless created quoted. */
  name: string;
  /** The token secret: shown once, by ADD (or ROTATE); a bearer token for the SQL API. */
  secret: string;
  readonly roleRestriction?: string;
  expiresAt: Date;
  readonly createdOn: Date;
  readonly createdBy: string;
  comment?: string;
  disabled: boolean;
  /** `MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT`: until then, no network policy is required to use it. */
  readonly bypassUntil?: Date;
  readonly minsToBypass?: number;
  /** Set on the token ROTATE renamed: the name of the token that replaced it. */
  rotatedTo?: string;
}

/** A network rule (`CREATE NETWORK RULE`), which lives in a schema. */
export interface EmulatedNetworkRule {
  /** `DB.SCHEMA.NAME`, resolved. */
  readonly qualifiedName: string;
  readonly type: 'IPV4';
  readonly mode: 'INGRESS';
  readonly values: readonly string[];
}

/** A network policy (`CREATE NETWORK POLICY … ALLOWED_NETWORK_RULE_LIST = (…)`). */
export interface EmulatedNetworkPolicy {
  readonly name: string;
  readonly allowedRules: readonly string[];
  readonly blockedRules: readonly string[];
}

/**
 * The account-level state the PAT rules read: databases and schemas (network rules live in a schema),
 * network rules and policies, the account's own network policy, and its PAT policy (an authentication
 * policy's `PAT_POLICY`; set through the emulator's options, not SQL).
 */
export interface EmulatedAccount {
  /** Database → its schemas (resolved names). */
  readonly databases: Map<string, Set<string>>;
  readonly networkRules: Map<string, EmulatedNetworkRule>;
  readonly networkPolicies: Map<string, EmulatedNetworkPolicy>;
  /** `ALTER ACCOUNT SET NETWORK_POLICY`: applies to users without one of their own. */
  networkPolicy?: string;
  /** Roles that exist (granted to a user, or created). */
  readonly roles: Set<string>;
  readonly patPolicy: PatPolicy;
}

/** An authentication policy's `PAT_POLICY`, as the emulated account has it. */
export interface PatPolicy {
  /** `DEFAULT_EXPIRY_IN_DAYS` (15) and `MAX_EXPIRY_IN_DAYS` (365). */
  readonly defaultExpiryDays: number;
  readonly maxExpiryDays: number;
  /** `NETWORK_POLICY_EVALUATION`: `ENFORCED_REQUIRED` (default), `ENFORCED_NOT_REQUIRED` or `NOT_ENFORCED`. */
  readonly networkPolicyEvaluation: 'ENFORCED_REQUIRED' | 'ENFORCED_NOT_REQUIRED' | 'NOT_ENFORCED';
  /** `REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS` (default TRUE). */
  readonly requireRoleRestrictionForServiceUsers: boolean;
  /** `BLOCKED_ROLES_LIST` (default ACCOUNTADMIN, SYSADMIN). */
  readonly blockedRoles: readonly string[];
}

export const DEFAULT_PAT_POLICY: PatPolicy = {
  defaultExpiryDays: 15,
  maxExpiryDays: 365,
  networkPolicyEvaluation: 'ENFORCED_REQUIRED',
  requireRoleRestrictionForServiceUsers: true,
  blockedRoles: ['ACCOUNTADMIN', 'SYSADMIN'],
};

/** At most 15 PATs per user: disabled ones count, expired ones do not. */
export const MAX_PATS_PER_USER = 15;

/** An AWS workload identity as a user's `WORKLOAD_IDENTITY` property holds it. */
export interface AwsWorkloadIdentity {
  /** `DEFAULT`, or the name given to `ADD WORKLOAD IDENTITY`. */
  readonly name: string;
  readonly type: 'AWS';
  /** `arn:aws:iam::<account>:role/<name>` (an IAM role; an assumed-role session maps to it). */
  readonly arn: string;
  /** The AWS account's outbound issuer URL (required for the GetWebIdentityToken JWT method). */
  readonly issuer: string;
  readonly createdOn: Date;
}

/** A Snowflake Postgres instance and the roles that own it or have USAGE on it. */
export interface EmulatedInstance {
  /** Resolved name: uppercase unless created quoted. */
  readonly name: string;
  readonly ownerRole: string;
  readonly usageRoles: Set<string>;
}

/** A Postgres access token the emulator issued; `validatePostgresToken` checks against these. */
export interface IssuedPostgresToken {
  readonly token: string;
  readonly instance: string;
  readonly username: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

export interface UserSpec {
  readonly name: string;
  readonly roles?: readonly string[];
  readonly defaultRole?: string;
  readonly publicKey?: KeyObject | string;
  readonly publicKey2?: KeyObject | string;
  /** Roles that may ALTER this user's keys (besides none); default: the user's own roles. */
  readonly keyAdminRoles?: readonly string[];
  /** Register an AWS workload identity (the role ARN and the account's outbound issuer URL). */
  readonly workloadIdentity?: { readonly arn: string; readonly issuer: string };
  /** `TYPE` (default `SERVICE`). */
  readonly type?: UserType;
  /** A network policy the user is subject to (it must exist in the emulator). */
  readonly networkPolicy?: string;
}

export interface InstanceSpec {
  /** As created: `reporting_server` (stored uppercase) or `"Reporting_server"` (exact). */
  readonly name: string;
  readonly ownerRole: string;
  readonly usageRoles?: readonly string[];
}

/** A time as SHOW and DESC print it: `2026-11-30 01:02:03.456 +0000`. */
export function snowflakeTimestamp(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', ' +0000');
}

/** Uppercase unless double-quoted, as Snowflake resolves identifiers. */
export function resolveIdentifier(name: string): string {
  return name.length >= 2 && name.startsWith('"') && name.endsWith('"')
    ? name.slice(1, -1)
    : name.toUpperCase();
}

/** Base64 DER SPKI body of a public key given as a KeyObject (public or private) or a PEM / base64 body. */
export function publicKeyBodyOf(key: KeyObject | string): string {
  if (typeof key === 'string' && !key.includes('-----')) return key.replace(/\s+/g, '');
  const object =
    typeof key === 'string' ? createPublicKey(key) : key.type === 'public' ? key : createPublicKey(key);
  return object.export({ type: 'spki', format: 'der' }).toString('base64');
}

/** `SHA256:` fingerprint of a base64 SPKI body, computed independently of the vendor's code. */
export function fingerprintOfBody(body: string): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(body, 'base64')).digest('base64')}`;
}

export function makeUser(spec: UserSpec, now: Date): EmulatedUser {
  const roles = new Set((spec.roles ?? ['PUBLIC']).map((r) => r.toUpperCase()));
  roles.add('PUBLIC');
  const defaultRole = (spec.defaultRole ?? spec.roles?.[0] ?? 'PUBLIC').toUpperCase();
  return {
    name: spec.name.toUpperCase(),
    defaultRole,
    roles,
    rsaPublicKey: spec.publicKey ? publicKeyBodyOf(spec.publicKey) : undefined,
    rsaPublicKeyLastSet: spec.publicKey ? now : undefined,
    rsaPublicKey2: spec.publicKey2 ? publicKeyBodyOf(spec.publicKey2) : undefined,
    rsaPublicKey2LastSet: spec.publicKey2 ? now : undefined,
    keyAdminRoles: new Set(
      (spec.keyAdminRoles ?? [...roles].filter((r) => r !== 'PUBLIC')).map((r) => r.toUpperCase()),
    ),
    workloadIdentities: spec.workloadIdentity
      ? [{ name: 'DEFAULT', type: 'AWS', ...spec.workloadIdentity, createdOn: now }]
      : [],
    type: spec.type ?? 'SERVICE',
    ...(spec.networkPolicy ? { networkPolicy: spec.networkPolicy.toUpperCase() } : {}),
    pats: [],
  };
}
