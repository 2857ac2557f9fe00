/**
 * Just enough PromQL and Prometheus text exposition to check that the shipped dashboard and
 * alert rules only name metrics and labels Sluice really exports (test/integration/
 * dashboards.test.ts). Syntax itself is promtool's job; this only finds the names:
 *
 *   - a metric is an identifier that is not followed by `(` (that is a function or an
 *     aggregation), is not a keyword, and is not inside `{…}` / `[…]` / a label list;
 *   - the labels in its `{…}` matchers belong to that metric;
 *   - the labels of `by (…)`, `without (…)`, `on (…)`, `ignoring (…)`, `group_left (…)` and
 *     `group_right (…)` belong to the expression as a whole.
 */

export interface Selector {
  /** Metric name as written (may end in _bucket/_sum/_count); undefined for a bare `{…}` without __name__. */
  readonly metric: string | undefined;
  /** Label names in the matchers, `__name__` left out. */
  readonly labels: readonly string[];
}

export interface ExprNames {
  readonly selectors: readonly Selector[];
  /** Labels named in grouping / matching clauses. */
  readonly grouping: readonly string[];
}

type Token = { kind: 'ident' | 'string' | 'number' | 'punct'; text: string };

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan', 'start', 'end']);
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

function lex(expr: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      // A comment runs to the end of the line.
      while (i < expr.length && expr[i] !== '\n') i++;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += c !== '`' && expr[j] === '\\' ? 2 : 1;
      if (j >= expr.length) throw new Error(`unterminated string in ${expr}`);
      out.push({ kind: 'string', text: JSON.parse(c === '"' ? expr.slice(i, j + 1) : JSON.stringify(expr.slice(i + 1, j))) as string });
      i = j + 1;
    } else if (/[0-9.]/.test(c)) {
      // Numbers and durations (5m, 1h30m, 1e-3, 0x1f) in one token.
      const m = /^[0-9.][0-9a-zA-Z.+-]*/.exec(expr.slice(i))!;
      let text = m[0];
      // `1-2`: the sign belongs to an exponent only right after e/E.
      const cut = /[^eE][+-]/.exec(text);
      if (cut) text = text.slice(0, cut.index + 1);
      out.push({ kind: 'number', text });
      i += text.length;
    } else if (/[a-zA-Z_:]/.test(c)) {
      const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i))!;
      out.push({ kind: 'ident', text: m[0] });
      i += m[0].length;
    } else if (c === '$') {
      // A Grafana variable outside a string ($__rate_interval in a range): not a name.
      const m = /^\$\{?[a-zA-Z0-9_]+\}?/.exec(expr.slice(i));
      if (!m) throw new Error(`stray $ in ${expr}`);
      out.push({ kind: 'number', text: m[0] });
      i += m[0].length;
    } else {
      const two = expr.slice(i, i + 2);
      const p = ['!=', '=~', '!~', '==', '>=', '<='].includes(two) ? two : c;
      out.push({ kind: 'punct', text: p });
      i += p.length;
    }
  }
  return out;
}

/** The metric selectors and grouping labels of one PromQL expression. */
export function promqlNames(expr: string): ExprNames {
  const t = lex(expr);
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  const at = (k: number): Token | undefined => t[k];
  const is = (k: number, text: string): boolean => at(k)?.kind === 'punct' && at(k)!.text === text;

  // Reads `{…}` from k (at '{'); returns the labels, the __name__ value if any, and the index after '}'.
  const matchers = (k: number): { labels: string[]; name: string | undefined; next: number } => {
    const labels: string[] = [];
    let name: string | undefined;
    k++;
    while (!is(k, '}')) {
      const label = at(k);
      if (!label || label.kind !== 'ident') throw new Error(`expected a label name at token ${k} in ${expr}`);
      const op = at(k + 1);
      const value = at(k + 2);
      if (!op || !['=', '!=', '=~', '!~'].includes(op.text) || value?.kind !== 'string') {
        throw new Error(`bad matcher after ${label.text} in ${expr}`);
      }
      if (label.text === '__name__' && op.text === '=') name = value.text;
      else if (label.text !== '__name__') labels.push(label.text);
      k += 3;
      if (is(k, ',')) k++;
    }
    return { labels, name, next: k + 1 };
  };

  let k = 0;
  while (k < t.length) {
    const tok = t[k]!;
    if (tok.kind === 'punct' && tok.text === '[') {
      // Range or subquery: durations only.
      while (k < t.length && !is(k, ']')) k++;
      k++;
    } else if (tok.kind === 'punct' && tok.text === '{') {
      const m = matchers(k);
      selectors.push({ metric: m.name, labels: m.labels });
      k = m.next;
    } else if (tok.kind === 'ident' && LABEL_LISTS.has(tok.text)) {
      k++;
      if (is(k, '(')) {
        k++;
        while (!is(k, ')')) {
          const l = at(k);
          if (!l) throw new Error(`unclosed ${tok.text} (…) in ${expr}`);
          if (l.kind === 'ident') grouping.push(l.text);
          k++;
        }
        k++;
      }
    } else if (tok.kind === 'ident' && KEYWORDS.has(tok.text.toLowerCase())) {
      k++;
    } else if (tok.kind === 'ident') {
      const next = at(k + 1);
      if (next?.kind === 'punct' && next.text === '(') {
        k++; // function call
      } else if (next?.kind === 'ident' && (next.text === 'by' || next.text === 'without')) {
        k++; // aggregation with its clause first: sum by (x) (…)
      } else if (next?.kind === 'punct' && next.text === '{') {
        const m = matchers(k + 1);
        selectors.push({ metric: tok.text, labels: m.labels });
        k = m.next;
      } else {
        selectors.push({ metric: tok.text, labels: [] });
        k++;
      }
    } else {
      k++;
    }
  }
  return { selectors, grouping };
}

/** Grafana's `label_values(selector, label)` variable query, split; undefined for other queries. */
export function labelValuesQuery(q: string): { selector: string; label: string } | undefined {
  const m = /^\s*label_values\(\s*(.*?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/s.exec(q);
  return m ? { selector: m[1]!, label: m[2]! } : undefined;
}

export interface Family {
  readonly type: string;
  /** Label names seen on its samples, per sample name (`x_bucket`, `x_sum`, … for histograms). */
  readonly samples: Map<string, Set<string>>;
}

/** Prometheus text exposition → metric families by name (from `# TYPE` lines). */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const suffixes: Record<string, readonly string[]> = {
    histogram: ['_bucket', '_sum', '_count'],
    summary: ['_sum', '_count'],
  };
  const familyOf = (sample: string): Family | undefined => {
    const exact = families.get(sample);
    if (exact) return exact;
    for (const [name, f] of families) {
      if ((suffixes[f.type] ?? []).some((s) => sample === name + s)) return f;
    }
    return undefined;
  };
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      families.set(type[1]!, { type: type[2]!, samples: new Map() });
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+/.exec(line);
    if (!m) throw new Error(`unparsable /metrics line: ${line}`);
    const f = familyOf(m[1]!);
    if (!f) throw new Error(`/metrics sample without a # TYPE: ${line}`);
    const labels = f.samples.get(m[1]!) ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)) labels.add(l[1]!);
    f.samples.set(m[1]!, labels);
  }
  return families;
}

/**
 * What a series named `name` (as written in PromQL) resolves to in the scrape: the family and
 * the labels its samples carry; undefined when /metrics has no such series. A histogram's
 * `_bucket` / `_sum` / `_count` resolve to the histogram (only those: `x_total` is not `x`), and
 * the histogram's own name is no series at all.
 */
export function resolveSeries(families: Map<string, Family>, name: string): { family: string; labels: Set<string> } | undefined {
  for (const [family, f] of families) {
    const labels = f.samples.get(name);
    if (!labels) continue;
    return { family, labels };
  }
  return undefined;
}
