import { build } from 'esbuild';

/**
 * Bundle `entry` into `outfile` with the options the stack gives esbuild for every function
 * (infra/token-vendor.ts): ESM for node22, minified with names kept, the AWS SDK left to the runtime.
 *
 * @example
 * ```ts
 * await bundleLikeCdk('lambda/handlers/http.ts', join(dir, 'index.mjs'));
 * ```
 */
export async function bundleLikeCdk(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    keepNames: true,
    mainFields: ['module', 'main'],
    banner: {
      js: "import { createRequire as __tvCreateRequire } from 'node:module'; const require = __tvCreateRequire(import.meta.url);",
    },
    external: ['@aws-sdk/*', '@smithy/*'],
    outfile,
    logLevel: 'silent',
  });
}
