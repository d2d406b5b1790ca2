import type { AddressInfo } from 'node:net';

/**
 * Warm Node's fetch engine during init: its first request loads undici's client, connection and
 * parser code (≈ 30 ms on Node 22), which would otherwise land on the first vend. One request to a
 * throw-away server on the loopback interface does it without touching the network. The server is a
 * raw TCP socket answering one fixed HTTP response: `node:http` alone costs ≈ 40 ms to load.
 *
 * @example
 * ```ts
 * await warmFetch(); // at init, outside the handler
 * ```
 */
export async function warmFetch(): Promise<void> {
  // Loaded here, at init, not with the module: a cold import should not pay for it (≈ 5 ms).
  const { createServer } = await import('node:net');
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () =>
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok'),
    );
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
  } catch {
    // A warm-up only: the first vend pays the cost instead.
  } finally {
    server.close();
  }
}
