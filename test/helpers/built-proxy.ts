/**
 * The proxy as it is deployed (`tsc`, then `node dist/main.js start`), in its own process in
 * front of a sandbox: for tests that measure the proxy's own memory (under tsx the on-the-fly
 * compiler's memory would be counted too).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sandboxProxyConfig } from '../../src/sandbox/index.js';
import type { SandboxInfo } from './sandbox.js';

const execFileP = promisify(execFile);

export interface BuiltProxy {
  readonly port: number;
  /** A field of /proc/<pid>/status in kB (`VmRSS`, `VmHWM`). */
  memoryKb(field: 'VmRSS' | 'VmHWM'): number;
  stop(): void;
}

export async function startBuiltProxy(sb: SandboxInfo): Promise<BuiltProxy> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-built-'));
  const conf = path.join(dir, 'sluice.yaml');
  writeFileSync(conf, JSON.stringify({ ...sandboxProxyConfig({ ...sb, dir }, 0), log: { level: 'info' } }));
  await execFileP(process.execPath, [path.join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
  const child = spawn(process.execPath, ['dist/main.js', 'start', '--config', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let buf = '';
      child.stderr.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /"port":(\d+)/.exec(buf);
        if (m && buf.includes('sluice listening')) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`proxy exited ${code}: ${buf}`)));
    });
    return {
      port,
      memoryKb: (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]),
      stop: () => child.kill('SIGTERM'),
    };
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
}
