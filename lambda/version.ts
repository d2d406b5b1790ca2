/** The product version sent as `User-Agent: token-vendor/<version>` (kept equal to package.json by a test). */
export const VERSION = '0.1.0';
export const USER_AGENT = `token-vendor/${VERSION}`;
