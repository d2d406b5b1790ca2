import { describe, expect, it } from 'vitest';
import { TokenCache } from '../../../lambda/vending/cache';

const token = (expiresAt: number, id = 't') => ({ id, expiresAt: new Date(expiresAt) });

describe('TokenCache', () => {
  it('coalesces concurrent misses into one mint and serves hits afterwards', async () => {
    // Prepare
    let mints = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const cache = new TokenCache({ now: () => 0 });
    const mint = async () => {
      mints += 1;
      await gate;
      return token(900_000);
    };
    // Act
    const pending = Array.from({ length: 50 }, () => cache.get('k', 600_000, mint));
    release();
    const results = await Promise.all(pending);
    const later = await cache.get('k', 600_000, mint);
    // Assess
    expect(mints).toBe(1);
    expect(results.map((r) => r.cache).sort()).toEqual(['miss', ...Array(49).fill('coalesced')].sort());
    expect(later.cache).toBe('hit');
  });

  it('serves a token only while the minimum remains, then mints again', async () => {
    let now = 0;
    let n = 0;
    const cache = new TokenCache({ now: () => now });
    const mint = async () => token(now + 900_000, `t${++n}`);
    expect((await cache.get('k', 600_000, mint)).value.id).toBe('t1');
    now = 300_000; // exactly 600 s left: still served
    expect((await cache.get('k', 600_000, mint)).value.id).toBe('t1');
    now = 300_001;
    expect((await cache.get('k', 600_000, mint)).value.id).toBe('t2');
  });

  it('does not cache a failed mint, and every waiter sees the failure', async () => {
    const cache = new TokenCache({ now: () => 0 });
    let calls = 0;
    const failing = async () => {
      calls += 1;
      throw new Error('boom');
    };
    const results = await Promise.allSettled([cache.get('k', 0, failing), cache.get('k', 0, failing)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    const ok = await cache.get('k', 0, async () => token(1000));
    expect(ok.cache).toBe('miss');
  });

  it('evicts the least recently used entry beyond maxEntries', async () => {
    const cache = new TokenCache({ now: () => 0, maxEntries: 2 });
    const mint = (id: string) => async () => token(1_000_000, id);
    await cache.get('a', 0, mint('a'));
    await cache.get('b', 0, mint('b'));
    await cache.get('a', 0, mint('a2')); // touch a
    await cache.get('c', 0, mint('c')); // evicts b
    expect(cache.size).toBe(2);
    expect((await cache.get('a', 0, mint('a3'))).cache).toBe('hit');
    expect((await cache.get('b', 0, mint('b2'))).cache).toBe('miss');
  });

  it('stores nothing when disabled, yet still coalesces', async () => {
    const cache = new TokenCache({ now: () => 0, enabled: false });
    let mints = 0;
    const mint = async () => {
      mints += 1;
      return token(1_000_000);
    };
    await Promise.all([cache.get('k', 0, mint), cache.get('k', 0, mint)]);
    await cache.get('k', 0, mint);
    expect(mints).toBe(2);
  });
});
