// The esbuild options of every Lambda bundle the construct deploys (dev/build.mjs), in one place, so
// the benchmarks bundle their comparison handlers exactly as the functions are bundled.

/**
 * @param {string} entry the handler module
 * @param {string} outfile where the ESM bundle goes (its source map beside it)
 * @returns {import('esbuild').BuildOptions}
 */
export function lambdaBundleOptions(entry, outfile) {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    // No --enable-source-maps at run time (measured: +60 ms init, +9 MiB per container,
    // bench/cold-path.bench.ts); the map ships beside the bundle to read a stack trace with.
    sourcemap: true,
    mainFields: ['module', 'main'],
    // Some dependencies are CommonJS and call require(); give the ESM bundle one.
    banner: {
      js: "import { createRequire as __tvCreateRequire } from 'node:module'; const require = __tvCreateRequire(import.meta.url);",
    },
    // The nodejs22.x runtime provides AWS SDK v3: not bundling it keeps ~450 KB of code out of every
    // cold start (the vendor loads SDK clients on first use, lambda/aws/sdk.ts).
    external: ['@aws-sdk/*', '@smithy/*'],
    // Error classes are matched and reported by name; minification must not rename them.
    keepNames: true,
    logLevel: 'warning',
  };
}
