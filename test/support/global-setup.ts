import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';

// A vitest global setup: the suite fails when it leaves a directory of this project's in the system
// temp folder (test keys, configs, synth output), whichever test or synth made it.
const OURS = /^(token-vendor-|tv-|cdk-out-|cdk\.out)/;
const ours = () => new Set(readdirSync(tmpdir()).filter((name) => OURS.test(name)));

/** The local stack's default port: a user runs the tests while `npm start` holds it. */
const DEFAULT_PORT = 8787;

/**
 * Hold 127.0.0.1:8787 for the whole run, as a running `npm start` would, so no test can depend on the
 * well-known port being free. On by default in CI; TOKEN_VENDOR_HOLD_PORT=1 turns it on anywhere. A port
 * already held (the stack is running) is left to its holder: that is the case being tested.
 */
async function holdDefaultPort(): Promise<Server | undefined> {
  if (!process.env.CI && !process.env.TOKEN_VENDOR_HOLD_PORT) return undefined;
  const server = createServer((socket) => socket.destroy());
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined));
    server.listen(DEFAULT_PORT, '127.0.0.1', () => resolve(server));
  });
}

export default async function setup(): Promise<() => void> {
  const before = ours();
  // dist/ from the sources under test, once, before any test reads it: the construct deploys its
  // prebuilt Lambda bundles, the CLI runs its build, and the package test packs it (about 8 s).
  execFileSync(process.execPath, ['dev/build.mjs'], { stdio: 'inherit' });
  const held = await holdDefaultPort();
  return () => {
    held?.close();
    const left = [...ours()].filter((name) => !before.has(name));
    if (left.length > 0) {
      // A teardown error alone does not change vitest's exit code; this runs after the reports are out.
      process.stderr.write(
        `\nFAIL: the test run left ${left.length} directories in ${tmpdir()}: ${left.slice(0, 10).join(', ')}\n`,
      );
      process.exit(1);
    }
  };
}
