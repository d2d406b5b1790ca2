import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/keys';

/**
 * Every command in the README and docs/ runs as written, or says why it cannot here. A fenced block's
 * info string decides:
 *
 * - `sh`: runs in the suite, as written. The docs' blocks run here, each as one bash script in a fresh
 *   directory with the package's `token-vendor` bin; the README's two run elsewhere (its block against
 *   `npm start` in npm-start.test.ts, its two commands in `.ci/run`).
 * - `sh aws`: needs an AWS account (`aws …`, `cdk deploy`, a deployed stack's `$API_URL`); every line must.
 * - `sh install`: `npm install` lines; package.test.ts installs each package named, the tarball for
 *   `token-vendor`.
 * - `sh local`: against `npm start`, run by the test its marker names (npm-start.test.ts).
 * - `text` under `<!-- usage: token-vendor --help -->`: the CLI's help, exactly.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

interface Block {
  readonly page: string;
  readonly line: number;
  readonly info: string;
  readonly body: string;
  /** The HTML comment right above the fence, if any. */
  readonly marker?: string;
}

function blocks(page: string): Block[] {
  const lines = readFileSync(join(ROOT, page), 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\S.*)?$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(indent));
    const marker = /^<!-- (.*) -->$/.exec(lines[i - 1] ?? '')?.[1];
    out.push({
      page,
      line: i + 1,
      info: (open[2] ?? '').trim(),
      body: `${body.join('\n')}\n`,
      ...(marker ? { marker } : {}),
    });
    i = j;
  }
  return out;
}

const ALL = PAGES.flatMap(blocks);
const commands = (b: Block) =>
  b.body
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/** GitHub's heading anchors: lower case, punctuation but `-` and `_` dropped, spaces to `-`. */
function anchors(page: string): Set<string> {
  const text = readFileSync(page, 'utf8').replace(/^\s*```[\s\S]*?^\s*```/gm, '');
  return new Set(
    [...text.matchAll(/^#{1,6} (.*)$/gm)].map((m) =>
      m[1]!
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    ),
  );
}

describe('the README and docs/', () => {
  it('use no shell block of another kind than sh, sh aws, sh install or sh local', () => {
    const shellish = ALL.filter((b) => /^(sh|bash|shell|console|zsh)\b/.test(b.info));
    expect(shellish.length).toBeGreaterThan(5);
    expect(
      shellish
        .filter((b) => !['sh', 'sh aws', 'sh install', 'sh local'].includes(b.info))
        .map((b) => `${b.page}:${b.line}`),
    ).toEqual([]);
    // A local block names the test that runs it, and that test reads its page.
    for (const b of shellish.filter((x) => x.info === 'sh local')) {
      const test = /^runs against npm start: (test\/\S+\.test\.ts)$/.exec(b.marker ?? '')?.[1];
      expect(test, `${b.page}:${b.line}`).toBeDefined();
      expect(readFileSync(join(ROOT, test!), 'utf8')).toContain(b.page);
    }
  });

  it('link only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const page of PAGES) {
      const text = readFileSync(join(ROOT, page), 'utf8').replace(/^\s*```[\s\S]*?^\s*```/gm, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^(https?:|mailto:)/.test(target!)) continue;
        const [path, anchor] = target!.split('#') as [string, string | undefined];
        const file = path === '' ? join(ROOT, page) : resolve(dirname(join(ROOT, page)), path);
        if (!existsSync(file)) broken.push(`${page}: ${target} (no such file)`);
        else if (anchor && !anchors(file).has(anchor)) broken.push(`${page}: ${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('run every sh block of docs/ as written', () => {
    const runnable = ALL.filter((b) => b.info === 'sh' && b.page !== 'README.md');
    expect(runnable.length).toBeGreaterThanOrEqual(2);
    for (const block of runnable) {
      const dir = tempDir('tv-docs-');
      // `npx token-vendor` finds the bin here, as it does in a project that installed the package.
      mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true });
      symlinkSync(join(ROOT, 'cli/bin.mjs'), join(dir, 'node_modules/.bin/token-vendor'));
      const r = spawnSync('bash', ['-euo', 'pipefail', '-c', block.body], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 60_000,
        env: { PATH: process.env.PATH, HOME: dir, AWS_EC2_METADATA_DISABLED: 'true' },
      });
      expect(r.status, `${block.page}:${block.line}\n${block.body}\n${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout.length, `${block.page}:${block.line} printed nothing`).toBeGreaterThan(0);
    }
  }, 120_000);

  it('keep the README’s own sh blocks to the two that run elsewhere', () => {
    const readme = ALL.filter((b) => b.page === 'README.md' && b.info === 'sh');
    expect(readme).toHaveLength(2);
    expect(commands(readme[0]!).map((c) => c.replace(/\s+#.*$/, ''))).toEqual([
      'npm ci && npm start',
      'npm ci && npm test',
    ]);
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
    expect(ci).toMatch(/^npm ci$/m);
    expect(ci).toMatch(/^npm test$/m);
    // The second is the block npm-start.test.ts runs: it names that test just above.
    const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const at = text.indexOf('test/e2e/npm-start.test.ts` runs this very block');
    expect(at).toBeGreaterThan(0);
    expect(text.slice(at).indexOf(readme[1]!.body)).toBeGreaterThan(0);
  });

  it('mark as sh aws only commands that need an AWS account', () => {
    const aws = ALL.filter((b) => b.info === 'sh aws');
    expect(aws.length).toBeGreaterThan(0);
    for (const b of aws)
      for (const c of commands(b))
        expect(c, `${b.page}:${b.line}`).toMatch(
          /^(aws \S|npx cdk (bootstrap|deploy)\b|curl .*\$API_URL|TOKEN=\$\(uuidgen\)$|npx token-vendor \S+( list)? --table |npx token-vendor integrations (disable|enable) \S+ --config config\/prod\.json$|npx token-vendor rotate-now .*--table )/,
        );
  });

  it('install in sh install blocks only packages the package test installs', () => {
    const test = readFileSync(join(ROOT, 'test/e2e/package.test.ts'), 'utf8');
    for (const b of ALL.filter((x) => x.info === 'sh install'))
      for (const c of commands(b)) {
        const m = /^npm install ((?:[@\w./-]+\s*)+?)(\s+#.*)?$/.exec(c);
        expect(m, `${b.page}:${b.line}: ${c}`).not.toBeNull();
        for (const name of m![1]!.trim().split(/\s+/))
          expect(name === 'token-vendor' || test.includes(`'${name}@`), `${b.page}:${b.line}: ${name}`).toBe(
            true,
          );
      }
  });

  it('show the CLI’s help as it prints it', () => {
    const usage = ALL.filter((b) => b.marker === 'usage: token-vendor --help');
    expect(usage).toHaveLength(1);
    const r = spawnSync(process.execPath, [join(ROOT, 'cli/bin.mjs'), '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(usage[0]!.body, `${relative(ROOT, usage[0]!.page)}: paste npx token-vendor --help`).toBe(r.stdout);
  });
});
