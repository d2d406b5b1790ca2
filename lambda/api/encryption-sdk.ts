import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The AWS Encryption SDK's message format (version 2), written and read with `node:crypto` so the direct
 * function pays nothing at cold start for it: sealing with the SDK's own encrypt path (encrypt-node and the
 * KMS keyring) adds about 110 ms to its cold import (`npm run bench`, cold-start). Consumers open it with a
 * maintained library in their own language: the Encryption SDK for Python, Java, C, .NET, JavaScript, or
 * its CLI, with a KMS keyring (or master key provider) naming the envelope key.
 *
 * What is written: algorithm suite 0x0478 (AES-256-GCM, HKDF-SHA512 key derivation, key commitment),
 * one encrypted data key from provider `aws-kms` (info: the key ARN), framed content (4,096-byte frames).
 * The encryption context is the header's AAD and, through the keyring, KMS's encryption context.
 *
 * No signature (suite 0x0578 would add ECDSA P-384): a signature stops a reader of the data key, that is
 * a consumer allowed `kms:Decrypt`, from writing another message under the same data key that other
 * readers accept. Such a message could only carry a token its writer made up, which opens nothing in
 * Snowflake; a real token needs a data key from `kms:GenerateDataKey`, which only the direct function may
 * call on the envelope key. Signing would cost an ECDSA key pair per sealed token.
 */
export const ENCRYPTION_SDK_ALGORITHM = 'aws-encryption-sdk';

/** A token the direct path returns sealed: an Encryption SDK message, and what a consumer needs to open it. */
export interface SealedToken {
  /** Base64 of the Encryption SDK message (format version 2, suite 0x0478, one `aws-kms` data key). */
  readonly encryptedToken: string;
  readonly envelopeAlgorithm: typeof ENCRYPTION_SDK_ALGORITHM;
  /** The envelope key's ARN: the consumer's KMS keyring (or master key provider) names it. */
  readonly encryptionKeyId: string;
  /** The message's encryption context (authenticated): the token's type, its one-way id and the request. */
  readonly encryptionContext: Readonly<Record<string, string>>;
}
const SUITE_ID = 0x0478;
const FRAME_LENGTH = 4096;
const PROVIDER_ID = 'aws-kms';

const u8 = (n: number) => Buffer.from([n]);
const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
/** A length-prefixed field (2-byte length); the format caps every such field at 65,535 bytes. */
const field = (value: Buffer) => {
  if (value.length > 0xffff)
    throw new RangeError('An Encryption SDK header field is longer than 65,535 bytes.');
  return Buffer.concat([u16(value.length), value]);
};

/** The encryption context as the header serializes it: pairs sorted by their keys' UTF-8 bytes. */
function serializeContext(context: Record<string, string>): Buffer {
  const pairs = Object.entries(context).map(
    ([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const,
  );
  if (pairs.length === 0) return Buffer.alloc(0);
  pairs.sort(([a], [b]) => Buffer.compare(a, b));
  return Buffer.concat([u16(pairs.length), ...pairs.flatMap(([k, v]) => [field(k), field(v)])]);
}

/** The suite's content key and key commitment (HKDF-SHA512, salted with the message id). */
function deriveKeys(dataKey: Uint8Array, messageId: Buffer): { key: Buffer; commitKey: Buffer } {
  return {
    key: Buffer.from(
      hkdfSync('sha512', dataKey, messageId, Buffer.concat([u16(SUITE_ID), Buffer.from('DERIVEKEY')]), 32),
    ),
    commitKey: Buffer.from(hkdfSync('sha512', dataKey, messageId, Buffer.from('COMMITKEY'), 32)),
  };
}

/** The additional data of a body frame: message id, frame label, sequence number, content length. */
const frameAad = (messageId: Buffer, final: boolean, seq: number, length: number) =>
  Buffer.concat([
    messageId,
    Buffer.from(final ? 'AWSKMSEncryptionClient Final Frame' : 'AWSKMSEncryptionClient Frame'),
    u32(seq),
    u64(length),
  ]);

/**
 * Seal `plaintext` as an Encryption SDK message under a KMS data key the caller generated with the same
 * encryption context (`kms:GenerateDataKey`, AES-256; `keyArn` is the key's ARN as KMS returned it).
 *
 * @example
 * ```ts
 * const message = sealEncryptionSdkMessage(Plaintext, CiphertextBlob, KeyId, Buffer.from(token), context);
 * ```
 */
export function sealEncryptionSdkMessage(
  dataKey: Uint8Array,
  encryptedDataKey: Uint8Array,
  keyArn: string,
  plaintext: Buffer,
  context: Record<string, string>,
): Buffer {
  if (dataKey.length !== 32) throw new RangeError('The data key must be 32 bytes (AES-256).');
  const messageId = randomBytes(32);
  const { key, commitKey } = deriveKeys(dataKey, messageId);
  try {
    const aad = serializeContext(context);
    const header = Buffer.concat([
      u8(0x02),
      u16(SUITE_ID),
      messageId,
      field(aad),
      u16(1),
      field(Buffer.from(PROVIDER_ID)),
      field(Buffer.from(keyArn, 'utf8')),
      field(Buffer.from(encryptedDataKey)),
      u8(0x02), // framed
      u32(FRAME_LENGTH),
      commitKey,
    ]);
    // Header authentication (v2): a GCM tag over the header, nonce all zeros, nothing encrypted
    const headerAuth = createCipheriv('aes-256-gcm', key, Buffer.alloc(12)).setAAD(header);
    headerAuth.final();
    const parts: Buffer[] = [header, headerAuth.getAuthTag()];
    const frames = Math.max(1, Math.ceil(plaintext.length / FRAME_LENGTH));
    for (let seq = 1; seq <= frames; seq++) {
      const chunk = plaintext.subarray((seq - 1) * FRAME_LENGTH, seq * FRAME_LENGTH);
      const final = seq === frames;
      const iv = Buffer.concat([Buffer.alloc(8), u32(seq)]);
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(
        frameAad(messageId, final, seq, chunk.length),
      );
      const sealed = Buffer.concat([cipher.update(chunk), cipher.final()]);
      parts.push(
        ...(final ? [u32(0xffffffff), u32(seq), iv, u32(sealed.length)] : [u32(seq), iv]),
        sealed,
        cipher.getAuthTag(),
      );
    }
    return Buffer.concat(parts);
  } finally {
    key.fill(0);
    commitKey.fill(0);
  }
}

/** Why a message did not open; `EncryptionSdkError.reason` is one of these. */
export type EncryptionSdkFailure =
  | 'malformed'
  | 'unsupported'
  | 'too-large'
  | 'wrong-key'
  | 'context-mismatch'
  | 'altered';

/** A sealed message that does not open: not this format, not this key, or altered. Says nothing secret. */
export class EncryptionSdkError extends Error {
  readonly reason: EncryptionSdkFailure;

  constructor(reason: EncryptionSdkFailure, message: string) {
    super(message);
    this.name = 'EncryptionSdkError';
    this.reason = reason;
  }
}

/** The largest message opened: a token is a few KB; a larger "message" is not one of ours. */
export const MAX_ENCRYPTION_SDK_MESSAGE_BYTES = 256 * 1024;

/** Reads the message front to back; any read past its end is a malformed message. */
class Reader {
  #at = 0;
  constructor(readonly bytes: Buffer) {}
  get at(): number {
    return this.#at;
  }
  get left(): number {
    return this.bytes.length - this.#at;
  }
  take(n: number): Buffer {
    if (n > this.left) throw new EncryptionSdkError('malformed', 'The sealed message is truncated.');
    const out = this.bytes.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
  u8 = () => this.take(1).readUInt8(0);
  u16 = () => this.take(2).readUInt16BE(0);
  u32 = () => this.take(4).readUInt32BE(0);
  field = () => this.take(this.u16());
}

/** UTF-8 that round-trips: a string with an invalid sequence is not a context the vendor wrote. */
function utf8(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes))
    throw new EncryptionSdkError('malformed', 'The encryption context is not valid UTF-8.');
  return text;
}

function parseContext(aad: Buffer): Record<string, string> {
  const context: Record<string, string> = Object.create(null);
  if (aad.length === 0) return context;
  const r = new Reader(aad);
  const count = r.u16();
  if (count === 0)
    throw new EncryptionSdkError('malformed', 'An empty encryption context must have no pairs field.');
  for (let i = 0; i < count; i++) {
    const key = utf8(r.field());
    const value = utf8(r.field());
    if (Object.hasOwn(context, key))
      throw new EncryptionSdkError('malformed', 'The encryption context repeats a key.');
    context[key] = value;
  }
  if (r.left !== 0) throw new EncryptionSdkError('malformed', 'The encryption context has trailing bytes.');
  return { ...context };
}

/** Decrypts the data key with `kms:Decrypt` (key, context and ciphertext as the message holds them). */
export type DecryptDataKey = (input: {
  readonly keyArn: string;
  readonly encryptedDataKey: Uint8Array;
  readonly encryptionContext: Readonly<Record<string, string>>;
}) => Promise<Uint8Array>;

/**
 * Open an Encryption SDK message as the vendor writes it (suite 0x0478, one `aws-kms` data key), the
 * opening half of `sealEncryptionSdkMessage`. Strict, as the SDK's own decrypt with a strict KMS keyring
 * and `REQUIRE_ENCRYPT_REQUIRE_DECRYPT`: the data key must be for `expected.keyArn`, the key commitment,
 * header tag and every frame tag must verify, and no byte may follow the final frame. When
 * `expected.encryptionContext` is given, the message's (authenticated) context must equal it.
 *
 * @example
 * ```ts
 * const { plaintext } = await openEncryptionSdkMessage(message, decryptDataKey, { keyArn });
 * ```
 */
export async function openEncryptionSdkMessage(
  message: Buffer,
  decryptDataKey: DecryptDataKey,
  expected: { readonly keyArn: string; readonly encryptionContext?: Readonly<Record<string, string>> },
): Promise<{ plaintext: Buffer; encryptionContext: Record<string, string> }> {
  if (message.length > MAX_ENCRYPTION_SDK_MESSAGE_BYTES)
    throw new EncryptionSdkError(
      'too-large',
      'The sealed message is larger than any token the vendor seals.',
    );
  const r = new Reader(message);
  if (r.u8() !== 0x02)
    throw new EncryptionSdkError('unsupported', 'Only message format version 2 is opened.');
  if (r.u16() !== SUITE_ID)
    throw new EncryptionSdkError(
      'unsupported',
      'Only algorithm suite 0x0478 (AES-256-GCM, HKDF-SHA512, committing) is opened.',
    );
  const messageId = Buffer.from(r.take(32));
  const encryptionContext = parseContext(r.field());
  if (r.u16() !== 1)
    throw new EncryptionSdkError('unsupported', 'The message must carry exactly one encrypted data key.');
  const provider = r.field().toString('latin1');
  const keyArn = utf8(r.field());
  const encryptedDataKey = Buffer.from(r.field());
  if (provider !== PROVIDER_ID)
    throw new EncryptionSdkError('unsupported', 'The data key is not from aws-kms.');
  if (keyArn !== expected.keyArn)
    throw new EncryptionSdkError('wrong-key', `The data key is under ${keyArn}, not ${expected.keyArn}.`);
  if (r.u8() !== 0x02) throw new EncryptionSdkError('unsupported', 'Only framed content is opened.');
  const frameLength = r.u32();
  if (frameLength === 0) throw new EncryptionSdkError('malformed', 'The frame length is zero.');
  const commitment = r.take(32);
  const header = message.subarray(0, r.at);
  const headerTag = r.take(16);
  if (expected.encryptionContext) {
    const want = Object.entries(expected.encryptionContext).sort(([a], [b]) => (a < b ? -1 : 1));
    const got = Object.entries(encryptionContext).sort(([a], [b]) => (a < b ? -1 : 1));
    if (JSON.stringify(want) !== JSON.stringify(got))
      throw new EncryptionSdkError(
        'context-mismatch',
        'The message names another token than the answer beside it.',
      );
  }
  const dataKey = Buffer.from(await decryptDataKey({ keyArn, encryptedDataKey, encryptionContext }));
  if (dataKey.length !== 32)
    throw new EncryptionSdkError('altered', 'KMS returned a data key of the wrong size.');
  const { key, commitKey } = deriveKeys(dataKey, messageId);
  dataKey.fill(0);
  try {
    if (!timingSafeEqual(commitKey, commitment))
      throw new EncryptionSdkError('altered', 'The key commitment does not match: the message was altered.');
    const open = (iv: Buffer, aad: Buffer, sealed: Buffer, tag: Buffer) => {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv).setAAD(aad);
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(sealed), decipher.final()]);
      } catch {
        throw new EncryptionSdkError(
          'altered',
          'An authentication tag does not verify: the message was altered.',
        );
      }
    };
    open(Buffer.alloc(12), header, Buffer.alloc(0), headerTag);
    const parts: Buffer[] = [];
    for (let seq = 1; ; seq++) {
      const first = r.u32();
      const final = first === 0xffffffff;
      if ((final ? r.u32() : first) !== seq)
        throw new EncryptionSdkError('altered', 'The frames are out of order.');
      const iv = r.take(12);
      if (!iv.equals(Buffer.concat([Buffer.alloc(8), u32(seq)])))
        throw new EncryptionSdkError('altered', 'A frame has the wrong nonce.');
      const length = final ? r.u32() : frameLength;
      if (length > frameLength)
        throw new EncryptionSdkError('malformed', 'The final frame is longer than a frame.');
      const sealed = r.take(length);
      parts.push(open(iv, frameAad(messageId, final, seq, length), sealed, r.take(16)));
      if (final) break;
    }
    if (r.left !== 0) throw new EncryptionSdkError('malformed', 'Bytes follow the final frame.');
    return { plaintext: Buffer.concat(parts), encryptionContext };
  } finally {
    key.fill(0);
    commitKey.fill(0);
  }
}
