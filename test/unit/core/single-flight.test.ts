import { describe, expect, it } from 'vitest';
import { DeadlineExceededError, SingleFlight } from '../../../lambda/single-flight';

describe('SingleFlight', () => {
  it('runs one call per key for concurrent callers; other keys run their own', async () => {
    const flights = new SingleFlight<string, number>();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const call = async () => {
      calls += 1;
      await gate;
      return calls;
    };
    const all = Promise.all([
      flights.run('a', call),
      flights.run('a', call),
      flights.run('a', call),
      flights.run('b', call),
    ]);
    release();
    const results = await all;
    expect(calls).toBe(2);
    expect(results.map((r) => r.joined)).toEqual([false, true, true, false]);
    expect(new Set(results.slice(0, 3).map((r) => r.value)).size).toBe(1);
    expect(flights.size).toBe(0);
  });

  it('does not cache errors: every joined caller sees the failure, the next caller tries again', async () => {
    const flights = new SingleFlight<string, string>();
    let calls = 0;
    const failing = async () => {
      calls += 1;
      throw new Error('boom');
    };
    const [a, b] = await Promise.allSettled([flights.run('k', failing), flights.run('k', failing)]);
    expect([a.status, b.status]).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    expect((await flights.run('k', async () => 'ok')).value).toBe('ok');
  });

  it("bounds a joined caller's wait by its own deadline without cancelling the shared call", async () => {
    const flights = new SingleFlight<string, string>();
    const slow = new Promise<string>((r) => setTimeout(() => r('late'), 100));
    const first = flights.run('k', () => slow);
    const joined = flights.run('k', () => slow, { deadline: Date.now() + 10 });
    await expect(joined).rejects.toBeInstanceOf(DeadlineExceededError);
    expect((await first).value).toBe('late');
  });

  it('forget lets the next caller start a fresh call while the old one settles', async () => {
    const flights = new SingleFlight<string, number>();
    let n = 0;
    const call = () => new Promise<number>((r) => setTimeout(() => r(++n), 5));
    const first = flights.run('k', call);
    flights.forget('k');
    const second = await flights.run('k', call);
    expect(second.joined).toBe(false);
    expect((await first).value).not.toBe(second.value);
  });
});
