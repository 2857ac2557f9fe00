/**
 * The root pino logger. Components take a Logger parameter (child loggers per connection and
 * per backend); only main.ts and the test helpers create roots. Secrets are redacted by path so
 * a logged config or error never carries a password.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export function createLogger(level: LevelWithSilent = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'sluice' },
      redact: { paths: ['password', '*.password', '*.*.password', 'config.dataHost.password'], censor: '***' },
      serializers: { err: pino.stdSerializers.err },
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
}

export type { Logger };
