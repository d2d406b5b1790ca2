import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Holds what the code under test writes to stdout/stderr (shown only for a failed test) and removes
    // the temp directories (and test keys) each test file created.
    setupFiles: ['test/support/setup.ts'],
    // Fails the run when it leaves any of this project's directories in the system temp folder.
    globalSetup: ['test/support/global-setup.ts'],
    // Console output of passing tests is not printed: a green run shows only vitest's report.
    silent: 'passed-only',
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Tests spawn openssl, the CLI and HTTP servers; two workers match the 2-core machine. Worker threads
    // start faster than forked processes (the suite took 70 s with forks, 62 s with threads).
    pool: 'threads',
    // Test files share a worker's module cache instead of re-importing the AWS SDK, CDK and zod for each
    // file (62 s isolated, 42 s shared); the files keep no module state between them that matters (a
    // test that needs fresh modules calls vi.resetModules()).
    isolate: false,
    maxWorkers: 2,
    // In CI, also write machine-readable results; .ci/run prints them as one closing summary line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: '.ci/results.json' },
  },
});
