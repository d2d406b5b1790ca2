import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { TokenVendor, type TokenVendorProps } from './token-vendor';

export interface TokenVendorStackProps extends StackProps, TokenVendorProps {}

/** The deployable app: one TokenVendor and its outputs. */
export class TokenVendorStack extends Stack {
  readonly vendor: TokenVendor;

  constructor(scope: Construct, id: string, props: TokenVendorStackProps) {
    super(scope, id, props);
    this.vendor = new TokenVendor(this, 'TokenVendor', props);
  }
}
