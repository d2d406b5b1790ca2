import { cpSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Trigger } from './monitoring';

/**
 * The package's root: the nearest directory up from this module whose package.json is token-vendor's
 * (this repository from `infra/`, or the installed package from its `dist/cdk/`).
 */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const manifest = join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'token-vendor'
    )
      return dir;
    dir = dirname(dir);
  }
  throw new Error(`token-vendor: cannot find the package root above ${fileURLToPath(import.meta.url)}.`);
}

/** Where the prebuilt bundle of each function is (`dev/build.mjs` writes them). */
export function prebuiltBundle(trigger: Trigger): string {
  const dir = join(packageRoot(), 'dist', 'lambda', trigger);
  if (!existsSync(join(dir, 'index.mjs')))
    throw new Error(
      `token-vendor: the ${trigger} function's bundle is missing (${dir}); in a checkout, run npm run build:package.`,
    );
  return dir;
}

/**
 * A function's code: its prebuilt bundle (`index.mjs` and its source map) with the sealed config beside
 * it as `config.json`. Assembling the asset is a copy, so a synth needs neither esbuild nor Docker; the
 * asset's hash is that of the result, so a new config or a new bundle deploys and nothing else does.
 */
export function prebuiltCode(trigger: Trigger, configFile: string): lambda.Code {
  const bundle = prebuiltBundle(trigger);
  return lambda.Code.fromAsset(bundle, {
    bundling: {
      // Never used: the local step below always succeeds. CDK requires an image for the Docker fallback.
      image: DockerImage.fromRegistry('token-vendor-prebuilt-bundle-needs-no-docker'),
      local: {
        tryBundle(outputDir: string): boolean {
          for (const file of ['index.mjs', 'index.mjs.map'])
            cpSync(join(bundle, file), join(outputDir, file));
          cpSync(configFile, join(outputDir, 'config.json'));
          return true;
        },
      },
    },
  });
}
