import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A KMS stand-in on 127.0.0.1 (the local stack's key for PAT leases, and the tests' KMS over HTTP) that
 * speaks KMS's own wire protocol (JSON 1.1, `X-Amz-Target:
 * TrentService.*`), so the real `KMSClient` — its HTTP handler, its timeouts, its retries — talks to it
 * over a socket. GenerateDataKey and Decrypt use real cryptography: a data key is wrapped under the
 * server's master key with the encryption context as associated data, so Decrypt under another context
 * fails as KMS fails (InvalidCiphertextException). `hang(true)` makes it accept every request and never
 * answer, as an endpoint that is up but stuck does.
 */
export interface KmsServer {
  readonly url: string;
  readonly calls: { generateDataKey: number; decrypt: number; hung: number };
  hang(value?: boolean): void;
  close(): Promise<void>;
}

export async function startKmsServer(masterKey: Buffer = randomBytes(32)): Promise<KmsServer> {
  const calls = { generateDataKey: 0, decrypt: 0, hung: 0 };
  let hanging = false;
  const aad = (context: Record<string, string> | undefined) =>
    Buffer.from(JSON.stringify(Object.entries(context ?? {}).sort()));
  const reply = (res: ServerResponse, status: number, body: unknown, errorType?: string) => {
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-requestid': randomBytes(8).toString('hex'),
      ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
    });
    res.end(JSON.stringify(body));
  };
  const handle = (req: IncomingMessage, res: ServerResponse, text: string) => {
    if (hanging) {
      calls.hung += 1;
      return; // never answer; the socket stays open until the client gives up or the server closes
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return reply(
        res,
        400,
        { __type: 'SerializationException', message: 'bad JSON' },
        'SerializationException',
      );
    }
    const context = input.EncryptionContext as Record<string, string> | undefined;
    if (target === 'TrentService.GenerateDataKey') {
      calls.generateDataKey += 1;
      const plaintext = randomBytes(32);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', masterKey, iv).setAAD(aad(context));
      const wrapped = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      return reply(res, 200, {
        CiphertextBlob: wrapped.toString('base64'),
        Plaintext: plaintext.toString('base64'),
        KeyId: input.KeyId,
      });
    }
    if (target === 'TrentService.Decrypt') {
      calls.decrypt += 1;
      const blob = Buffer.from(String(input.CiphertextBlob ?? ''), 'base64');
      try {
        const decipher = createDecipheriv('aes-256-gcm', masterKey, blob.subarray(0, 12)).setAAD(
          aad(context),
        );
        decipher.setAuthTag(blob.subarray(blob.length - 16));
        const plaintext = Buffer.concat([
          decipher.update(blob.subarray(12, blob.length - 16)),
          decipher.final(),
        ]);
        return reply(res, 200, {
          Plaintext: plaintext.toString('base64'),
          KeyId: input.KeyId,
          EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        });
      } catch {
        return reply(
          res,
          400,
          { __type: 'InvalidCiphertextException', message: '' },
          'InvalidCiphertextException',
        );
      }
    }
    return reply(res, 400, { __type: 'UnknownOperationException' }, 'UnknownOperationException');
  };
  const { url, close } = await listenOnLoopback(
    createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
    }),
  );
  return {
    url,
    calls,
    hang: (value = true) => {
      hanging = value;
    },
    close,
  };
}

/** `server` on a free loopback port; `close` drops the connections it holds (a hung one included). */
async function listenOnLoopback(server: Server): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * An endpoint that accepts connections and reads requests but never answers: an AWS endpoint that hangs
 * instead of failing. Closing it drops every connection it holds.
 */
export async function startHangingServer(): Promise<{
  url: string;
  requests: () => number;
  close(): Promise<void>;
}> {
  let requests = 0;
  const { url, close } = await listenOnLoopback(
    createServer(() => {
      requests += 1;
    }),
  );
  return { url, requests: () => requests, close };
}
