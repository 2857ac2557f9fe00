/** Locating the server binaries on this machine and telling MariaDB from MySQL. */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { SandboxKind } from './types.js';

const execFileP = promisify(execFile);

/** Where distributions and tarballs put the server when it is not on PATH. */
const EXTRA_DIRS = ['/usr/sbin', '/usr/libexec', '/usr/local/mysql/bin', '/usr/local/mariadb/bin', '/usr/local/bin'];

export interface ServerBinary {
  readonly kind: SandboxKind;
  readonly path: string;
  /** e.g. "10.11.19-MariaDB-0+deb12u1" or "8.0.36". */
  readonly version: string;
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

function searchDirs(): string[] {
  const fromPath = (process.env['PATH'] ?? '').split(path.delimiter).filter((d) => d !== '');
  return [...new Set([...fromPath, ...EXTRA_DIRS])];
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** First executable among `names` in PATH, then in `extraDirs`. */
export function findExecutable(names: readonly string[], extraDirs: readonly string[] = []): string | undefined {
  const dirs = [...searchDirs(), ...extraDirs];
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

export function parseServerVersion(output: string): Omit<ServerBinary, 'path'> {
  const m = /Ver\s+(\d+)\.(\d+)\.(\d+)(\S*)/.exec(output);
  if (m === null) throw new Error(`cannot parse the server version from: ${output.trim()}`);
  const kind: SandboxKind = /mariadb/i.test(output) ? 'mariadb' : 'mysql';
  return {
    kind,
    version: `${m[1]}.${m[2]}.${m[3]}${m[4] ?? ''}`,
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
  };
}

/** Finds `mariadbd` (preferred) or `mysqld` and runs `--version` to detect the flavour. */
export async function findServerBinary(): Promise<ServerBinary> {
  const bin = findExecutable(['mariadbd', 'mysqld']);
  if (bin === undefined) {
    throw new Error(
      `no mariadbd or mysqld found on PATH or in ${EXTRA_DIRS.join(', ')}; install MariaDB ` +
        `(Debian: apt-get install mariadb-server) or MySQL 8`,
    );
  }
  const { stdout, stderr } = await execFileP(bin, ['--no-defaults', '--version'], { timeout: 15_000 });
  return { path: bin, ...parseServerVersion(`${stdout}${stderr}`) };
}

/** `mariadb-install-db` / `mysql_install_db` (MariaDB only; MySQL uses `mysqld --initialize-insecure`). */
export function findMariadbInstallDb(serverPath: string): string {
  const dir = path.dirname(serverPath);
  const found = findExecutable(['mariadb-install-db', 'mysql_install_db'], [
    '/usr/bin',
    dir,
    path.join(dir, '..', 'scripts'),
    path.join(dir, '..', 'bin'),
  ]);
  if (found === undefined) throw new Error('mariadb-install-db (or mysql_install_db) not found next to ' + serverPath);
  return found;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
