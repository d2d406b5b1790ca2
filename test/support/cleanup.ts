import { afterAll } from 'vitest';
import { removeTempDirs } from './keys';

// Registered before each test file's own hooks, so it runs after them (vitest runs after-hooks as a
// stack): servers a file started are closed before the directories they used are removed.
afterAll(() => {
  removeTempDirs();
});
