/** Reading (and atomically writing) `conf/sluice.yaml`. */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, stringify } from 'yaml';
import type { SluiceConfig } from './types.js';
import { ConfigError } from './config-error.js';
import { validateConfig } from './validate.js';

/**
 * Parses YAML text and validates it. YAML syntax errors become ConfigError entries
 * `<source>:<line>:<column>: <message>`; validation problems keep their config paths.
 */
export function parseConfigText(text: string, source: string, baseDir?: string): SluiceConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        const where = pos === undefined ? source : `${source}:${pos.line}:${pos.col}`;
        return `${where}: ${e.message.split('\n')[0]} (YAML syntax)`;
      }),
      source,
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError([`${source}: ${(err as Error).message} (YAML)`], source);
  }
  try {
    return validateConfig(raw, baseDir === undefined ? {} : { baseDir });
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.errors, source);
    throw err;
  }
}

/**
 * Reads, parses and validates a config file. A relative `dataHost.failover.dnindexFile` is
 * resolved against the file's directory; by default the dnindex file lives next to it.
 * @throws ConfigError (unreadable file, YAML syntax, or every validation problem).
 */
export function loadConfigFile(file: string): SluiceConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read: ${(err as Error).message}`], file);
  }
  return parseConfigText(text, file, path.dirname(path.resolve(file)));
}

/** YAML for a config (dnindexFile written relative to `file`'s directory when it lies below it). */
export function serializeConfig(config: SluiceConfig, file?: string): string {
  const plain = JSON.parse(JSON.stringify(config)) as { dataHost: { failover: { dnindexFile: string } }; cluster?: { cooperation: string } };
  // Without cooperation the section only holds defaults (the instance name is this machine's).
  if (plain.cluster?.cooperation === 'none') delete plain.cluster;
  if (file !== undefined) {
    const rel = path.relative(path.dirname(path.resolve(file)), plain.dataHost.failover.dnindexFile);
    if (!rel.startsWith('..') && !path.isAbsolute(rel)) plain.dataHost.failover.dnindexFile = rel;
  }
  return stringify(plain, { lineWidth: 0 });
}

/**
 * Atomic save (temp file in the same directory, fsync, rename): a crash leaves either the old
 * or the new file, never half of one. The config is re-validated first. Comments are not kept.
 */
export function saveConfigFile(file: string, config: SluiceConfig): void {
  const text = serializeConfig(validateConfig(JSON.parse(JSON.stringify(config))), file);
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, file);
  try {
    const dfd = openSync(path.dirname(path.resolve(file)), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* directory fsync is best effort (not supported everywhere) */
  }
}
