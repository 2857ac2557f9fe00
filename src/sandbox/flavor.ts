/**
 * Everything that differs between MariaDB and MySQL 8, kept in two small objects so the
 * orchestration in `sandbox.ts` stays flavour-free. MariaDB is exercised by the test suite;
 * the MySQL path follows the MySQL 8.0.23+ / 8.4 documentation.
 */
import { execFile } from 'node:child_process';
import { appendFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ServerBinary } from './binaries.js';
import { findMariadbInstallDb, isRoot } from './binaries.js';

export interface ServerArgsInput {
  readonly name: string;
  readonly serverId: number;
  readonly port: number;
  /** The one address it listens on (127.0.0.1, or its placement address). */
  readonly bindAddress: string;
  readonly datadir: string;
  readonly socketPath: string;
  readonly pidFile: string;
  readonly primary: boolean;
  readonly semiSync: boolean;
  readonly semiSyncTimeoutMs: number;
  /** TLS files: the server accepts TLS with them (--ssl-ca/--ssl-cert/--ssl-key). */
  readonly tls?: { readonly ca: string; readonly cert: string; readonly key: string };
}

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

export interface AccountSpec {
  readonly app: Credentials;
  readonly admin: Credentials;
  readonly repl: Credentials;
  readonly database: string;
}

/** Replication thread state as read from SHOW SLAVE/REPLICA STATUS. */
export interface ReplicaState {
  readonly ioRunning: string;
  readonly sqlRunning: string;
  readonly lastIoError: string;
  readonly lastSqlError: string;
}

export type QueryFn = (sql: string, params?: readonly unknown[]) => Promise<unknown>;

export interface Flavor {
  /** Create a fresh datadir (system tables only, no binlog events). */
  initDatadir(bin: ServerBinary, datadir: string, logFile: string): Promise<void>;
  /** Fix up a copied datadir (MySQL: drop auto.cnf so every server gets its own server_uuid). */
  prepareCopy(datadir: string): Promise<void>;
  serverArgs(bin: ServerBinary, s: ServerArgsInput): string[];
  /** Statements run on a replica (as root over its socket) to start replicating from the primary. */
  replicationSql(primaryHost: string, primaryPort: number, repl: Credentials): string[];
  /**
   * The replication account, created on EVERY server with the binlog off (it must exist before
   * the replicas can connect, and on every server so any of them can be promoted).
   */
  replAccountSql(repl: Credentials, query: QueryFn): Promise<string[]>;
  /** Statements run on the primary (binlogged, so they replicate): accounts and the test database. */
  accountSql(bin: ServerBinary, spec: AccountSpec, query: QueryFn): Promise<string[]>;
  /** Status variable with the number of connected semi-sync replicas (on the primary). */
  readonly semiSyncClientsVariable: string;
  /** The primary's binlogged GTID position / set. */
  readonly primaryPositionSql: string;
  /** Returns a row `{ r }` with r === 0 when the replica reached the position within `seconds`. */
  readonly waitPositionSql: string;
  replicaState(query: QueryFn): Promise<ReplicaState | undefined>;
}

function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Runs an install tool with a bound, appending its output to `logFile`; the error carries the tail. */
export function runTool(cmd: string, args: readonly string[], logFile: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const output = `$ ${cmd} ${args.join(' ')}\n${stdout}${stderr}\n`;
      void appendFile(logFile, output).finally(() => {
        if (err === null) {
          resolve();
          return;
        }
        const tail = `${stdout}${stderr}`.trim().split('\n').slice(-20).join('\n');
        reject(new Error(`${path.basename(cmd)} failed (${err.message.split('\n')[0]}); see ${logFile}:\n${tail}`));
      });
    });
  });
}

async function showReplicaState(query: QueryFn, sql: string, prefix: 'Slave' | 'Replica'): Promise<ReplicaState | undefined> {
  const rows = (await query(sql)) as Record<string, unknown>[];
  const row = rows[0];
  if (row === undefined) return undefined;
  const str = (k: string): string => (row[k] === null || row[k] === undefined ? '' : String(row[k]));
  return {
    ioRunning: str(`${prefix}_IO_Running`),
    sqlRunning: str(`${prefix}_SQL_Running`),
    lastIoError: str('Last_IO_Error'),
    lastSqlError: str('Last_SQL_Error'),
  };
}

/** Options shared by both flavours (small footprint, one address only, our own files). */
function commonArgs(s: ServerArgsInput): string[] {
  const args = [
    '--no-defaults', // must stay first: the machine's /etc/mysql never interferes
    `--datadir=${s.datadir}`,
    `--port=${s.port}`,
    `--bind-address=${s.bindAddress}`,
    `--socket=${s.socketPath}`,
    `--pid-file=${s.pidFile}`,
    `--server-id=${s.serverId}`,
    `--log-bin=${s.name}-bin`,
    `--relay-log=${s.name}-relay-bin`,
    '--binlog-format=ROW',
    '--innodb-buffer-pool-size=64M',
    '--innodb-log-file-size=48M',
    '--performance-schema=OFF',
    '--skip-name-resolve',
    '--max-connections=500',
    // Large enough for the >16 MiB (multi-packet) row tests; matches session.maxPacketSize's default.
    '--max-allowed-packet=64M',
  ];
  if (!s.primary) args.push('--read-only=ON');
  if (s.tls) args.push(`--ssl-ca=${s.tls.ca}`, `--ssl-cert=${s.tls.cert}`, `--ssl-key=${s.tls.key}`);
  if (isRoot()) args.push('--user=root');
  return args;
}

export const mariadbFlavor: Flavor = {
  async initDatadir(bin, datadir, logFile) {
    const installDb = findMariadbInstallDb(bin.path);
    const args = [
      '--no-defaults',
      `--datadir=${datadir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      // Same redo-log size as at run time, so copies are small and nothing is resized later.
      '--innodb-log-file-size=48M',
      '--innodb-buffer-pool-size=64M',
    ];
    const binDir = path.dirname(bin.path);
    if (!['/usr/sbin', '/usr/bin', '/usr/libexec'].includes(binDir)) args.push(`--basedir=${path.dirname(binDir)}`);
    if (isRoot()) args.push('--user=root');
    await runTool(installDb, args, logFile, 120_000);
  },
  async prepareCopy() {
    /* nothing: MariaDB has no per-datadir server uuid that replication depends on */
  },
  serverArgs(_bin, s) {
    const args = [
      ...commonArgs(s),
      '--log-slave-updates',
      '--gtid-strict-mode=ON',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_general_ci',
      // A stopped (SIGSTOP) primary is noticed within ~10 s; a killed one at once (RST).
      '--slave-net-timeout=10',
    ];
    if (s.semiSync) {
      // Both sides on every server: a replica promoted by a failover must acknowledge writes
      // only once one of its own replicas has them, as the primary did (else an acknowledged
      // write lives on that one server until the replicas follow it).
      args.push('--rpl-semi-sync-master-enabled=ON', `--rpl-semi-sync-master-timeout=${s.semiSyncTimeoutMs}`, '--rpl-semi-sync-slave-enabled=ON');
    }
    return args;
  },
  replicationSql(primaryHost, primaryPort, repl) {
    return [
      `CHANGE MASTER TO MASTER_HOST=${sqlString(primaryHost)}, MASTER_PORT=${primaryPort}, ` +
        `MASTER_USER=${sqlString(repl.user)}, MASTER_PASSWORD=${sqlString(repl.password)}, ` +
        'MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1',
      'START SLAVE',
    ];
  },
  async accountSql(bin, spec) {
    const v = bin.major * 10_000 + bin.minor * 100 + bin.patch;
    // 10.5 split REPLICATION CLIENT / SUPER into BINLOG MONITOR, SLAVE MONITOR (10.5.9) …
    const monitor =
      v >= 100509 ? 'BINLOG MONITOR, SLAVE MONITOR' : v >= 100500 ? 'BINLOG MONITOR, REPLICATION SLAVE ADMIN' : 'REPLICATION CLIENT';
    return accountStatements(spec, monitor, (c) => `IDENTIFIED BY ${sqlString(c.password)}`);
  },
  async replAccountSql(repl) {
    return replStatements(repl, `IDENTIFIED BY ${sqlString(repl.password)}`);
  },
  semiSyncClientsVariable: 'Rpl_semi_sync_master_clients',
  primaryPositionSql: 'SELECT @@GLOBAL.gtid_binlog_pos AS pos',
  waitPositionSql: 'SELECT MASTER_GTID_WAIT(?, ?) AS r',
  replicaState(query) {
    return showReplicaState(query, 'SHOW SLAVE STATUS', 'Slave');
  },
};

export const mysqlFlavor: Flavor = {
  async initDatadir(bin, datadir, logFile) {
    const args = [
      '--no-defaults',
      '--initialize-insecure',
      `--datadir=${datadir}`,
      `--basedir=${path.dirname(path.dirname(bin.path))}`,
    ];
    if (isRoot()) args.push('--user=root');
    await runTool(bin.path, args, logFile, 180_000);
  },
  async prepareCopy(datadir) {
    await rm(path.join(datadir, 'auto.cnf'), { force: true });
  },
  serverArgs(_bin, s) {
    const args = [
      ...commonArgs(s),
      '--gtid-mode=ON',
      '--enforce-gtid-consistency=ON',
      '--mysqlx=OFF', // otherwise every server wants port 33060
      '--loose-mysql-native-password=ON', // 8.4: load the plugin so sluice can authenticate with it
      '--loose-replica-net-timeout=10',
    ];
    if (s.semiSync) {
      // Both sides on every server (see the MariaDB flavour).
      args.push(
        '--plugin-load-add=semisync_source.so',
        '--loose-rpl-semi-sync-source-enabled=ON',
        `--loose-rpl-semi-sync-source-timeout=${s.semiSyncTimeoutMs}`,
        '--plugin-load-add=semisync_replica.so',
        '--loose-rpl-semi-sync-replica-enabled=ON',
      );
    }
    return args;
  },
  replicationSql(primaryHost, primaryPort, repl) {
    return [
      `CHANGE REPLICATION SOURCE TO SOURCE_HOST=${sqlString(primaryHost)}, SOURCE_PORT=${primaryPort}, ` +
        `SOURCE_USER=${sqlString(repl.user)}, SOURCE_PASSWORD=${sqlString(repl.password)}, ` +
        'SOURCE_AUTO_POSITION=1, SOURCE_CONNECT_RETRY=1, GET_SOURCE_PUBLIC_KEY=1',
      'START REPLICA',
    ];
  },
  async accountSql(_bin, spec, query) {
    return accountStatements(spec, 'REPLICATION CLIENT', await mysqlIdentified(query));
  },
  async replAccountSql(repl, query) {
    return replStatements(repl, (await mysqlIdentified(query))(repl));
  },
  semiSyncClientsVariable: 'Rpl_semi_sync_source_clients',
  primaryPositionSql: 'SELECT @@GLOBAL.gtid_executed AS pos',
  waitPositionSql: 'SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS r',
  replicaState(query) {
    return showReplicaState(query, 'SHOW REPLICA STATUS', 'Replica');
  },
};

/**
 * The application account gets an explicit list — never ALL PRIVILEGES, which on MariaDB 10.11
 * includes READ_ONLY ADMIN and would let it write on a read_only replica.
 */
export const APP_PRIVILEGES =
  'SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, CREATE TEMPORARY TABLES, LOCK TABLES, ' +
  'EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EVENT, TRIGGER, PROCESS, RELOAD, FILE';

function accountStatements(spec: AccountSpec, monitorPrivileges: string, identified: (c: Credentials) => string): string[] {
  const out: string[] = [];
  for (const host of ['%', 'localhost']) {
    const app = `${sqlString(spec.app.user)}@${sqlString(host)}`;
    out.push(`CREATE USER ${app} ${identified(spec.app)}`);
    out.push(`GRANT ${APP_PRIVILEGES}, ${monitorPrivileges} ON *.* TO ${app}`);
    const admin = `${sqlString(spec.admin.user)}@${sqlString(host)}`;
    out.push(`CREATE USER ${admin} ${identified(spec.admin)}`);
    out.push(`GRANT ALL PRIVILEGES ON *.* TO ${admin} WITH GRANT OPTION`);
  }
  out.push(`CREATE DATABASE IF NOT EXISTS \`${spec.database.replace(/`/g, '``')}\``);
  return out;
}

function replStatements(repl: Credentials, identified: string): string[] {
  const account = `${sqlString(repl.user)}@'%'`;
  return [
    'SET SESSION sql_log_bin = 0',
    `CREATE USER ${account} ${identified}`,
    `GRANT REPLICATION SLAVE ON *.* TO ${account}`,
    'SET SESSION sql_log_bin = 1',
  ];
}

/** MySQL: mysql_native_password when the server has it (Sluice authenticates with it), else the default. */
async function mysqlIdentified(query: QueryFn): Promise<(c: Credentials) => string> {
  const rows = (await query(
    "SELECT PLUGIN_STATUS AS s FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'mysql_native_password'",
  )) as { s?: unknown }[];
  const native = rows[0]?.s === 'ACTIVE';
  return (c) =>
    native ? `IDENTIFIED WITH mysql_native_password BY ${sqlString(c.password)}` : `IDENTIFIED BY ${sqlString(c.password)}`;
}

export function flavorFor(bin: ServerBinary): Flavor {
  return bin.kind === 'mariadb' ? mariadbFlavor : mysqlFlavor;
}
