import { afterAll, afterEach, beforeEach } from 'vitest';
import { removeTempDirs } from './keys';

// A vitest setup file, run in each test file before its own hooks.

// Quiet green runs: what the code under test writes straight to stdout/stderr (Powertools Logger and EMF
// lines, the local stack's audit lines) is held per test and shown only when that test fails. Console
// calls are vitest's own (`silent: 'passed-only'` in vitest.config.ts). A test that captures output
// itself (the leak test) replaces these writers and restores them afterwards.
const held: string[] = [];
const realOut = process.stdout.write.bind(process.stdout);
const realErr = process.stderr.write.bind(process.stderr);
const hold = (chunk: unknown, encoding?: unknown, callback?: unknown) => {
  held.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
  const done = typeof encoding === 'function' ? encoding : callback;
  if (typeof done === 'function') done();
  return true;
};
process.stdout.write = hold as typeof process.stdout.write;
process.stderr.write = hold as typeof process.stderr.write;

beforeEach(() => {
  held.length = 0;
});
afterEach((context) => {
  if (context.task.result?.state === 'fail' && held.length > 0) realErr(held.join(''));
  held.length = 0;
});

// Registered before each test file's own hooks, so it runs after them (vitest runs after-hooks as a
// stack): servers a file started are closed before the directories they used are removed.
afterAll(() => {
  removeTempDirs();
  process.stdout.write = realOut;
  process.stderr.write = realErr;
});
