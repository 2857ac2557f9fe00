/**
 * The admin SQL port (Atlas / Mycat style, DESIGN §5): its own listener and credentials
 * (`config.admin`), the same handshake and authentication code as the proxy port, and only
 * COM_QUERY / COM_PING / COM_QUIT / COM_INIT_DB.
 *
 * Every change goes one way: the admin port edits its copy of the configuration, validates it
 * (validateConfig, every problem listed), and hands it to `applyConfig`, which makes the running
 * proxy follow (config/live.ts): backends join and leave through the cluster reducer, accounts,
 * whitelist, limits and the SQL log take effect for the next connection or statement. A YAML
 * reload (RELOAD @@CONFIG) takes exactly the same path. What cannot change live (listeners, pool
 * sizes, TLS, heartbeat timing) is kept as running and reported as waiting for a restart.
 * SAVE CONFIG writes the admin port's copy to the file, atomically.
 *
 * SET OFFLINE / SET ONLINE / SWITCH @@DATASOURCE / KILL @@CONNECTION act on state, not config.
 *
 * Unlike Atlas, a refused change answers with an ERR saying why.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import { switchover, switchoverStandby, switchWriter } from './writer-commands.js';
import { sameEndpoint } from '../config/endpoint.js';
import { ConfigError, saveConfigFile, validateConfig } from '../config/index.js';
import type { SluiceConfig } from '../config/types.js';
import { nativePasswordHash } from '../protocol/auth.js';
import { decodeCommand } from '../protocol/commands.js';
import { Capability, ColumnType, ServerStatus } from '../protocol/constants.js';
import { encodeErr, encodeOk, encodeTextResultset, type ColumnDefinition } from '../protocol/responses.js';
import { ClientChannel } from '../frontend/client-channel.js';
import { listenOn } from '../frontend/listen.js';
import { AuthFailed, authenticate } from '../frontend/authenticate.js';
import { parseAdminCommand, type AdminCommand } from './admin-commands.js';
import type { PoolTotals } from './data-path.js';
import { ok, refused, type AdminDeps, type AdminReply, type ConfigApplyResult } from './admin-types.js';
import { hostByNdx } from './backend-numbers.js';
import { clusterTable } from './cooperation-views.js';
import {
  blockedHostsTable,
  backendSocketsTable,
  backendsTable,
  clientsTable,
  connectionTable,
  datasourceTable,
  heartbeatTable,
  helpTable,
  hostAddress,
  pwdsTable,
  sluiceVersion,
  statsTable,
  versionTable,
  type AdminTable,
} from './admin-views.js';

const MAX_ADMIN_PACKET = 16 * 1024 * 1024;
const STATUS = ServerStatus.AUTOCOMMIT;

/** What `applyConfig` did with a configuration: config paths applied now / at the next start. */
export type { AdminDeps, AdminReply, ConfigApplyResult } from './admin-types.js';

const table = (t: AdminTable): AdminReply => ({ type: 'table', table: t });

export const UNKNOWN_COMMAND_MESSAGE = "Unknown admin command: use 'SELECT * FROM help' to see the supported commands";

/** Says what of a change is still waiting for a restart; empty when everything is live. */
function pending(result: ConfigApplyResult): string {
  const parts: string[] = [];
  if (result.notes.length > 0) parts.push(result.notes.join('; '));
  if (result.restart.length > 0) parts.push(`waiting for a restart: ${result.restart.join(', ')}`);
  return parts.length > 0 ? ` (${parts.join('; ')})` : '';
}

const SAVE_HINT = 'SAVE CONFIG keeps it across restarts';

type MutableConfig = {
  users: { name: string; password: string; auth?: string }[];
  clients: string[];
  dataHost: { writeHosts: { host: string; port: number; weight: number }[]; readHosts: { host: string; port: number; weight: number }[] };
};

export class AdminServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly log: Logger;
  private nextId = 1;

  constructor(
    private readonly deps: AdminDeps,
    log: Logger,
  ) {
    this.log = log;
    this.server = net.createServer((socket) => void this.accept(socket));
    this.server.on('error', (err) => this.log.error({ err }, 'admin listener error'));
  }

  /** The configuration the admin port would save (running config plus admin edits). */
  get configuration(): SluiceConfig {
    return this.deps.configured();
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return listenOn(this.server, host, port);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private async accept(socket: net.Socket): Promise<void> {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const ch = new ClientChannel(socket, MAX_ADMIN_PACKET);
    const remoteAddress = socket.remoteAddress ?? 'unknown';
    const admin = this.deps.config().admin;
    try {
      if (!admin) return;
      const client = await authenticate(ch, {
        connectionId: this.nextId++,
        serverVersion: `${sluiceVersion()}-sluice-admin`,
        users: [{ name: admin.user, password: admin.password }],
        remoteAddress,
      });
      if (!client) return;
      const caps = client.capabilities;
      ch.send(encodeOk({ statusFlags: STATUS }, caps), (client.lastSeq + 1) & 0xff);
      if (caps & Capability.COMPRESS) ch.startCompression(); // the greeting offers it here too
      this.log.info({ client: remoteAddress, user: client.user.name }, 'admin login');
      for (;;) {
        const packet = await ch.next();
        if (!packet) {
          if (ch.protocolError) this.log.warn({ client: remoteAddress, err: ch.protocolError.message }, 'bad packet from admin client; closing');
          return;
        }
        let cmd;
        try {
          cmd = decodeCommand(packet.payload, caps);
        } catch {
          return;
        }
        switch (cmd.type) {
          case 'quit':
            return;
          case 'ping':
          case 'init-db':
            ch.send(encodeOk({ statusFlags: STATUS }, caps), 1);
            break;
          case 'query': {
            const reply = await this.execute(cmd.sql);
            this.send(ch, reply, caps);
            break;
          }
          default:
            ch.send(encodeErr({ errno: 1047, sqlState: '08S01', message: 'the admin port accepts only COM_QUERY, COM_PING, COM_INIT_DB and COM_QUIT' }), 1);
        }
      }
    } catch (err) {
      if (err instanceof AuthFailed) this.log.warn({ client: remoteAddress, reason: err.message }, 'admin authentication failed');
      else this.log.error({ err, client: remoteAddress }, 'admin connection failed');
    } finally {
      ch.close();
    }
  }

  private send(ch: ClientChannel, reply: AdminReply, caps: number): void {
    switch (reply.type) {
      case 'ok':
        ch.send(encodeOk({ statusFlags: STATUS, info: reply.message, affectedRows: reply.affectedRows ?? 0 }, caps), 1);
        return;
      case 'error':
        ch.send(encodeErr(reply), 1);
        return;
      case 'table': {
        const columns: ColumnDefinition[] = reply.table.columns.map((c) => ({
          schema: '',
          table: '',
          orgTable: '',
          name: c.name,
          orgName: c.name,
          charset: c.numeric ? 63 : 45,
          columnLength: c.numeric ? 21 : 1024,
          type: c.numeric ? (c.real ? ColumnType.DOUBLE : ColumnType.LONGLONG) : ColumnType.VAR_STRING,
          flags: 0,
          decimals: c.real ? 31 : 0,
        }));
        const rows = reply.table.rows.map((r) => r.map((v) => (v === null ? null : String(v))));
        ch.sendAll(encodeTextResultset(columns, rows, caps, STATUS), 1);
        return;
      }
    }
  }

  /** Runs one admin statement. Never throws. */
  async execute(sql: string): Promise<AdminReply> {
    const cmd = parseAdminCommand(sql);
    try {
      return await this.run(cmd);
    } catch (err) {
      this.log.error({ err, command: cmd.kind }, 'admin command failed');
      return refused(`${cmd.kind} failed: ${(err as Error).message}`);
    }
  }

  /** Pool numbers of every host, summed over the processes that hold pools. */
  private async poolStats(): Promise<(hostId: string) => PoolTotals | undefined> {
    const { pools } = await this.deps.dataPath.snapshot();
    return (hostId) => pools[hostId];
  }

  private async run(cmd: AdminCommand): Promise<AdminReply> {
    const { cluster, dataPath } = this.deps;
    switch (cmd.kind) {
      case 'help':
        return table(helpTable());
      case 'version':
        return table(versionTable());
      case 'version-comment':
        return table({ columns: [{ name: '@@version_comment' }], rows: [['Sluice admin']] });
      case 'backends':
        return table(backendsTable(cluster.view, await this.poolStats()));
      case 'set-offline':
      case 'set-online': {
        const h = hostByNdx(cluster.view, cmd.ndx);
        if (!h) return refused(`backend id ${cmd.ndx} does not exist (backend_ndx is 1-${cluster.view.hosts.length}, see SELECT * FROM backends)`);
        if (cmd.kind === 'set-online') {
          if (h.status !== 'offline') return refused(`backend ${cmd.ndx} (${hostAddress(h)}) is not offline (state ${h.status})`);
          cluster.dispatch({ type: 'set-online', hostId: h.id });
        } else {
          // The active writeHost with a standby that can take over: hand over first (a planned
          // switchover, no client error), then take it offline.
          const standby = h.id === cluster.view.writer?.id ? switchoverStandby(this.deps) : undefined;
          if (standby !== undefined) {
            const r = await switchover(this.deps, cluster.view.dataHost, standby, `admin SET OFFLINE of the active writeHost ${h.id}`);
            if (r.type === 'error') return r;
          }
          cluster.dispatch({ type: 'set-offline', hostId: h.id });
          if (cmd.force) {
            // Every connection to the host is cut: running statements are aborted (a read that
            // has sent nothing yet retries elsewhere), a transaction held there fails with 2013
            // at its next statement, idle connections close. Sessions go on on other hosts.
            // The retired pools drain as sessions hand the cut connections back (a session in a
            // transaction does so at its next statement). Every worker cuts its own.
            const cut = await dataPath.cutHost(h.id, 'SET OFFLINE FORCE by operator');
            this.log.warn({ backend: h.id, cut }, 'SET OFFLINE FORCE');
          }
        }
        this.log.warn({ backend: h.id, command: cmd.kind }, 'admin changed backend state');
        return table(backendsTable(cluster.view, await this.poolStats(), [cmd.ndx]));
      }
      case 'switch-datasource':
        // With promotion and a living writeHost, the role moves the planned way (no client
        // error); otherwise (the writeHost is down, or promote is off) it moves at once.
        if (this.deps.config().dataHost.failover.promote && cluster.view.writer !== undefined && cmd.name === cluster.view.dataHost) {
          return switchover(this.deps, cmd.name, cmd.index, 'admin SWITCH @@DATASOURCE (planned switchover)');
        }
        return switchWriter(this.deps, cmd.name, cmd.index);
      case 'switchover':
        return switchover(this.deps, cmd.name, cmd.index, 'admin SWITCHOVER');
      case 'add-backend':
        return this.addBackend(cmd.role, cmd.host, cmd.port, cmd.weight);
      case 'remove-backend':
        return this.removeBackend(cmd.ndx);
      case 'clients':
        return table(clientsTable(this.deps.configured()));
      case 'add-client': {
        const client = cmd.client.trim();
        if (this.deps.configured().clients.includes(client)) return refused(`client ${client} is already in the list`);
        const first = this.deps.configured().clients.length === 0 ? '; the whitelist was empty, so from now on only listed addresses may connect' : '';
        return this.mutate('ADD CLIENT', (c) => c.clients.push(client), (r) => `client ${client} added${first}${pending(r)}; ${SAVE_HINT}`);
      }
      case 'remove-client': {
        if (!this.deps.configured().clients.includes(cmd.client)) return refused(`client ${cmd.client} is not in the list`);
        const last = this.deps.configured().clients.length === 1 ? '; the whitelist is now empty, so every address may connect' : '';
        return this.mutate(
          'REMOVE CLIENT',
          (c) => (c.clients = c.clients.filter((x) => x !== cmd.client)),
          (r) => `client ${cmd.client} removed (new connections from it are refused; open ones stay)${last}${pending(r)}; ${SAVE_HINT}`,
        );
      }
      case 'pwds':
        return table(pwdsTable(this.deps.configured()));
      case 'add-pwd': {
        if (this.deps.configured().users.some((u) => u.name === cmd.user)) return refused(`user ${cmd.user} already exists (REMOVE PWD ${cmd.user} first)`);
        const hash = `*${nativePasswordHash(cmd.password).toString('hex').toUpperCase()}`;
        return this.mutate(
          'ADD PWD',
          (c) => c.users.push({ name: cmd.user, password: hash }),
          (r) => `user ${cmd.user} added (password stored as its hash), may log in now${pending(r)}; ${SAVE_HINT}`,
        );
      }
      case 'remove-pwd': {
        if (!this.deps.configured().users.some((u) => u.name === cmd.user)) return refused(`user ${cmd.user} does not exist`);
        return this.mutate(
          'REMOVE PWD',
          (c) => (c.users = c.users.filter((u) => u.name !== cmd.user)),
          (r) => `user ${cmd.user} removed (new logins are refused; open sessions stay, KILL @@CONNECTION ends them)${pending(r)}; ${SAVE_HINT}`,
        );
      }
      case 'save-config': {
        const file = this.deps.configPath;
        if (file === undefined) return refused('SAVE CONFIG: Sluice was started without a config file, there is nowhere to save');
        try {
          saveConfigFile(file, this.deps.configured());
        } catch (err) {
          return refused(`SAVE CONFIG failed: ${err instanceof ConfigError ? err.errors.join('; ') : (err as Error).message}`);
        }
        this.log.warn({ file }, 'admin: config saved');
        return ok(`configuration saved to ${file}`);
      }
      case 'reload-config':
        return this.reload();
      case 'show-datasource':
        return table(datasourceTable(cluster.view, await this.poolStats(), this.deps.config().dataHost.pool.max));
      case 'show-heartbeat':
        return table(heartbeatTable(cluster.view));
      case 'show-cluster':
        return table(clusterTable(cluster.view, this.deps.config().cluster));
      case 'show-connection':
        return table(connectionTable(await dataPath.sessions()));
      case 'kill-connection': {
        const known = new Set((await dataPath.sessions()).map((s) => s.id));
        const missing = cmd.ids.filter((id) => !known.has(id));
        if (missing.length > 0) return refused(`unknown connection id ${missing.join(', ')} (see SHOW @@CONNECTION)`);
        await dataPath.terminate(cmd.ids);
        this.log.warn({ ids: cmd.ids }, 'admin killed client connections');
        return ok(`killed ${cmd.ids.length} connection(s)`, cmd.ids.length);
      }
      case 'show-backend': {
        const sockets = await dataPath.backendSockets();
        return table(backendSocketsTable(cluster.view, (id) => sockets[id] ?? []));
      }
      case 'stats':
        return table(statsTable(await dataPath.statementTop(100)));
      case 'show-blocked-hosts':
        return table(blockedHostsTable(this.deps.hosts?.hostRows() ?? []));
      case 'flush-hosts': {
        const hosts = this.deps.hosts;
        if (!hosts) return refused('FLUSH HOSTS: this process keeps no host table');
        const unblocked = hosts.flushHosts();
        this.log.warn({ unblocked }, 'admin FLUSH HOSTS');
        return ok(`host table flushed: ${unblocked} blocked address(es) unblocked`, unblocked);
      }
      case 'invalid':
        return refused(cmd.reason);
      case 'unknown':
        return { type: 'error', errno: 1047, sqlState: '08S01', message: UNKNOWN_COMMAND_MESSAGE };
    }
  }

  private addBackend(role: 'write' | 'read', host: string, port: number, weight: number | undefined): AdminReply {
    const dh = this.deps.configured().dataHost;
    // Loopback spellings and letter case name the same server (as the cluster reducer sees it).
    const known = [...dh.writeHosts.map((h, i) => ['writeHosts', i, h] as const), ...dh.readHosts.map((h, i) => ['readHosts', i, h] as const)].find(
      ([, , h]) => sameEndpoint(h.host, h.port, host, port),
    );
    if (known) return refused(`backend ${hostAddress({ host, port })} is already known (dataHost.${known[0]}[${known[1]}])`);
    const list = role === 'write' ? 'writeHosts' : 'readHosts';
    const w = weight ?? 1;
    return this.mutate(
      role === 'write' ? 'ADD MASTER' : 'ADD SLAVE',
      (c) => c.dataHost[list].push({ host, port, weight: w }),
      (r) => {
        const added = this.deps.cluster.view.hosts.findIndex((h) => h.host === host && h.port === port);
        if (added === -1) return `${hostAddress({ host, port })} added to the configuration only${pending(r)}; ${SAVE_HINT}`;
        const { readmitAfter } = this.deps.configured().dataHost.replication;
        const what = role === 'write' ? 'standby writeHost' : 'readHost';
        return (
          `${what} ${hostAddress({ host, port })} (weight ${w}) added as backend_ndx ${added + 1}: heartbeats start now, ` +
          `it serves reads after ${readmitAfter} healthy replication checks${pending(r)}; ${SAVE_HINT}`
        );
      },
    );
  }

  private removeBackend(ndx: number): AdminReply {
    const { cluster } = this.deps;
    const h = hostByNdx(cluster.view, ndx);
    if (!h) return refused(`invalid backend_id ${ndx} (backend_ndx is 1-${cluster.view.hosts.length}, see SELECT * FROM backends)`);
    if (h.role === 'write' && h.index === cluster.view.writerIndex) {
      return refused(`backend ${ndx} (${hostAddress(h)}) is the active writeHost: SWITCH @@DATASOURCE to another writeHost first`);
    }
    if (h.role === 'write' && h.index < cluster.view.writerIndex) {
      return refused(`backend ${ndx} (${hostAddress(h)}) is writeHost ${h.index}, before the active writeHost ${cluster.view.writerIndex}: removing it would make the dnindex point at another host`);
    }
    const list = h.role === 'write' ? 'writeHosts' : 'readHosts';
    const id = `${h.host.toLowerCase()}:${h.port}`;
    if (!this.deps.configured().dataHost[list].some((x) => `${x.host.toLowerCase()}:${x.port}` === id)) {
      return refused(`backend ${ndx} (${hostAddress(h)}) is not in the admin port's configuration (RELOAD @@CONFIG re-reads the file)`);
    }
    return this.mutate(
      'REMOVE BACKEND',
      (c) => (c.dataHost[list] = c.dataHost[list].filter((x) => `${x.host.toLowerCase()}:${x.port}` !== id)),
      (r) =>
        cluster.view.hosts.some((x) => x.id === h.id)
          ? `backend ${ndx} (${hostAddress(h)}) removed from the configuration only${pending(r)}`
          : `backend ${ndx} (${hostAddress(h)}) removed: no new statements go there, running ones finish, then its connections close${pending(r)}; ${SAVE_HINT}`,
    );
  }

  /**
   * Applies `edit` to a copy of the admin configuration; if it validates, the running proxy
   * follows it (applyConfig) and it becomes the admin configuration.
   */
  private mutate(command: string, edit: (c: MutableConfig) => void, describe: (result: ConfigApplyResult) => string): AdminReply {
    const raw = JSON.parse(JSON.stringify(this.deps.configured())) as MutableConfig;
    edit(raw);
    let next: SluiceConfig;
    try {
      next = validateConfig(raw);
    } catch (err) {
      if (err instanceof ConfigError) return refused(`change refused, the configuration would be invalid: ${err.errors.join('; ')}`);
      throw err;
    }
    const result = this.deps.applyConfig(next, `admin ${command}`);
        const message = describe(result);
    this.log.warn({ command, change: message }, 'admin changed the configuration');
    return ok(message, 1);
  }

  private reload(): AdminReply {
    const file = this.deps.configPath;
    if (file === undefined) return refused('RELOAD @@CONFIG: Sluice was started without a config file');
    let result: ConfigApplyResult;
    try {
      result = this.deps.reloadConfig('RELOAD @@CONFIG');
    } catch (err) {
      const problems = err instanceof ConfigError ? err.errors : [(err as Error).message];
      return refused(`RELOAD @@CONFIG refused, the running configuration is kept. ${problems.length} problem(s): ${problems.join('; ')}`);
    }
    return ok(describeReload(file, result));
  }
}

/** The answer to a reload (admin RELOAD @@CONFIG, SIGHUP log line). */
export function describeReload(file: string, result: ConfigApplyResult): string {
  if (result.live.length === 0 && result.restart.length === 0) return `configuration reloaded from ${file}: no differences from the running configuration`;
  const parts = [`configuration reloaded from ${file}`];
  if (result.live.length > 0) parts.push(`applied now: ${result.live.join(', ')}`);
  if (result.notes.length > 0) parts.push(result.notes.join('; '));
  if (result.restart.length > 0) parts.push(`waiting for a restart (running values kept): ${result.restart.join(', ')}`);
  return parts.join('; ');
}
