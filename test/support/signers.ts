import type { KeyObject } from 'node:crypto';
import { localSigningKey } from '../../lambda/keys/private-key';
import type { Signer } from '../../lambda/keys/signer';

/**
 * A Signer over a key held in memory, counting reads and refreshes so tests can assert on them.
 *
 * @example
 * ```ts
 * const signer = memorySigner(pair.privateKey);
 * ```
 */
export function memorySigner(
  privateKey: KeyObject,
  version = 'memory:v1',
): Signer & { reads: number; refreshes: number; swap(k: KeyObject): void } {
  let key = localSigningKey(privateKey, version);
  return {
    source: 'memory:test',
    reads: 0,
    refreshes: 0,
    async currentKey() {
      this.reads += 1;
      return key;
    },
    refresh() {
      this.refreshes += 1;
    },
    swap(next: KeyObject) {
      key = localSigningKey(next, `${version}+`);
    },
  };
}
