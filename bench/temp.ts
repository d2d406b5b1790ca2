import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temp directory for a benchmark's files, removed when the benchmark process exits. */
export function tempDirFor(name: string, parent = tmpdir()): string {
  const dir = mkdtempSync(join(parent, `tv-${name}-`));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
