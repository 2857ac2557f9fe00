import type net from 'node:net';

/**
 * Starts listening and resolves with the bound address (the real port when `port` is 0);
 * rejects with the listen error (EADDRINUSE, EACCES) instead of emitting it. Used by the MySQL
 * port, the admin port and the HTTP endpoint.
 */
export function listenOn(server: net.Server, host: string, port: number): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address() as net.AddressInfo;
      resolve({ host: addr.address, port: addr.port });
    });
  });
}
