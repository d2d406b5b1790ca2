import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { writeTempFile } from '../support/keys';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The CDK app as `cdk synth` runs it, given a bad config: the field list, no stack trace. */
describe('the CDK app entry', () => {
  it('fails a bad config with every bad field named and no stack trace', () => {
    const config = writeTempFile(
      'bad.json',
      JSON.stringify({
        connections: { demo: { account: 'xy12345.aws', user: 'u', key: { kms: { keyId: '' } } } },
      }),
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
      cwd: ROOT,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ config }) },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('connections.demo.account');
    expect(run.stderr).toContain('connections.demo.key.kms.keyId');
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });
});
