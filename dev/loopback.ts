import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Listen on 127.0.0.1 (never another interface) and return the base URL; port 0 picks a free one.
 * The dev servers (emulator, gateway, STS) all start this way.
 *
 * @example
 * ```ts
 * this.#url = await listenOnLoopback(this.#server, 0); // 'http://127.0.0.1:49152'
 * ```
 */
export async function listenOnLoopback(server: Server, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Close the server now: open keep-alive connections too, so a test's server never lingers. */
export async function closeNow(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
