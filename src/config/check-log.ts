/** The log section. */
import { MAX_MS, type Checker, type Obj } from './checker.js';
import { CONFIG_DEFAULTS } from './defaults.js';
import type { LogConfig } from './types.js';

const LOG_LEVELS: readonly LogConfig['level'][] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const LOG_FORMATS: readonly LogConfig['format'][] = ['auto', 'json', 'pretty'];
const LOG_KEYS = ['level', 'format', 'sql', 'slowMs', 'maxStatementLength', 'maskLiterals'] as const;

export function checkLog(c: Checker, root: Obj | undefined): LogConfig {
  const o = c.section(root, 'log', '', LOG_KEYS);
  const d = CONFIG_DEFAULTS.log;
  return {
    level: c.oneOf(o, 'level', 'log', LOG_LEVELS, d.level),
    format: c.oneOf(o, 'format', 'log', LOG_FORMATS, d.format),
    sql: c.bool(o, 'sql', 'log', d.sql),
    slowMs: c.int(o, 'slowMs', 'log', 0, MAX_MS, d.slowMs),
    maxStatementLength: c.int(o, 'maxStatementLength', 'log', 16, 1024 * 1024, d.maxStatementLength),
    maskLiterals: c.bool(o, 'maskLiterals', 'log', d.maskLiterals),
  };
}
