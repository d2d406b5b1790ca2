#!/usr/bin/env node
// The `token-vendor` command. An installed package always runs its compiled CLI (dist/cli/, built by
// `prepare` before packing): it ships no TypeScript and needs no compiler. In a checkout being edited,
// the compiled CLI runs when it is at least as new as every source it was built from; otherwise the
// TypeScript sources run through tsx (a devDependency), so an edit never runs a stale build.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const built = new URL('dist/cli/main.js', root);
const here = fileURLToPath(import.meta.url);
// Installed (npm copies files with fresh times, so times say nothing there), or a package without sources.
const installed =
  here.split(/[\\/]/).includes('node_modules') || !existsSync(new URL('main.ts', import.meta.url));

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name === 'node_modules') continue;
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function fresh() {
  try {
    const builtAt = statSync(built).mtimeMs;
    return ['cli', 'lambda', 'client', 'dev'].every(
      (d) => newestSource(fileURLToPath(new URL(d, root))) <= builtAt,
    );
  } catch {
    return false;
  }
}

let main;
if (installed || fresh()) {
  ({ main } = await import(built.href));
} else {
  const { register } = await import('tsx/esm/api');
  register({ tsconfig: fileURLToPath(new URL('tsconfig.json', root)) });
  ({ main } = await import('./main.ts'));
}
process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});
