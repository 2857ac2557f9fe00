#!/usr/bin/env node
/**
 * Command line: `sluice start --config conf/sluice.yaml`, `sluice check --config …`,
 * `sluice sandbox [--port 8066] [--base-port 3311]`.
 */
import { parseArgs } from 'node:util';
import { createLogger, logsWritten, resolveLogFormat, LOG_FORMAT_ENV } from './logger.js';
import { ConfigError, describeConfig, loadConfigFile, validateConfig } from './config/index.js';
import { startSluice, type Sluice } from './app.js';
import { describeReload } from './admin/admin-server.js';
import { sandboxProxyConfig, startSandbox, type Sandbox } from './sandbox/index.js';

const USAGE = `usage:
  sluice start   --config <file>    run the proxy
  sluice check   --config <file>    validate a config file: what it does, warnings, effective settings
  sluice sandbox [--port 8066] [--base-port 3311] [--replicas 2]
                                    start a local primary + replicas (mariadbd/mysqld on PATH)
                                    with replication, and the proxy in front; Ctrl-C stops all
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
      // The path lets the admin port's SAVE CONFIG / RELOAD @@CONFIG work on this file.
      const sluice = await startSluice(config, log, { configPath: values.config }).catch(async (err: unknown) => {
        await logsWritten(log);
        throw err;
      });
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

async function sandbox(values: { port?: string; 'base-port'?: string; replicas?: string }): Promise<number> {
  const log = createLogger('info', undefined, resolveLogFormat('auto'));
  const port = Number(values.port ?? 8066);
  const basePort = Number(values['base-port'] ?? 3311);
  const replicas = Number(values.replicas ?? 2);
  let sb: Sandbox | undefined;
  let sluice: Sluice | undefined;
  try {
    sb = await startSandbox({ basePort, replicas, semiSync: true, logger: log.child({ component: 'sandbox' }) });
    const config = validateConfig(sandboxProxyConfig(sb, port));
    sluice = await startSluice(config, log);
    const lines = [
      '',
      `Sluice sandbox (${sb.kind} ${sb.version}) is up:`,
      `  primary   ${sb.primary.host}:${sb.primary.port}  (server_id ${sb.primary.serverId}, writeHost)`,
      ...sb.replicas.map((r) => `  ${r.name.padEnd(9)} ${r.host}:${r.port}  (server_id ${r.serverId}, readHost)`),
      `  proxy     ${sluice.address.host}:${sluice.address.port}`,
      '',
      `Connect:  mysql -h ${sluice.address.host} -P ${sluice.address.port} -u ${sb.user} -p${sb.password} sluice_test`,
      `Ctrl-C stops everything and removes ${sb.dir}`,
      '',
    ];
    process.stdout.write(lines.join('\n'));
    await untilSignal();
    return 0;
  } finally {
    await sluice?.close();
    await sb?.stop();
  }
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
