/**
 * What a valid configuration will DO, in words, and which settings have no effect or work
 * against each other (user-pain #22: Mycat's slaveThreshold silently off without switchType 2,
 * ProxySQL's split silently off without transaction_persistent …). `sluice check` prints it and
 * `sluice start` logs it, so nobody has to infer behaviour from a YAML file. Pure.
 */
import { isIP } from 'node:net';
import type { SluiceConfig } from './types.js';
import { resolveWorkers } from './workers.js';
import { securityWarnings } from './describe-security.js';

export interface ConfigBehaviour {
  /** One line per concern: listen, writes, reads, failover, replica health, security, logs. */
  readonly lines: readonly string[];
  /** Settings that have no effect or are likely not what was meant, with the reason. */
  readonly warnings: readonly string[];
}

const BALANCE: Record<number, string> = {
  0: 'balance 0: every read goes to the writeHost (no splitting)',
  1: 'balance 1: reads go to the readHosts and the standby writeHosts',
  2: 'balance 2: reads go to every host, the writeHost included',
  3: 'balance 3: reads go to the readHosts only',
};

const CONSISTENCY: Record<string, string> = {
  session: "a session's reads see its own writes (consistency: session, by GTID)",
  global: 'every read sees all writes acknowledged before it (consistency: global, by GTID)',
  eventual: 'reads see what the replica has applied (consistency: eventual, no guarantee)',
};

const addr = (h: { host: string; port: number }): string => `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** `cores`: what `workers: auto` resolves against (the machine's, by default). */
export function describeConfig(c: SluiceConfig, cores?: number): ConfigBehaviour {
  const lines: string[] = [];
  const warnings: string[] = [];
  const dh = c.dataHost;
  const f = dh.failover;
  const hb = dh.heartbeat;
  const r = dh.replication;

  lines.push(
    `clients connect to ${addr(c.listen)} as ${c.users.map((u) => u.name).join(', ')}; ` +
      `${c.clients.length === 0 ? 'from any address' : `only from ${c.clients.join(', ')}`}; ` +
      `${c.maxConnections === 0 ? 'no connection limit' : `at most ${c.maxConnections} connections`}`,
  );
  lines.push(
    `writes and transactions: writeHost ${addr(dh.writeHosts[0]!)}${dh.writeHosts.length > 1 ? `, then ${dh.writeHosts.slice(1).map(addr).join(', ')} in that order` : ''} ` +
      `(the dnindex file ${f.dnindexFile} says which is active after a switch)`,
  );
  const readable = dh.readHosts.filter((h) => h.weight > 0);
  lines.push(
    `reads: ${BALANCE[dh.balance]}${dh.balance === 0 ? '' : `, spread by ${dh.loadBalance}`}; ${CONSISTENCY[c.session.consistency]}` +
      `${c.session.consistency === 'eventual' ? '' : ` (waiting at most ${c.session.consistencyTimeoutMs} ms on a replica, then reading the writeHost)`}` +
      `${c.session.readYourWritesMs > 0 ? `; a session's reads go to the writeHost for ${c.session.readYourWritesMs} ms after it wrote` : ''}`,
  );
  const detectMs = hb.retries * hb.intervalMs + hb.timeoutMs;
  if (dh.writeHosts.length < 2) {
    lines.push(`failover: none possible (one writeHost); it is declared DOWN after about ${detectMs} ms without an answer`);
  } else if (!f.enabled) {
    lines.push('failover: off — a dead writeHost is not replaced; writes fail until it is back or it is switched by hand (SWITCH @@DATASOURCE)');
  } else {
    lines.push(
      `failover: on — after about ${detectMs} ms without an answer (${hb.retries} × ${hb.intervalMs} ms + ${hb.timeoutMs} ms) the next healthy writeHost takes over; ` +
        (f.promote
          ? `the proxy promotes it (STOP REPLICA, read_only=OFF) and fences the others (read_only=ON)${f.rejoin ? ', then points the other servers at it (rejoin)' : ''}`
          : 'the proxy does not touch the databases: a read_only standby is never chosen (promote is off)'),
    );
  }
  const cl = c.cluster;
  if (cl.cooperation === 'backend-locks') {
    const total = dh.writeHosts.length + dh.readHosts.length;
    lines.push(
      `several instances: this one is '${cl.instanceName}'; the instance holding the lead lock on ${cl.majority === 'all' ? `${Math.floor(total / 2) + 1} of the ${total} servers` : 'a majority of the servers that answer'} ` +
        'alone fails over, promotes, fences and rejoins, and the others follow the writeHost it publishes within one heartbeat; ' +
        `${cl.majority === 'all' ? 'an instance that reaches fewer servers refuses writes (reads go on); ' : ''}` +
        `a vanished instance's locks last at most ${cl.lockTimeoutSeconds} s`,
    );
  }
  lines.push(
    `replica health: a replica leaves read rotation when DOWN, when replication stops or lags more than ${r.maxLagSeconds} s; ` +
      `it is back after ${r.readmitAfter} healthy checks, one every ${r.checkEveryMs} ms (about ${Math.round((r.readmitAfter * r.checkEveryMs) / 100) / 10} s)`,
  );
  lines.push(
    `TLS: ${c.tls ? `clients ${c.tls.require ? 'must use TLS' : 'may use TLS'}` : 'off for clients'}; ` +
      `${dh.tls?.enabled ? `on to the backends${dh.tls.verify ? ' (certificates verified)' : ' (certificates NOT verified)'}` : 'off to the backends'}`,
  );
  const workers = resolveWorkers(c.workers, cores);
  lines.push(
    workers.count === 1
      ? `processes: one (${workers.why})`
      : `processes: ${workers.count} workers relay client connections behind ${addr(c.listen)}, a primary process runs heartbeats, failover and the admin/HTTP ports (${workers.why}); ` +
          `backend pools are shared out: at most ${dh.pool.max} connections per backend in all, about ${Math.ceil(dh.pool.max / workers.count)} per worker, ${dh.pool.min} idle kept in all`,
  );
  lines.push(
    `operations: admin port ${c.admin ? addr(c.admin) : 'off'}; HTTP ${c.http ? `${addr(c.http)} (/health, /metrics, /)` : 'off'}; ` +
      `log level ${c.log.level}, SQL log ${c.log.sql ? 'on' : 'off'}, slow log ${c.log.slowMs > 0 ? `over ${c.log.slowMs} ms` : 'off'}` +
      `${c.log.sql || c.log.slowMs > 0 ? (c.log.maskLiterals ? ' (literals masked)' : ' (literals shown)') : ''}`,
  );

  // --- settings that do nothing, or not what they seem
  if (dh.balance === 0 && dh.readHosts.length > 0) {
    warnings.push(`dataHost.balance is 0: the ${dh.readHosts.length} readHost(s) never get reads`);
  }
  if (dh.balance === 0 && dh.loadBalance !== 'round-robin') warnings.push(`dataHost.loadBalance ${dh.loadBalance} has no effect with balance 0`);
  if (dh.balance === 3 && readable.length === 0) {
    warnings.push('dataHost.balance is 3 (readHosts only) but no readHost has a weight above 0: every read goes to the writeHost');
  }
  if (dh.balance === 1 && readable.length === 0 && dh.writeHosts.length < 2) {
    warnings.push('dataHost.balance is 1 but there is no readHost with a weight above 0 and no standby writeHost: every read goes to the writeHost');
  }
  if (dh.readHosts.length > 0 && readable.length === 0 && dh.balance !== 0) {
    warnings.push('every readHost has weight 0: none of them gets reads');
  }
  if (!f.enabled && dh.writeHosts.length >= 2) {
    warnings.push('dataHost.failover.enabled is false with several writeHosts: the standby writeHosts only serve reads, a dead writeHost is not replaced');
  }
  if (f.enabled && dh.writeHosts.length < 2) {
    warnings.push(
      'dataHost.failover.enabled is true with one writeHost: there is nothing to fail over to; add a standby to writeHosts (or ADD MASTER on the admin port)',
    );
  }
  if (f.enabled && dh.writeHosts.length >= 2 && !f.promote) {
    warnings.push(
      'dataHost.failover.promote is false: a standby that runs read_only=ON (as replicas should) is never chosen, so a failover is refused until somebody turns read_only off on it',
    );
  }
  if (f.promote && f.user === undefined) {
    warnings.push(
      'dataHost.failover.promote without failover.user: promotion and fencing use dataHost.user, which should NOT have the privileges they need (READ_ONLY ADMIN / SUPER)',
    );
  }
  if (f.rejoin && f.replicationUser === undefined) {
    warnings.push('dataHost.failover.rejoin without replicationUser: a former master that never replicated has no replication account and cannot be joined');
  }
  if (hb.timeoutMs > hb.intervalMs) {
    warnings.push(`dataHost.heartbeat.timeoutMs (${hb.timeoutMs}) is above intervalMs (${hb.intervalMs}): a hung host is detected later than retries × intervalMs suggests`);
  }
  if (c.admin && !isLoopback(c.admin.host) && !c.admin.password.startsWith('*')) {
    warnings.push(`the admin port listens on ${c.admin.host} with a plain-text password in the config: restrict it to loopback, or store the password as its hash (*<40 hex>)`);
  }
  if (c.admin && c.admin.password === 'admin') warnings.push('the admin password is "admin": change it');
  if (c.session.readYourWritesMs > 0) {
    warnings.push(
      'session.readYourWritesMs is deprecated: session.consistency (default session) already makes a session read its own writes, by GTID; remove readYourWritesMs',
    );
  }
  if (cl.cooperation === 'backend-locks' && cl.majority === 'running') {
    warnings.push(
      'cluster.majority is running: two sides of a partition can each hold "a majority of the servers that answer" and both fail over; use all unless losing half the servers at once must not stop failover',
    );
  }
  if (cl.cooperation === 'backend-locks' && (dh.writeHosts.length + dh.readHosts.length) % 2 === 0 && cl.majority === 'all') {
    warnings.push(`cluster.cooperation with an even number of servers (${dh.writeHosts.length + dh.readHosts.length}): a majority takes more than half, so losing half of them stops failover and writes; an odd number is better`);
  }
  warnings.push(...securityWarnings(c));
  return { lines, warnings };
}
