// `npm run build:package` (also `prepack`, so `npm pack` and `npm publish` run it): everything the published
// package runs, in dist/. Nothing in it compiles TypeScript at run time.
//
//   dist/lambda/<function>/  the five Lambda bundles the construct deploys (prebuilt: a synth needs
//                            neither esbuild nor Docker)
//   dist/cdk/                `token-vendor/cdk`: the construct, ESM (index.js) and CommonJS (index.cjs)
//   dist/client/             `token-vendor/client`, ESM and CommonJS
//   dist/cli/                the `token-vendor` command (cli/bin.mjs runs it), one chunk per command
//   dist/types/              declarations for both subpaths (tsc), with zod's types vendored: zod is
//                            bundled into the code, so no consumer installs it
//
// `node dev/build.mjs lambda` builds only the Lambda bundles (the test suite does, before it synthesizes).
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { lambdaBundleOptions } from './lambda-bundle.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const only = process.argv[2];

/** The functions the construct deploys, by the name of their directory in dist/lambda/. */
const LAMBDA_HANDLERS = ['http', 'direct', 'rotation-check', 'rotate-key', 'revocation-audit', 'pat-sweeper'];

// The AWS SDK: the Lambda runtime provides it, and the client and CLI take it as a dependency.
const AWS_SDK = ['@aws-sdk/*', '@smithy/*'];
// Peer dependencies of `token-vendor/cdk`: the adopter's own copies, never bundled.
const CDK_PEERS = [
  'aws-cdk-lib',
  'aws-cdk-lib/*',
  'constructs',
  'cdk-nag',
  '@cdklabs/cdk-validator-cfnguard',
];

async function lambdaBundles() {
  await Promise.all(
    LAMBDA_HANDLERS.map((name) =>
      build(
        lambdaBundleOptions(
          join(root, 'lambda/handlers', `${name}.ts`),
          join(dist, 'lambda', name, 'index.mjs'),
        ),
      ),
    ),
  );
}

/** A library entry as ESM and as CommonJS; `import.meta.url` works in both. */
async function library(entry, out, external) {
  const common = {
    entryPoints: [join(root, entry)],
    bundle: true,
    platform: 'node',
    target: 'node22',
    external,
    keepNames: true,
    sourcemap: true,
    logLevel: 'warning',
  };
  await build({ ...common, format: 'esm', outfile: join(dist, out, 'index.js') });
  await build({
    ...common,
    format: 'cjs',
    outfile: join(dist, out, 'index.cjs'),
    define: { 'import.meta.url': '__tvImportMetaUrl' },
    banner: { js: "const __tvImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  });
}

async function cli() {
  rmSync(join(dist, 'cli'), { recursive: true, force: true });
  await build({
    entryPoints: { main: join(root, 'cli/main.ts') },
    outdir: join(dist, 'cli'),
    bundle: true,
    // Each command is its own chunk, loaded only when that command runs (`--help` loads none).
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    banner: {
      js: "import { createRequire as __tvCreateRequire } from 'node:module'; const require = __tvCreateRequire(import.meta.url);",
    },
    // The local stack runs the real handlers: middy, Powertools, zod, jose and pg are bundled, so they
    // are not production dependencies of a service that installs the package for its client.
    external: [...AWS_SDK, 'pg-native', 'pg-cloudflare'],
    keepNames: true,
    logLevel: 'warning',
  });
}

/** Relative module specifiers in emitted declarations, made explicit for Node's ESM resolution. */
function explicit(fromFile, specifier) {
  const base = resolve(dirname(fromFile), specifier);
  if (existsSync(`${base}.d.ts`)) return `${specifier}.js`;
  if (existsSync(join(base, 'index.d.ts'))) return `${specifier}/index.js`;
  throw new Error(`${relative(root, fromFile)}: cannot resolve ${specifier}`);
}

/** zod's declaration files reachable from `entries` (its own imports are relative, with extensions). */
function vendorZod(entries, into) {
  const zod = join(root, 'node_modules/zod');
  const seen = new Set();
  const walk = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const [, spec] of text.matchAll(/(?:from|import\()\s*["'](\.[^"']+)["']/g)) {
      walk(resolve(dirname(file), spec.replace(/\.js$/, '.d.ts')));
    }
  };
  for (const e of entries) walk(join(zod, e));
  for (const file of seen) {
    const target = join(into, relative(zod, file));
    mkdirSync(dirname(target), { recursive: true });
    cpSync(file, target);
  }
  cpSync(join(zod, 'LICENSE'), join(into, 'LICENSE'));
  return seen.size;
}

function declarations() {
  const out = join(dist, 'types');
  rmSync(out, { recursive: true, force: true });
  // TypeScript 7 (the native compiler, the one `cdk init` projects get) emits them in about 2 s; 5.9,
  // which TypeDoc needs for its compiler API, took about 9 s.
  const tsc = join(root, 'node_modules/typescript7/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  const vendor = join(out, '_vendor/zod');
  const bare = { 'zod/mini': 'mini/index.d.ts', 'zod/v4/core': 'v4/core/index.d.ts' };
  vendorZod(Object.values(bare), vendor);
  const files = [];
  const list = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== '_vendor') list(p);
      } else if (e.name.endsWith('.d.ts')) files.push(p);
    }
  };
  list(out);
  for (const file of files) {
    const text = readFileSync(file, 'utf8').replace(
      /((?:from|import\()\s*)(["'])([^"']+)\2/g,
      (_m, lead, quote, spec) => {
        if (spec.startsWith('.')) return `${lead}${quote}${explicit(file, spec)}${quote}`;
        if (spec in bare) {
          let rel = relative(dirname(file), join(vendor, bare[spec].replace(/\.d\.ts$/, '.js')));
          if (!rel.startsWith('.')) rel = `./${rel}`;
          return `${lead}${quote}${rel}${quote}`;
        }
        if (spec.startsWith('zod'))
          throw new Error(`${relative(root, file)}: zod specifier ${spec} not vendored`);
        return `${lead}${quote}${spec}${quote}`;
      },
    );
    writeFileSync(file, text);
  }
}

const started = Date.now();
await lambdaBundles();
if (only !== 'lambda') {
  await cli();
  await library('infra/index.ts', 'cdk', [...CDK_PEERS, ...AWS_SDK]);
  await library('client/index.ts', 'client', AWS_SDK);
  declarations();
}
const size = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce(
    (n, e) => n + (e.isDirectory() ? size(join(dir, e.name)) : statSync(join(dir, e.name)).size),
    0,
  );
process.stderr.write(
  `built ${only ?? 'dist'} (${(size(dist) / 1024 / 1024).toFixed(1)} MiB) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
);
