import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * The tests run on the Node major the Lambda functions run (the `node` devDependency puts it first on
 * the PATH of every npm script and npx call, whatever Node the machine has).
 */
describe('Node version', () => {
  it('runs the suite on the Lambda runtime’s Node major, as package.json declares', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const infra = readFileSync(new URL('../../infra/functions.ts', import.meta.url), 'utf8');
    const lambdaMajor = Number(/Runtime\.NODEJS_(\d+)_X/.exec(infra)?.[1]);
    expect(lambdaMajor).toBeGreaterThanOrEqual(22);
    expect(pkg.engines.node).toBe(`>=${lambdaMajor}`);
    expect(pkg.devDependencies.node).toMatch(new RegExp(`^\\^${lambdaMajor}\\.`));
    expect(Number(process.versions.node.split('.')[0])).toBe(lambdaMajor);
  });
});
