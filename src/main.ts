#!/usr/bin/env node
/**
 * Command line: `sluice start --config conf/sluice.yaml`, `sluice check --config …`,
 * `sluice sandbox [--port N] [--base-port N] [--replicas N]`.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger, logsWritten, resolveLogFormat, LOG_FORMAT_ENV } from './logger.js';
import { ConfigError, describeConfig, loadConfigFile, validateConfig } from './config/index.js';
import { startSluice, type Sluice } from './app.js';
import { startGroup } from './group/primary.js';
import { resolveWorkers } from './config/index.js';
import { describeReload } from './admin/admin-server.js';
import { ListenError } from './frontend/listen.js';
import { formatDnIndex, writerAddressKey } from './cluster/dnindex.js';
import {
  PortInUseError,
  SANDBOX_DATAHOST,
  SANDBOX_PROXY_ADMIN_USER,
  sandboxDnIndexFile,
  SandboxUsageError,
  planSandboxPorts,
  sandboxBanner,
  sandboxProxyConfig,
  startSandbox,
  type Sandbox,
  type SandboxPortPlan,
} from './sandbox/index.js';

const USAGE = `usage:
  sluice start   --config <file>    run the proxy
  sluice check   --config <file>    validate a config file: what it does, warnings, effective settings
  sluice sandbox [--base-port N] [--port N] [--replicas 2]
                                    start a local primary + replicas (mariadbd/mysqld on PATH)
                                    with replication, and the proxy (with its admin port and
                                    HTTP status page) in front; Ctrl-C stops all.
                                    Ports: 3311-3313, 8066, 9066, 9067 when free, else free ones;
                                    --base-port N: servers from N, then proxy, admin, HTTP;
                                    --base-port 0: all picked by the OS; --port N: the proxy's.
logs: JSON lines on stderr, readable lines when stderr is a terminal;
      force with log.format (config) or ${LOG_FORMAT_ENV}=json|pretty`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', short: 'c' },
      port: { type: 'string' },
      'base-port': { type: 'string' },
      replicas: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  });
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE + '\n');
    return command === undefined ? 2 : 0;
  }
  switch (command) {
    case 'start':
    case 'check': {
      if (!values.config) {
        process.stderr.write('--config <file> is required\n' + USAGE + '\n');
        return 2;
      }
      let config;
      try {
        config = loadConfigFile(values.config);
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`sluice: ${values.config} is not valid:\n${err.errors.map((e) => `  - ${e}`).join('\n')}\n`);
          return 1;
        }
        throw err;
      }
      if (command === 'check') {
        const { lines, warnings } = describeConfig(config);
        process.stdout.write(
          `${values.config}: OK\n\nWhat it does:\n${lines.map((l) => `  - ${l}`).join('\n')}\n` +
            (warnings.length > 0 ? `\nWarnings:\n${warnings.map((w) => `  - ${w}`).join('\n')}\n` : '\nWarnings: none\n') +
            `\nEffective settings:\n${JSON.stringify(config, redactPasswords, 2)}\n`,
        );
        return 0;
      }
      const log = createLogger(config.log.level, undefined, resolveLogFormat(config.log.format));
      // The path lets the admin port's SAVE CONFIG / RELOAD @@CONFIG work on this file. Several
      // workers: this process becomes the group's primary and forks them (group/primary.ts).
      const opts = { configPath: values.config };
      const sluice = await (resolveWorkers(config.workers).count > 1 ? startGroup(config, log, opts) : startSluice(config, log, opts)).catch(
        async (err: unknown) => {
          await logsWritten(log);
          throw err;
        },
      );
      // `kill -HUP`: re-read the file and apply it, exactly like the admin port's RELOAD @@CONFIG.
      const file = values.config;
      const onHangup = (): void => {
        try {
          const result = sluice.reloadConfig('SIGHUP');
          log.warn({ file, live: result.live, restart: result.restart, notes: result.notes }, describeReload(file, result));
        } catch (err) {
          const problems = err instanceof ConfigError ? err.errors : [(err as Error).message];
          log.error({ file, problems }, 'SIGHUP: the config file is not valid; the running configuration is kept');
        }
      };
      process.on('SIGHUP', onHangup);
      await untilSignal();
      process.off('SIGHUP', onHangup);
      log.info('shutting down');
      await sluice.close();
      return 0;
    }
    case 'sandbox':
      return sandbox(values);
    default:
      process.stderr.write(`unknown command '${command}'\n${USAGE}\n`);
      return 2;
  }
}

/** One sentence for the person at the terminal; the sandbox's usage and port problems end here. */
function sandboxFailure(message: string): number {
  process.stderr.write(`sluice sandbox: ${message}\n`);
  return 1;
}

function portOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new SandboxUsageError(`${name} must be a port number 0-65535, got "${value}"`);
  }
  return n;
}

async function sandbox(values: { port?: string; 'base-port'?: string; replicas?: string }): Promise<number> {
  let plan: SandboxPortPlan;
  let replicas: number;
  try {
    replicas = Number(values.replicas ?? 2);
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > 32) {
      throw new SandboxUsageError(`--replicas must be an integer 0-32, got "${values.replicas}"`);
    }
    const port = portOption('--port', values.port);
    const basePort = portOption('--base-port', values['base-port']);
    // Every port is settled before anything starts: a busy one costs no server start-up.
    plan = await planSandboxPorts({ replicas, ...(port !== undefined ? { port } : {}), ...(basePort !== undefined ? { basePort } : {}) });
  } catch (err) {
    if (err instanceof PortInUseError || err instanceof SandboxUsageError) return sandboxFailure(err.message);
    throw err;
  }
  const log = createLogger('info', undefined, resolveLogFormat('auto'));
  // A fresh one each run: the admin port can change backends, and a well-known password on a
  // port that outlives the person's attention is how accidents happen. The banner prints it.
  const adminPassword = randomBytes(6).toString('hex');
  let sb: Sandbox | undefined;
  let sluice: Sluice | undefined;
  let failure: string;
  try {
    sb = await startSandbox({ basePort: plan.servers, replicas, semiSync: true, logger: log });
    // The sandbox is a fresh start on its primary, not a missing file: recording that up front
    // keeps the dnindex warnings meant for production out of the first screen.
    writeFileSync(
      sandboxDnIndexFile(sb.dir),
      formatDnIndex(new Map([[SANDBOX_DATAHOST, '0'], [writerAddressKey(SANDBOX_DATAHOST), `${sb.primary.host}:${sb.primary.port}`]])),
    );
    const config = validateConfig(
      sandboxProxyConfig(sb, plan.listen, { admin: { port: plan.admin, password: adminPassword }, http: { port: plan.http } }),
    );
    sluice = await startSluice(config, log);
    if (sluice.adminAddress === undefined || sluice.httpAddress === undefined) throw new Error('internal: admin port or HTTP endpoint missing');
    process.stdout.write(
      sandboxBanner({
        kind: sb.kind,
        version: sb.version,
        dir: sb.dir,
        primary: sb.primary,
        replicas: sb.replicas,
        user: sb.user,
        password: sb.password,
        database: sb.database,
        proxy: sluice.address,
        admin: { ...sluice.adminAddress, user: SANDBOX_PROXY_ADMIN_USER, password: adminPassword },
        http: sluice.httpAddress,
        moved: plan.moved,
      }),
    );
    await untilSignal();
    return 0;
  } catch (err) {
    // Another program took a port between the check and the bind: same sentence as above.
    if (err instanceof PortInUseError) failure = err.message;
    else if (err instanceof ListenError) {
      const section = err.section as 'listen' | 'admin' | 'http';
      failure = err.code === 'EADDRINUSE' ? new PortInUseError(err.port, plan.option[section]).message : err.errors.join('; ');
    } else throw err;
  } finally {
    await sluice?.close();
    await sb?.stop();
  }
  // After the servers are gone and their last records are out: the sentence is the last line.
  await logsWritten(log);
  return sandboxFailure(failure);
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

function redactPasswords(key: string, value: unknown): unknown {
  return /password$/i.test(key) ? '***' : value;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // A problem found while starting (a corrupt dnindex file, an unreadable certificate) is a
    // configuration problem: say what and where, without a stack trace.
    if (err instanceof ConfigError) {
      process.stderr.write(`sluice: cannot start:\n${err.errors.map((e) => `  - ${e}`).join('\n')}\n`);
    } else {
      process.stderr.write(`sluice: ${(err as Error).stack ?? String(err)}\n`);
    }
    process.exit(1);
  },
);
