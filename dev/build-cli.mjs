// `npm run build:cli` (also run by `prepare`, so `npm ci` builds it): compile the CLI to cli/dist/ so the
// published `token-vendor` bin starts without compiling TypeScript. Packages stay external (they load
// from node_modules); each command is its own chunk, loaded only when that command runs.
import { build } from 'esbuild';

await build({
  entryPoints: { main: 'cli/main.ts' },
  outdir: 'cli/dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  packages: 'external',
  logLevel: 'warning',
});
