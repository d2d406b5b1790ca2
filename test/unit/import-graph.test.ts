import { readdirSync, readFileSync, statSync } from 'node:fs';
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
