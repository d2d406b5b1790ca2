import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP server of the dev stack (emulator, gateway, STS), listening on 127.0.0.1 and never another
 * interface. A subclass answers requests (`handle`) and says how its service reports a crash
 * (`crashed`, called only before any header went out).
 *
 * @example
 * ```ts
 * class Echo extends LoopbackServer {
 *   constructor() { super(0, 1000); }
 *   protected async handle(req, res) { res.end('ok'); }
 *   protected crashed(res) { res.writeHead(500).end(); }
 * }
 * const url = (await new Echo().listen()).url; // 'http://127.0.0.1:49152'
 * ```
 */
export abstract class LoopbackServer {
  readonly #server: Server;
  readonly #port: number;
  #url = '';

  /** `port` 0 picks a free one. */
  protected constructor(port: number, keepAliveTimeout: number) {
    this.#port = port;
    this.#server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) this.crashed(res, error);
      });
    });
    this.#server.keepAliveTimeout = keepAliveTimeout;
  }

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  protected abstract crashed(res: ServerResponse, error: unknown): void;

  /** Base URL, e.g. `http://127.0.0.1:49152` (empty until `listen`). */
  get url(): string {
    return this.#url;
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  /** Close now: open keep-alive connections too, so a test's server never lingers. */
  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * A request body of at most `maxBytes`, or undefined past it (a declared `Content-Length` over the limit
 * is not read at all; a longer stream is drained, not kept).
 */
export function readBoundedBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) {
    req.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > maxBytes ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
