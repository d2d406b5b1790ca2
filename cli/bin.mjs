#!/usr/bin/env node
// The `token-vendor` command. It runs the compiled CLI (cli/dist/, built by `npm ci` through `prepare`, or
// `npm run build:cli`) when that is at least as new as every source file it was built from; otherwise it
// runs the TypeScript sources through tsx, so a checkout being edited never runs a stale build.
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const built = new URL('cli/dist/main.js', root);

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
if (fresh()) {
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
