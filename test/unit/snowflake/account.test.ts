import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accountForJwt, parseAccountIdentifier } from '../../../lambda/snowflake/account';
import { AccountIdentifierError } from '../../../lambda/snowflake/errors';

describe('parseAccountIdentifier', () => {
  it.each([
    // input, account part, form, host prefix
    ['xy12345', 'XY12345', 'locator', 'xy12345'],
    ['XY12345', 'XY12345', 'locator', 'xy12345'],
    ['xy12345.us-east-2.aws', 'XY12345', 'locator-region', 'xy12345.us-east-2.aws'],
    ['xy12345.us-east-1', 'XY12345', 'locator-region', 'xy12345.us-east-1'],
    ['xy12345.us-east-1.privatelink', 'XY12345', 'locator-region', 'xy12345.us-east-1.privatelink'],
    ['xy12345.privatelink', 'XY12345', 'locator-region', 'xy12345.privatelink'],
    ['xy12345.east-us-2.azure', 'XY12345', 'locator-region', 'xy12345.east-us-2.azure'],
    ['xy12345.us-central1.gcp', 'XY12345', 'locator-region', 'xy12345.us-central1.gcp'],
    [
      'xy12345.us-gov-west-1.aws.privatelink',
      'XY12345',
      'locator-region',
      'xy12345.us-gov-west-1.aws.privatelink',
    ],
    ['myorg-myaccount', 'MYORG-MYACCOUNT', 'org-account', 'myorg-myaccount'],
    ['myorg-myaccount.privatelink', 'MYORG-MYACCOUNT', 'org-account', 'myorg-myaccount.privatelink'],
    ['myorg.myaccount', 'MYORG-MYACCOUNT', 'org.account', 'myorg-myaccount'],
    ['MyOrg.My_Account', 'MYORG-MY_ACCOUNT', 'org.account', 'myorg-my_account'],
    ['myorg-my_account', 'MYORG-MY_ACCOUNT', 'org-account', 'myorg-my_account'],
    ['xy12345-abcdefgh.global', 'XY12345', 'global', 'xy12345-abcdefgh.global'],
    ['myorg-myaccount-abcdefgh.global', 'MYORG-MYACCOUNT', 'global', 'myorg-myaccount-abcdefgh.global'],
    ['xy12345.us-east-2.aws.snowflakecomputing.com', 'XY12345', 'locator-region', 'xy12345.us-east-2.aws'],
    ['myorg-myaccount.snowflakecomputing.com', 'MYORG-MYACCOUNT', 'org-account', 'myorg-myaccount'],
    [
      'myorg-myaccount.privatelink.snowflakecomputing.com',
      'MYORG-MYACCOUNT',
      'org-account',
      'myorg-myaccount.privatelink',
    ],
    [
      'https://xy12345.us-east-1.privatelink.snowflakecomputing.com/api/v2/statements',
      'XY12345',
      'locator-region',
      'xy12345.us-east-1.privatelink',
    ],
    ['https://MyOrg-MyAccount.snowflakecomputing.com', 'MYORG-MYACCOUNT', 'org-account', 'myorg-myaccount'],
    ['  xy12345  ', 'XY12345', 'locator', 'xy12345'],
  ])('%s → %s', (input, accountPart, form, hostPrefix) => {
    // Act
    const parsed = parseAccountIdentifier(input);
    // Assess
    expect(parsed).toMatchObject({ accountPart, form, hostPrefix });
    expect(accountForJwt(input)).toBe(accountPart);
  });

  it('marks host names and URLs as such', () => {
    expect(parseAccountIdentifier('myorg-myaccount.snowflakecomputing.com').fromHost).toBe(true);
    expect(parseAccountIdentifier('myorg-myaccount').fromHost).toBe(false);
  });

  it.each([
    ['', 'empty'],
    ['xy12345.aws', 'cloud without a region'],
    ['xy12345.us-east-2.oracle', 'unknown cloud'],
    ['myorg-myaccount.us-east-1', 'org-account followed by a region'],
    ['xy12345..aws', 'empty label'],
    ['xy 12345', 'space'],
    ['xy12345.global', 'global without a hash'],
    ['https://example.com', 'foreign host'],
    ['-myaccount', 'leading hyphen'],
    ['a.b.c', 'three labels that are not a region'],
    ['xy12345.privatelink.aws', 'privatelink before the cloud'],
    ["xy12345'; drop", 'quote'],
  ])('refuses %j (%s) with an error naming the accepted forms', (input) => {
    expect(() => parseAccountIdentifier(input)).toThrow(AccountIdentifierError);
    expect(() => parseAccountIdentifier(input)).toThrow(/Accepted forms: an account locator/);
  });

  it('never throws anything but AccountIdentifierError and never yields a period or lowercase (fuzz)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (input) => {
        try {
          const { accountPart } = parseAccountIdentifier(input);
          expect(accountPart).toMatch(/^[A-Z0-9_-]+$/);
        } catch (error) {
          expect(error).toBeInstanceOf(AccountIdentifierError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips any well-formed locator with a region and any org.account', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,15}$/);
    fc.assert(
      fc.property(
        name,
        name,
        fc.constantFrom('us-east-2.aws', 'eu-west-1', 'east-us-2.azure', 'us-central1.gcp'),
        (a, b, region) => {
          expect(accountForJwt(`${a}.${region}`)).toBe(a.toUpperCase());
          expect(accountForJwt(`${a}.${b}`)).toBe(`${a}-${b}`.toUpperCase());
        },
      ),
    );
  });
});
