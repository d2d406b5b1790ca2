/** An OAuth access token from an integration's token endpoint. */
export interface OAuthAccessToken {
  readonly token: string;
  readonly scopes: readonly string[];
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

/** Obtains an access token for a configured integration and scopes, within a deadline (epoch ms). */
export type OAuthTokenSource = (
  integration: string,
  scopes: readonly string[],
  deadline: number,
) => Promise<OAuthAccessToken>;
