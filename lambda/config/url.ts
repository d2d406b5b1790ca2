/**
 * The one URL rule of the project (config, CLI flags, environment): `https://`, or plain `http://` only
 * to this machine (127.0.0.0/8, `localhost`, `[::1]`), because a signed JWT, a client secret or a SigV4
 * request sent in clear text to another host can be read on the way. Returns a reason, or undefined
 * when the URL is acceptable.
 *
 * @example
 * ```ts
 * urlProblem('http://10.0.0.5/api'); // 'must be an https:// URL (plain http is allowed only …)'
 * urlProblem('https://xy12345.snowflakecomputing.com'); // undefined
 * ```
 */
export function urlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.username || url.password) return 'must not carry credentials';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && isLoopback(url.hostname)) return undefined;
  return 'must be an https:// URL (plain http is allowed only for 127.0.0.1 / localhost)';
}

/** Is `hostname` (as `URL.hostname` spells it) this machine? */
export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}
