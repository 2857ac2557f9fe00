/**
 * The Checker: generic typed field checks for validateConfig's section checks. Each check records
 * a problem as `<path>: <problem>` and returns a usable placeholder, so checking goes on and
 * every problem is listed. Also what all section checks share: ValidateOptions and the bounds.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface ValidateOptions {
  /**
   * Directory of the config file. A relative `failover.dnindexFile` is resolved against it and
   * the default becomes `<baseDir>/dnindex.properties`. Without it the path is kept as given
   * (default `conf/dnindex.properties`, relative to the working directory). TLS and RSA key
   * paths are resolved against it too (else against the working directory) and must exist.
   */
  readonly baseDir?: string;
}

/** Largest delay `setTimeout` honours; bigger values silently fire after 1 ms. */
export const MAX_MS = 2_147_483_647;
export const MAX_PORT = 65_535;

/** A mapping as parsed (YAML, admin API input). */
export type Obj = Record<string, unknown>;

/** Human description of a value for "got …". */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Date) return `a date (${v.toISOString()})`;
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] ?? 0;
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      prev[j] = Math.min((prev[j] ?? 0) + 1, (prev[j - 1] ?? 0) + 1, diag + cost);
      diag = tmp;
    }
  }
  return prev[b.length] ?? 0;
}

function suggestion(key: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const k of known) {
    const d = levenshtein(key, k);
    if (d < bestDist) {
      best = k;
      bestDist = d;
    }
  }
  return best !== undefined && bestDist <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

function join(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

/** Collects problems; every reader returns a usable placeholder so checking continues. */
export class Checker {
  readonly errors: string[] = [];

  problem(p: string, msg: string): void {
    this.errors.push(`${p === '' ? '(root)' : p}: ${msg}`);
  }

  /** A mapping with only `known` keys; undefined (with a problem) otherwise. */
  mapping(v: unknown, p: string, known: readonly string[]): Obj | undefined {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Date) {
      this.problem(p, `must be a mapping, got ${describe(v)}`);
      return undefined;
    }
    const o = v as Obj;
    for (const k of Object.keys(o)) {
      if (!known.includes(k)) this.problem(join(p, k), `unknown key${suggestion(k, known)}`);
    }
    return o;
  }

  /** Optional sub-mapping: missing/null → {} (all defaults). */
  section(o: Obj | undefined, key: string, p: string, known: readonly string[]): Obj {
    const v = o?.[key];
    if (v === undefined || v === null) return {};
    return this.mapping(v, join(p, key), known) ?? {};
  }

  present(o: Obj | undefined, key: string): boolean {
    return o !== undefined && o[key] !== undefined && o[key] !== null;
  }

  string(o: Obj | undefined, key: string, p: string, opts: { def?: string; allowEmpty?: boolean } = {}): string {
    const at = join(p, key);
    if (!this.present(o, key)) {
      if (opts.def !== undefined) return opts.def;
      if (o !== undefined) this.problem(at, 'is required');
      return '';
    }
    const v = o?.[key];
    if (typeof v !== 'string') {
      const hint = typeof v === 'number' || typeof v === 'boolean' ? ' (quote it in YAML)' : '';
      this.problem(at, `must be a string${hint}, got ${describe(v)}`);
      return '';
    }
    if (!opts.allowEmpty && v.trim() === '') {
      this.problem(at, 'must not be empty');
      return '';
    }
    return v;
  }

  int(o: Obj | undefined, key: string, p: string, min: number, max: number | undefined, def?: number): number {
    const at = join(p, key);
    if (!this.present(o, key)) {
      if (def !== undefined) return def;
      if (o !== undefined) this.problem(at, 'is required');
      return min;
    }
    const v = o?.[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || (max !== undefined && v > max)) {
      const range = max === undefined ? ` >= ${min}` : ` ${min}-${max}`;
      this.problem(at, `must be an integer${range}, got ${describe(v)}`);
      return def ?? min;
    }
    return v;
  }

  number(o: Obj | undefined, key: string, p: string, min: number, def: number): number {
    if (!this.present(o, key)) return def;
    const v = o?.[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
      this.problem(join(p, key), `must be a number >= ${min}, got ${describe(v)}`);
      return def;
    }
    return v;
  }

  bool(o: Obj | undefined, key: string, p: string, def: boolean): boolean {
    if (!this.present(o, key)) return def;
    const v = o?.[key];
    if (typeof v !== 'boolean') {
      this.problem(join(p, key), `must be true or false, got ${describe(v)}`);
      return def;
    }
    return v;
  }

  oneOf<T extends string | number>(o: Obj | undefined, key: string, p: string, allowed: readonly T[], def: T): T {
    if (!this.present(o, key)) return def;
    const v = o?.[key];
    if (!(allowed as readonly unknown[]).includes(v)) {
      this.problem(join(p, key), `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describe(v)}`);
      return def;
    }
    return v as T;
  }

  list(o: Obj | undefined, key: string, p: string, required: boolean): unknown[] {
    const at = join(p, key);
    if (!this.present(o, key)) {
      if (required && o !== undefined) this.problem(at, 'is required (a non-empty list)');
      return [];
    }
    const v = o?.[key];
    if (!Array.isArray(v)) {
      this.problem(at, `must be a list, got ${describe(v)}`);
      return [];
    }
    if (required && v.length === 0) this.problem(at, 'must not be empty');
    return v;
  }

  /**
   * A path to an existing, readable file, resolved against `baseDir` (else the working
   * directory). Returns the absolute path and its contents (undefined contents on a problem).
   */
  file(
    o: Obj | undefined,
    key: string,
    p: string,
    baseDir: string | undefined,
    required: boolean,
  ): { path: string; data: Buffer | undefined } | undefined {
    if (!required && !this.present(o, key)) return undefined;
    const given = this.string(o, key, p);
    if (given === '') return undefined;
    const abs = path.resolve(baseDir ?? '.', given);
    try {
      if (!statSync(abs).isFile()) {
        this.problem(join(p, key), `not a file: ${abs}`);
        return { path: abs, data: undefined };
      }
      return { path: abs, data: readFileSync(abs) };
    } catch (err) {
      const code = (err as { code?: string }).code;
      this.problem(join(p, key), code === 'ENOENT' ? `file not found: ${abs}` : `cannot read ${abs}: ${(err as Error).message}`);
      return { path: abs, data: undefined };
    }
  }
}
