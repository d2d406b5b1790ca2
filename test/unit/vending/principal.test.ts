import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { callerMatchesGrant, parsePrincipal } from '../../../lambda/vending/principal';

describe('parsePrincipal', () => {
  it.each([
    [
      'arn:aws:sts::111122223333:assumed-role/etl/run-1',
      { kind: 'assumed-role', account: '111122223333', name: 'etl', session: 'run-1' },
    ],
    ['arn:aws:iam::111122223333:role/a/b/etl', { kind: 'role', path: '/a/b/', name: 'etl' }],
    ['arn:aws:iam::111122223333:role/etl', { kind: 'role', path: '/', name: 'etl' }],
    ['arn:aws:iam::111122223333:user/ops/bob', { kind: 'user', path: '/ops/', name: 'bob' }],
    ['arn:aws-us-gov:iam::111122223333:user/bob', { kind: 'user', partition: 'aws-us-gov' }],
  ])('parses %s', (arn, expected) => {
    expect(parsePrincipal(arn)).toMatchObject(expected);
  });

  it.each([
    'arn:aws:iam::111122223333:root',
    'arn:aws:sts::111122223333:federated-user/bob',
    'arn:aws:iam::1111:role/x',
    '',
    'role/etl',
  ])('does not parse %s', (arn) => {
    expect(parsePrincipal(arn)).toBeUndefined();
  });

  it('never throws and never matches a grant for arbitrary input (fuzz)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (arn) => {
        expect(() => parsePrincipal(arn)).not.toThrow();
        expect(callerMatchesGrant(arn, 'arn:aws:iam::111122223333:role/etl')).toBe(
          arn === 'arn:aws:iam::111122223333:role/etl',
        );
      }),
      { numRuns: 3000 },
    );
  });

  it('matches any session of the granted role and nothing with an altered name (fuzz)', () => {
    const name = fc.stringMatching(/^[\w+=,.@-]{1,32}$/);
    fc.assert(
      fc.property(name, name, name, (role, session, other) => {
        const grant = `arn:aws:iam::111122223333:role/some/path/${role}`;
        expect(callerMatchesGrant(`arn:aws:sts::111122223333:assumed-role/${role}/${session}`, grant)).toBe(
          true,
        );
        expect(callerMatchesGrant(`arn:aws:sts::111122223333:assumed-role/${other}/${session}`, grant)).toBe(
          other === role,
        );
      }),
    );
  });
});
