import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../support/keys';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const REFERENCE = join(ROOT, 'docs/reference');

function files(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

/** docs/reference/ is TypeDoc's output for token-vendor/cdk and token-vendor/client (`npm run docs`). */
describe('the API reference', () => {
  it('is what TypeDoc makes of the sources now, with no broken link (npm run docs regenerates it)', () => {
    const out = tempDir('tv-reference-');
    const r = spawnSync('npx', ['typedoc', '--out', out, '--treatWarningsAsErrors'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const fresh = files(out);
    const committed = files(REFERENCE);
    expect([...committed.keys()].sort(), 'pages added or removed: run npm run docs').toEqual(
      [...fresh.keys()].sort(),
    );
    for (const [page, text] of fresh)
      expect(committed.get(page), `docs/reference/${page} is stale: run npm run docs`).toBe(text);
  }, 120_000);
});
