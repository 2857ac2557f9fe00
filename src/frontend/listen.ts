import type net from 'node:net';
import { ConfigError } from '../config/config-error.js';

/**
 * Starts listening and resolves with the bound address (the real port when `port` is 0);
 * rejects with the listen error (EADDRINUSE, EACCES) instead of emitting it. Used by the MySQL
 * port, the admin port and the HTTP endpoint.
 *
 * While listening, the promise is the only 'error' listener: the servers' own handlers
 * ("listener error", logged with a stack) are for failures after start-up, and a busy port at
 * start is reported once, by the caller, as a sentence (listenProblem).
 */
export function listenOn(server: net.Server, host: string, port: number): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    const standing = server.listeners('error') as ((err: Error) => void)[];
    server.removeAllListeners('error');
    const restore = (): void => {
      server.removeAllListeners('error');
      for (const l of standing) server.on('error', l);
    };
    server.once('error', (err) => {
      restore();
      reject(err);
    });
    server.listen(port, host, () => {
      restore();
      const addr = server.address() as net.AddressInfo;
      resolve({ host: addr.address, port: addr.port });
    });
  });
}

/**
 * A listener that could not start, named by the setting to change (`listen`, `admin`, `http`):
 * a configuration problem, so `sluice start` reports it like one (a sentence, no stack trace).
 */
export class ListenError extends ConfigError {
  constructor(
    /** The config section: `listen`, `admin` or `http`. */
    readonly section: string,
    readonly host: string,
    readonly port: number,
    readonly code: string,
    problem: string,
  ) {
    super([problem]);
    this.name = 'ListenError';
  }
}

/**
 * The error to report when `section`'s listener failed to bind: a ListenError for the causes
 * an operator fixes in the config (port taken, privileged port, address not on this machine),
 * the original error for anything else.
 */
export function listenProblem(section: string, host: string, port: number, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new ListenError(section, host, port, code, `${section}.port: ${where} is in use`);
    case 'EACCES':
      return new ListenError(section, host, port, code, `${section}.port: ${where} needs privileges this process lacks (ports below 1024)`);
    case 'EADDRNOTAVAIL':
      return new ListenError(section, host, port, code, `${section}.host: ${where}: ${host} is not an address of this machine`);
    default:
      return err;
  }
}
