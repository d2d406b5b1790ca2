import type { BuildOptions } from 'esbuild';

/** The esbuild options of every Lambda bundle the construct deploys (see lambda-bundle.mjs). */
export function lambdaBundleOptions(entry: string, outfile: string): BuildOptions;
