import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temp directory for a benchmark's files. */
export function tempDirFor(name: string): string {
  return mkdtempSync(join(tmpdir(), `tv-${name}-`));
}
