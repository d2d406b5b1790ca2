import { timingSafeEqual } from 'node:crypto';
import { type AddressInfo, createServer, type Socket } from 'node:net';

/**
 * How the local PostgreSQL checks a password: as Snowflake Postgres checks a token. A role has one
 * password in PostgreSQL, but Snowflake accepts every token it issued for a user until that token
 * expires (two connections, or a token refreshed while the old one is still in a pool). So the local
 * cluster authenticates TCP logins with `ldap` (simple bind) against this server, which answers a bind
 * of `cn=<user>,dc=token-vendor` with success exactly when the password is a live token of that user.
 *
 * It speaks the one exchange PostgreSQL's LDAP client makes in simple-bind mode: BindRequest →
 * BindResponse, then UnbindRequest. Anything else closes the connection. Loopback only.
 */
export interface TokenLdap {
  readonly port: number;
  /** The `pg_hba.conf` options that point PostgreSQL's `ldap` method here. */
  readonly hbaOptions: string;
  /** A token the vendor issued for `username`, valid until `expiresAt`. */
  accept(username: string, token: string, expiresAt: Date): void;
  close(): Promise<void>;
}

const SUFFIX = ',dc=token-vendor';
const RESULT_SUCCESS = 0;
const RESULT_INVALID_CREDENTIALS = 49;
const RESULT_PROTOCOL_ERROR = 2;
/** A bind is small; anything larger is not PostgreSQL's. */
const MAX_MESSAGE = 16 * 1024;

export async function startTokenLdap(now: () => number = Date.now): Promise<TokenLdap> {
  const live = new Map<string, Map<string, number>>();
  const valid = (username: string, password: Buffer) => {
    const tokens = live.get(username);
    if (!tokens) return false;
    let ok = false;
    for (const [token, expiresAt] of tokens) {
      if (expiresAt <= now()) {
        tokens.delete(token);
        continue;
      }
      const candidate = Buffer.from(token);
      if (candidate.length === password.length && timingSafeEqual(candidate, password)) ok = true;
    }
    return ok;
  };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setTimeout(10_000, () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length > MAX_MESSAGE) return socket.destroy();
      for (;;) {
        const message = readTlv(buffered, 0);
        if (!message) return; // wait for the rest
        buffered = buffered.subarray(message.end);
        const answer = handle(message.value, valid);
        if (answer === 'close') return socket.end();
        socket.write(answer);
      }
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    hbaOptions: `ldapserver=127.0.0.1 ldapport=${port} ldapprefix="cn=" ldapsuffix="${SUFFIX}"`,
    accept: (username, token, expiresAt) => {
      let tokens = live.get(username);
      if (!tokens) {
        tokens = new Map();
        live.set(username, tokens);
      }
      tokens.set(token, expiresAt.getTime());
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One LDAPMessage (the SEQUENCE's content): a BindResponse to send, or `close`. */
function handle(message: Buffer, valid: (user: string, password: Buffer) => boolean): Buffer | 'close' {
  const id = readTlv(message, 0);
  if (id?.tag !== 0x02 || id.value.length > 4) return 'close';
  const op = readTlv(message, id.end);
  if (!op) return 'close';
  if (op.tag !== 0x60) return 'close'; // UnbindRequest (0x42) or anything else: done
  const version = readTlv(op.value, 0);
  const name = version && readTlv(op.value, version.end);
  const auth = name && readTlv(op.value, name.end);
  if (!version || !name || name.tag !== 0x04 || !auth) return bindResponse(id.value, RESULT_PROTOCOL_ERROR);
  if (auth.tag !== 0x80) return bindResponse(id.value, RESULT_INVALID_CREDENTIALS); // simple bind only
  const dn = name.value.toString('utf8');
  const user = /^cn=([^,]+),dc=token-vendor$/.exec(dn)?.[1];
  const ok = user !== undefined && auth.value.length > 0 && valid(user, auth.value);
  return bindResponse(id.value, ok ? RESULT_SUCCESS : RESULT_INVALID_CREDENTIALS);
}

function bindResponse(messageId: Buffer, resultCode: number): Buffer {
  const body = Buffer.concat([
    tlv(0x0a, Buffer.from([resultCode])),
    tlv(0x04, Buffer.alloc(0)),
    tlv(0x04, Buffer.alloc(0)),
  ]);
  return tlv(0x30, Buffer.concat([tlv(0x02, messageId), tlv(0x61, body)]));
}

function tlv(tag: number, value: Buffer): Buffer {
  const n = value.length;
  const length =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, value]);
}

/** A BER tag-length-value at `at`, or undefined while it is incomplete. */
function readTlv(data: Buffer, at: number): { tag: number; value: Buffer; end: number } | undefined {
  if (data.length < at + 2) return undefined;
  const tag = data[at]!;
  let length = data[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 3 || data.length < start + bytes) return undefined; // too long ends at MAX_MESSAGE
    length = 0;
    for (let i = 0; i < bytes; i += 1) length = (length << 8) | data[start + i]!;
    start += bytes;
  }
  if (data.length < start + length) return undefined;
  return { tag, value: data.subarray(start, start + length), end: start + length };
}
