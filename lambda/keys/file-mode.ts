/**
 * Why a secret-bearing local file (a private key, a credentials file) must not be used, or undefined
 * when it is private to its owner: any group or other permission bit is refused, with the command that
 * fixes it, as OpenSSH refuses an unprotected private key. Not checked on Windows (no POSIX modes).
 *
 * @example
 * ```ts
 * unprotected('rsa_key.p8', 0o100644); // 'Permissions 0644 for rsa_key.p8 are too open …; run: chmod 600 rsa_key.p8'
 * ```
 */
export function unprotected(path: string, mode: number, platform = process.platform): string | undefined {
  if (platform === 'win32' || (mode & 0o077) === 0) return undefined;
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  const shell = /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
  return `Permissions ${octal} for ${path} are too open: other users could read it. Run: chmod 600 ${shell}`;
}
