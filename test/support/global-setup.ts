import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';

// A vitest global setup: the suite fails when it leaves a directory of this project's in the system
// temp folder (test keys, configs, synth output), whichever test or synth made it.
const OURS = /^(token-vendor-|tv-|cdk-out-|cdk\.out)/;
const ours = () => new Set(readdirSync(tmpdir()).filter((name) => OURS.test(name)));

export default function setup(): () => void {
  const before = ours();
  return () => {
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
