import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Folders say who may import whom (see each folder's README): runtime code (`lambda/`, `client/`) never
 * imports developer tooling (`dev/`), the CDK app (`infra/`), the CLI, tests or benchmarks; `lambda/api/`
 * (the contract) sits at the bottom; `infra/` is CDK only and never imports `dev/`.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sources(path);
    return /\.(ts|mts|mjs)$/.test(name) ? [path] : [];
  });
}

/** Every module a file imports: static, dynamic and re-exports; relative ones resolved to repo paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specs = [
    ...text.matchAll(
      /(?:^|\s)(?:import|export)[^'"`;]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm,
    ),
  ].map((m) => (m[1] ?? m[2])!);
  return specs.map((spec) =>
    spec.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(file), spec)) : `pkg:${spec}`,
  );
}

const rules: [string, (file: string) => boolean, RegExp, string][] = [
  [
    'lambda/',
    (f) => f.startsWith('lambda/'),
    /^(dev|infra|cli|client|test|bench)\/|^pkg:(aws-cdk-lib|constructs|cdk-nag)/,
    'runtime code',
  ],
  [
    'client/',
    (f) => f.startsWith('client/'),
    /^(dev|infra|cli|test|bench)\/|^lambda\/(handlers|vending|snowflake|oauth|keys|rotation|audit|runtime)/,
    'the client (contract, retry, single-flight and config/url only)',
  ],
  [
    'lambda/api/',
    (f) => f.startsWith('lambda/api/'),
    /^lambda\/(?!api\/|version$)/,
    'the contract (it sits at the bottom)',
  ],
  ['infra/', (f) => f.startsWith('infra/'), /^(dev|cli|client|test|bench)\//, 'CDK code'],
];

describe('import graph', () => {
  const files = ['lambda', 'client', 'infra', 'dev', 'cli'].flatMap(sources);

  it('finds the sources it checks (not vacuous)', () => {
    expect(files.filter((f) => f.startsWith('lambda/')).length).toBeGreaterThan(30);
    expect(files.filter((f) => f.startsWith('client/')).length).toBeGreaterThan(1);
    expect(importsOf('lambda/handlers/http.ts')).toContain('lambda/api/routes');
  });

  it.each(rules)('%s imports nothing it must not', (_name, applies, forbidden, what) => {
    const violations = files.filter(applies).flatMap((file) =>
      importsOf(file)
        .filter((target) => forbidden.test(target))
        .map((t) => `${file} → ${t}`),
    );
    expect(violations, `${what} must not import these`).toEqual([]);
  });

  it('would catch a runtime file importing dev tooling', () => {
    const [, applies, forbidden] = rules[0]!;
    expect(applies('lambda/handlers/http.ts') && forbidden.test('dev/emulator/server')).toBe(true);
  });
});

/**
 * What a vending function loads at import: the modules its handler reaches by static value imports
 * (`import type` is erased; `import()` loads only when called). The runtime imports what only some
 * configs use when the config uses it (lambda/runtime.ts), so a function pays no cold start for it.
 */
function staticClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s+(?!type\s)[^'"`;]*?from\s*['"](\.[^'"]+)['"]/gm)) {
      const target = relative(ROOT, resolve(ROOT, dirname(file), m[1]!));
      queue.push(/\.m?[jt]s$/.test(target) ? target : `${target}.ts`);
    }
  }
  return seen;
}

const LOADED_WHEN_CONFIGURED = [
  'lambda/config/schema.ts', // a sealed config needs no schema; a plain one loads it
  'lambda/pat/issuer.ts',
  'lambda/pat/lease-store.ts',
  'lambda/snowflake/programmatic-access-token.ts',
  'lambda/snowflake/workload-identity.ts',
  'lambda/vending/shared-cache.ts',
  'lambda/vending/cache-keys.ts',
  'lambda/vending/revocations.ts',
  'lambda/vending/leases.ts',
  'lambda/oauth/token-source.ts',
  'lambda/keys/secrets-manager-signer.ts',
  'lambda/keys/kms-signer.ts',
  'lambda/keys/file-signer.ts',
];

describe('what a vending function loads at import', () => {
  it.each(['lambda/handlers/http.ts', 'lambda/handlers/direct.ts'])(
    '%s: the core, and nothing only some configs use',
    (entry) => {
      const closure = staticClosure(entry);
      // Not vacuous: the walk reaches the vendor, the SQL API client and the contract
      for (const core of ['lambda/runtime.ts', 'lambda/vending/vendor.ts', 'lambda/snowflake/sql-api.ts'])
        expect(closure).toContain(core);
      for (const file of LOADED_WHEN_CONFIGURED) expect(existsSync(join(ROOT, file)), file).toBe(true);
      expect(LOADED_WHEN_CONFIGURED.filter((file) => closure.has(file))).toEqual([]);
    },
  );

  it('would catch a static import of one of them', () => {
    // The rotation check signs with a KMS key it names itself: it imports the KMS signer statically.
    expect(staticClosure('lambda/handlers/rotation-check.ts')).toContain('lambda/keys/kms-signer.ts');
  });
});
