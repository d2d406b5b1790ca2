import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readLiteral } from '../../../dev/emulator/sql-literal';
import { quoteLiteral } from '../../../lambda/snowflake/sql-literal';
import { VERSION } from '../../../lambda/version';

describe('quoteLiteral', () => {
  it.each([
    ["o'brien\\x", "'o''brien\\\\x'"],
    ['plain', "'plain'"],
    ["'", "''''"],
    ['\\', "'\\\\'"],
  ])('quotes %j as %s', (value, quoted) => {
    expect(quoteLiteral(value)).toBe(quoted);
  });

  it('round-trips through an independent Snowflake literal reader for any string (fuzz)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), (value) => {
        const quoted = quoteLiteral(value);
        expect(readLiteral(quoted, 0)).toEqual({ value, end: quoted.length });
      }),
      { numRuns: 3000 },
    );
  });
});

describe('VERSION', () => {
  it('matches package.json (it is the User-Agent version)', () => {
    expect(VERSION).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  });
});
