import { describe, expect, it } from 'vitest';
import { isRetriableStatus, nextDelay, parseRetryAfter, retrying } from '../../../lambda/retry';

const policy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 250 };

describe('the retry policy', () => {
  it('waits a random fraction of the capped exponential step (full jitter)', () => {
    const at = (attempt: number, random: number) =>
      nextDelay(policy, { attempt, deadline: 1e12, now: 0, random: () => random });
    expect(at(1, 1)).toEqual({ delayMs: 100 });
    expect(at(2, 1)).toEqual({ delayMs: 200 });
    expect(at(3, 1)).toEqual({ delayMs: 250 });
    expect(at(2, 0.5)).toEqual({ delayMs: 100 });
    expect(at(4, 1)).toEqual({ giveUp: 'exhausted' });
  });

  it('honours Retry-After, and never waits past the deadline', () => {
    expect(
      nextDelay(policy, { attempt: 1, deadline: 10_000, now: 0, random: () => 1, retryAfterMs: 3000 }),
    ).toEqual({ delayMs: 3000 });
    expect(
      nextDelay(policy, { attempt: 1, deadline: 2000, now: 0, random: () => 1, retryAfterMs: 3000 }),
    ).toEqual({ giveUp: 'deadline' });
  });

  it('reads Retry-After as seconds or an HTTP date, and ignores junk', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter(new Date(5000).toUTCString(), 1000)).toBe(4000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(null, 0)).toBeUndefined();
  });

  it('retries throttling and server failures, not refusals', () => {
    expect([0, 429, 500, 502, 503, 504].every(isRetriableStatus)).toBe(true);
    expect([400, 401, 403, 404, 422].some(isRetriableStatus)).toBe(false);
  });

  it('retrying runs attempts until done, sleeping the decided delays', async () => {
    const slept: number[] = [];
    let calls = 0;
    const result = await retrying(async () => (++calls < 3 ? { retry: `fail ${calls}` } : { done: 'ok' }), {
      policy,
      deadline: Date.now() + 60_000,
      random: () => 1,
      sleep: async (ms) => void slept.push(ms),
      giveUp: (l) => new Error(l),
    });
    expect(result).toBe('ok');
    expect(slept).toEqual([100, 200]);
  });

  it('retrying gives up with the last failure once attempts run out, and stops at once on a throw', async () => {
    await expect(
      retrying(async (n) => ({ retry: `fail ${n}` }), {
        policy,
        deadline: Date.now() + 60_000,
        sleep: async () => {},
        giveUp: (last, why) => new Error(`${why}: ${last}`),
      }),
    ).rejects.toThrow('exhausted: fail 4');
    let calls = 0;
    await expect(
      retrying(
        async () => {
          calls += 1;
          throw new Error('refused');
        },
        { policy, deadline: Date.now() + 60_000, giveUp: () => new Error('x') },
      ),
    ).rejects.toThrow('refused');
    expect(calls).toBe(1);
  });
});
