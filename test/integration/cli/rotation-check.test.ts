import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli';
import { type EmulatorFixture, emulatorFixture, fixtureConfig } from '../../support/emulator';
import { rsaKeyPair, writeTempFile } from '../../support/keys';

describe('token-vendor rotation-check', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await emulatorFixture();
  });
  afterAll(() => fx.emulator.close());

  const configFile = (pem: string) =>
    writeTempFile('config.json', JSON.stringify(fixtureConfig(fx, { pem })));

  it('reports OK as JSON and exits 0 when the key is registered', async () => {
    const result = await runCli(['rotation-check', '--config', configFile(fx.key.pkcs8Pem), '--json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      checkedAt: expect.any(String),
      connections: [{ connection: 'demo', status: 'OK', slot: 1, ageDays: 0 }],
    });
  });

  it('exits 1 with NOT_REGISTERED for an unregistered key, one line per connection without --json', async () => {
    const result = await runCli(['rotation-check', '--config', configFile(rsaKeyPair().pkcs8Pem)]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^demo\tNOT_REGISTERED\t.*SHA256:/);
  });

  it('exits 2 for a config that fails validation', async () => {
    const result = await runCli([
      'rotation-check',
      '--config',
      writeTempFile('bad.json', '{"connections": {}}'),
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/CONFIG_INVALID.*connections/);
  });
});
