import type { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VALIDATED_CONFIG_FORMAT } from '../../lambda/config/sealed';
import { askAssetForPostgresToken } from '../support/bundle';
import { type EmulatorFixture, emulatorFixture, fixtureConfig } from '../support/emulator';
import { tempDir, writeTempFile } from '../support/keys';
import { cdkSynth } from '../support/synth';

/**
 * The real `npx cdk synth --no-notices` with esbuild bundling, offline, exactly as a user runs it; then
 * the bundle it deploys is imported and serves a request against the emulator.
 */
describe('cdk synth with real bundling', () => {
  let fx: EmulatorFixture;
  let out: string;
  let synth: ReturnType<typeof spawnSync>;
  beforeAll(async () => {
    fx = await emulatorFixture();
    const base = fixtureConfig(fx);
    // A second connection whose key is in Secrets Manager, so the rotate-key function exists and bundles too.
    const config = writeTempFile(
      'config.json',
      JSON.stringify({
        ...base,
        connections: {
          ...base.connections,
          rotated: {
            account: 'myorg-acct',
            user: 'svc2',
            key: { secretsManager: { secretId: 'tv/rotated' } },
          },
        },
      }),
    );
    out = tempDir('cdk-out-');
    synth = cdkSynth(config, out, {
      // The fixture signs with a key file, which only works when the bundle runs here.
      allowLocalKeySources: 'true',
      // Control Tower's rules run in the template tests; this test is about bundling.
      controlTowerChecks: 'false',
    });
  }, 300_000);
  afterAll(() => fx.emulator.close());

  it('synthesizes offline with cdk-nag passing and bundles every function with its config', () => {
    expect(synth.status, String(synth.stderr)).toBe(0);
    const assets = readdirSync(out).filter((d) => d.startsWith('asset.'));
    expect(assets).toHaveLength(5);
    for (const asset of assets) {
      const files = readdirSync(join(out, asset)).sort();
      expect(files).toEqual(['config.json', 'index.mjs', 'index.mjs.map']);
      // The config as the synth validated it, sealed: the function uses it without the zod schema.
      const shipped = JSON.parse(readFileSync(join(out, asset, 'config.json'), 'utf8'));
      expect(shipped).toMatchObject({ tokenVendorValidatedConfig: VALIDATED_CONFIG_FORMAT });
      expect(shipped.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(shipped.config.connections.demo.user).toBe('svc');
      expect(shipped.config.connections.demo.statementTimeoutSeconds).toBe(30); // a default, applied
    }
  });

  it('deploys a bundle that serves a Postgres token against the emulator', async () => {
    const template = JSON.parse(readFileSync(join(out, 'TokenVendor.template.json'), 'utf8'));
    const http = Object.values(template.Resources as Record<string, any>).find(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Description === 'Token Vendor: http',
    );
    const asset = http.Metadata['aws:asset:path'] as string;
    // The function reads /var/task/config.json in Lambda; here, the same file from the asset.
    const response = await askAssetForPostgresToken(join(out, asset), join(out, asset, 'config.json'));
    expect(response.statusCode, response.body).toBe(200);
    expect(fx.emulator.validatePostgresToken(JSON.parse(response.body).token)).toBeDefined();
  });
});
