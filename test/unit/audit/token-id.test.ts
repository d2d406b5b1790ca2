import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tokenId } from '../../../lambda/audit/token-id';

describe('tokenId', () => {
  it('is tid_ + the first 24 hex digits of SHA-256, and stable', () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.payload.signature';
    const hex = createHash('sha256').update(token).digest('hex');
    expect(tokenId(token)).toBe(`tid_${hex.slice(0, 24)}`);
    expect(tokenId(token)).toBe(tokenId(token));
  });

  it('never contains the token and differs for different tokens', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 8 }), fc.string({ minLength: 8 }), (a, b) => {
        expect(tokenId(a)).not.toContain(a);
        if (a !== b) expect(tokenId(a)).not.toBe(tokenId(b));
      }),
    );
  });
});
