/**
 * An IAM identity as API Gateway reports it (`requestContext.identity.userArn`) or as a grant names it.
 * Only the shapes the vendor can match are parsed; anything else matches nothing.
 */
export type Principal =
  | {
      readonly kind: 'role';
      readonly partition: string;
      readonly account: string;
      readonly path: string;
      readonly name: string;
    }
  | {
      readonly kind: 'assumed-role';
      readonly partition: string;
      readonly account: string;
      readonly name: string;
      readonly session: string;
    }
  | {
      readonly kind: 'user';
      readonly partition: string;
      readonly account: string;
      readonly path: string;
      readonly name: string;
    };

const NAME = '[\\w+=,.@-]+';
const ROLE_OR_USER = new RegExp(`^arn:(aws[a-z-]*):iam::(\\d{12}):(role|user)/((?:${NAME}/)*)(${NAME})$`);
const ASSUMED_ROLE = new RegExp(`^arn:(aws[a-z-]*):sts::(\\d{12}):assumed-role/(${NAME})/(${NAME})$`);

/**
 * Parse an IAM role or user ARN, or an STS assumed-role session ARN. Returns undefined for anything
 * else (root, federated users, service principals, malformed input), which no grant matches.
 *
 * @example
 * ```ts
 * parsePrincipal('arn:aws:sts::111122223333:assumed-role/reporting-api/i-0abc'); // { kind: 'assumed-role', name: 'reporting-api', … }
 * ```
 */
export function parsePrincipal(arn: string | undefined | null): Principal | undefined {
  if (typeof arn !== 'string' || arn.length > 2048) return undefined;
  const assumed = ASSUMED_ROLE.exec(arn);
  if (assumed) {
    const [, partition, account, name, session] = assumed as unknown as [
      string,
      string,
      string,
      string,
      string,
    ];
    return { kind: 'assumed-role', partition, account, name, session };
  }
  const match = ROLE_OR_USER.exec(arn);
  if (!match) return undefined;
  const [, partition, account, kind, path, name] = match as unknown as [
    string,
    string,
    string,
    'role' | 'user',
    string,
    string,
  ];
  return { kind, partition, account, path: `/${path}`, name };
}

/**
 * Does the caller ARN API Gateway verified match the ARN a grant names?
 *
 * - An assumed-role session (`arn:aws:sts::A:assumed-role/R/S`) matches the role `arn:aws:iam::A:role/<any path>/R`:
 *   the session ARN drops the path, and IAM role names are unique within an account whatever their path.
 * - An IAM user matches exactly (path included). A role ARN matches exactly.
 * - Partition, account and name must be equal, case included; no wildcards exist.
 *
 * @example
 * ```ts
 * callerMatchesGrant('arn:aws:sts::111122223333:assumed-role/etl/run-42', 'arn:aws:iam::111122223333:role/data/etl'); // true
 * ```
 */
export function callerMatchesGrant(callerArn: string, grantArn: string): boolean {
  return principalMatches(parsePrincipal(callerArn), parsedGrant(grantArn));
}

// Grant ARNs come from the config: parse each once.
const grants = new Map<string, Principal | undefined>();
export function parsedGrant(arn: string): Principal | undefined {
  if (!grants.has(arn)) grants.set(arn, parsePrincipal(arn));
  return grants.get(arn);
}

/** {@link callerMatchesGrant} on parsed principals, so a caller parsed once can be matched against every grant. */
export function principalMatches(caller: Principal | undefined, grant: Principal | undefined): boolean {
  if (!caller || !grant || grant.kind === 'assumed-role') return false;
  if (caller.partition !== grant.partition || caller.account !== grant.account || caller.name !== grant.name)
    return false;
  if (caller.kind === 'assumed-role') return grant.kind === 'role';
  return caller.kind === grant.kind && caller.path === grant.path;
}

/**
 * The principal an entry or a caller stands for: `arn:<partition>:iam::<account>:role/<name>` (or
 * `user/<name>`), lower case. An assumed-role session stands for its role. Anything else: undefined.
 */
export function revocationPrincipal(arn: string): string | undefined {
  const p = parsePrincipal(arn);
  if (!p) return undefined;
  const kind = p.kind === 'user' ? 'user' : 'role';
  return `arn:${p.partition}:iam::${p.account}:${kind}/${p.name}`.toLowerCase();
}
