/**
 * The root pino logger. Components take a Logger parameter (child loggers per connection and
 * per backend); only main.ts and the test helpers create roots. Secrets are redacted by path so
 * a logged config or error never carries a password.
 *
 * Two formats: JSON lines (services, files, log shippers, tests) and pino-pretty's one line per
 * record for a person watching a terminal. `auto` picks pretty only when stderr is a terminal,
 * so nothing that reads the logs by machine ever gets the pretty form unless asked for it.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { PinoPretty } from 'pino-pretty';
import { ConfigError } from './config/config-error.js';

export type LogFormat = 'json' | 'pretty';
export type LogFormatSetting = LogFormat | 'auto';

/** Overrides `log.format` (and the sandbox's choice) without editing a file: json | pretty | auto. */
export const LOG_FORMAT_ENV = 'SLUICE_LOG_FORMAT';

/**
 * The format to use: the SLUICE_LOG_FORMAT variable when set, else the configured one; `auto`
 * becomes pretty when stderr (where logs go) is a terminal. An unknown variable value is an
 * error rather than a silent fallback, like an unknown config value.
 */
export function resolveLogFormat(
  configured: LogFormatSetting = 'auto',
  env: NodeJS.ProcessEnv = process.env,
  stderrIsTTY: boolean = process.stderr.isTTY === true,
): LogFormat {
  const fromEnv = env[LOG_FORMAT_ENV];
  let wanted: string = configured;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv !== 'json' && fromEnv !== 'pretty' && fromEnv !== 'auto') {
      throw new ConfigError([`${LOG_FORMAT_ENV}: must be json, pretty or auto, got "${fromEnv}"`]);
    }
    wanted = fromEnv;
  }
  if (wanted === 'auto') return stderrIsTTY ? 'pretty' : 'json';
  return wanted as LogFormat;
}

export function createLogger(
  level: LevelWithSilent = 'info',
  destination?: pino.DestinationStream,
  format: LogFormat = 'json',
): Logger {
  return pino(
    {
      level,
      base: { app: 'sluice' },
      redact: { paths: ['password', '*.password', '*.*.password', 'config.dataHost.password'], censor: '***' },
      serializers: { err: pino.stdSerializers.err },
    },
    format === 'pretty' ? prettyStream(destination) : (destination ?? pino.destination({ fd: 2, sync: false })),
  );
}

function prettyStream(destination: pino.DestinationStream | undefined): pino.DestinationStream {
  const toTerminal = destination === undefined && process.stderr.isTTY === true;
  return PinoPretty({
    // Colours only for a terminal: a forced-pretty log written to a file stays plain text.
    colorize: toTerminal,
    translateTime: 'SYS:HH:MM:ss.l',
    // One line per record, the component in front of the message: a start-up is ~20 records,
    // and the multi-line form would push the sandbox banner off the screen.
    singleLine: true,
    messageFormat: '{if component}{component}: {end}{msg}',
    // `app` is the same on every line; it matters only where logs of many programs are mixed.
    ignore: 'pid,hostname,app,component',
    // Synchronous: a person reads this, and the lines must come before what main prints to
    // stdout afterwards (the sandbox banner, an error sentence) and survive process.exit.
    sync: true,
    ...(destination === undefined ? { destination: 2 } : { destination: destination as NodeJS.WritableStream }),
  });
}

/**
 * Resolves once the records logged so far have been written out. JSON logs go to fd 2
 * asynchronously (sonic-boom), and a message main.ts writes to stderr itself (why the start
 * failed) must come after them, not between them. pino's flush(cb) calls back at once for an
 * unbuffered destination even while a write is still in flight, so an in-flight write is
 * awaited through the destination's 'drain' event (bounded: this only orders output).
 */
export function logsWritten(log: Logger): Promise<void> {
  const stream = (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    | { _writing?: boolean; once?: (event: 'drain', cb: () => void) => void }
    | undefined;
  return new Promise((resolve) => {
    if (stream?._writing === true && typeof stream.once === 'function') {
      const timer = setTimeout(resolve, 1_000);
      stream.once('drain', () => {
        clearTimeout(timer);
        resolve();
      });
    } else {
      log.flush(() => resolve());
    }
  });
}

export type { Logger };
