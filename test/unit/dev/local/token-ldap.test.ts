import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokenLdap, type TokenLdap } from '../../../../dev/local/token-ldap';

/** BER: tag, definite length (short or long form), value. */
function tlv(tag: number, value: Buffer): Buffer {
  const n = value.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), value]);
}
/** An LDAPv3 simple BindRequest, as PostgreSQL's libldap sends it. */
function bindRequest(id: number, dn: string, password: string): Buffer {
  const bind = Buffer.concat([
    tlv(0x02, Buffer.from([3])),
    tlv(0x04, Buffer.from(dn)),
    tlv(0x80, Buffer.from(password)),
  ]);
  return tlv(0x30, Buffer.concat([tlv(0x02, Buffer.from([id])), tlv(0x60, bind)]));
}
/** Send bytes, collect what comes back until the server closes or answers. */
function exchange(port: number, bytes: Buffer): Promise<{ answer: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk]);
      socket.end();
    });
    socket.on('close', () => resolve({ answer, closed: true }));
    socket.write(bytes);
    setTimeout(() => socket.end(), 500);
  });
}
/** The resultCode of a BindResponse: 30 L 02 01 id 61 L 0a 01 code … */
const resultOf = (answer: Buffer) => {
  const at = answer.indexOf(Buffer.from([0x0a, 0x01]));
  return at < 0 ? undefined : answer[at + 2];
};

describe('the local database’s password check (LDAP simple bind against live tokens)', () => {
  let ldap: TokenLdap;
  let clock = Date.now();
  const token = `sfpg.${'x'.repeat(300)}`; // longer than one length byte: the long form
  beforeAll(async () => {
    ldap = await startTokenLdap(() => clock);
    ldap.accept('reporting_user', token, new Date(clock + 900_000));
  });
  afterAll(() => ldap.close());

  it('binds a live token of the user (0), refuses another user, another password, or none (49)', async () => {
    const dn = (user: string) => `cn=${user},dc=token-vendor`;
    expect(resultOf((await exchange(ldap.port, bindRequest(1, dn('reporting_user'), token))).answer)).toBe(0);
    expect(resultOf((await exchange(ldap.port, bindRequest(2, dn('etl_user'), token))).answer)).toBe(49);
    expect(
      resultOf((await exchange(ldap.port, bindRequest(3, dn('reporting_user'), `${token}y`))).answer),
    ).toBe(49);
    expect(resultOf((await exchange(ldap.port, bindRequest(4, dn('reporting_user'), ''))).answer)).toBe(49);
    expect(
      resultOf((await exchange(ldap.port, bindRequest(5, 'cn=reporting_user,dc=other', token))).answer),
    ).toBe(49);
  });

  it('refuses the token once it has expired', async () => {
    clock += 900_001;
    const dn = 'cn=reporting_user,dc=token-vendor';
    expect(resultOf((await exchange(ldap.port, bindRequest(6, dn, token))).answer)).toBe(49);
    clock -= 900_001;
  });

  it('closes on garbage, an oversized length or another operation, and keeps serving', async () => {
    for (const garbage of [
      Buffer.from('GET / HTTP/1.1\r\n\r\n'),
      Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
      tlv(0x30, Buffer.concat([tlv(0x02, Buffer.from([7])), tlv(0x63, Buffer.from('search'))])),
    ]) {
      const { answer, closed } = await exchange(ldap.port, garbage);
      expect(closed).toBe(true);
      expect(resultOf(answer)).toBeUndefined();
    }
    ldap.accept('reporting_user', token, new Date(clock + 900_000));
    const ok = await exchange(ldap.port, bindRequest(8, 'cn=reporting_user,dc=token-vendor', token));
    expect(resultOf(ok.answer)).toBe(0);
  });
});
