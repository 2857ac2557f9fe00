/**
 * The configuration the cluster's unit tests reason about: dataHost dh1 with writeHosts db1 and
 * db2 and readHost db3 (port 3306), validated. `failover` is the dataHost's failover section;
 * `top` adds top-level sections (cluster, …).
 */
import { validateConfig } from '../../src/config/index.js';
import type { SluiceConfig } from '../../src/config/types.js';

export function threeHostConfig(failover: Record<string, unknown>, top: Record<string, unknown> = {}): SluiceConfig {
  return validateConfig({
    listen: { port: 0 },
    users: [{ name: 'app', password: 'app' }],
    dataHost: {
      name: 'dh1',
      user: 'app',
      password: 'app',
      writeHosts: [{ host: 'db1', port: 3306 }, { host: 'db2', port: 3306 }],
      readHosts: [{ host: 'db3', port: 3306 }],
      failover: { dnindexFile: '/nonexistent/dnindex', ...failover },
    },
    ...top,
  });
}
