/** Port selection for sandbox servers (loopback only). */
import net from 'node:net';

/**
 * A port the sandbox was asked to use (or defaults to) is taken. `option` is the command-line
 * option that chooses it, so the message tells the person what to change.
 */
export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    readonly option: string,
  ) {
    super(`port ${port} is in use; pick another with ${option}`);
    this.name = 'PortInUseError';
  }
}

function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(srv));
  });
}

function close(srv: net.Server): Promise<void> {
  return new Promise((resolve) => srv.close(() => resolve()));
}

/** Whether 127.0.0.1:`port` can be bound right now (bound and released at once). */
export async function portIsFree(port: number): Promise<boolean> {
  try {
    await close(await listen(port));
    return true;
  } catch {
    return false;
  }
}

/**
 * `count` distinct ports: consecutive from `basePort` (each checked to be free, so a clash is a
 * clear error instead of a server dying in its log), or picked by the OS when basePort is 0/undefined.
 * (The OS-picked ports are released before the servers bind them; the race is tolerated.)
 */
export async function choosePorts(count: number, basePort: number | undefined): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const wanted = basePort !== undefined && basePort > 0 ? basePort + i : 0;
      if (wanted > 65535) throw new Error(`sandbox port ${wanted} is out of range (basePort ${basePort})`);
      let srv: net.Server;
      try {
        srv = await listen(wanted);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new PortInUseError(wanted, '--base-port');
        throw new Error(`sandbox port 127.0.0.1:${wanted} is not free: ${(err as Error).message}`);
      }
      servers.push(srv);
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') throw new Error('unexpected listen address');
      ports.push(addr.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map(close));
  }
}
