/**
 * The shipped Grafana dashboard (conf/grafana/sluice.json) and Prometheus files
 * (conf/prometheus/: alerts.yml, its unit tests alerts.test.yml, the example prometheus.yml)
 * against a live proxy: every metric and label their PromQL names must exist in a real
 * `/metrics` scrape, so a renamed or removed metric breaks this test instead of an operator's
 * dashboard. Syntax is promtool's (Debian's `prometheus` package, installed by .ci/install-deps):
 * the rules with `check rules` / `test rules`, the dashboard's expressions by checking them as
 * recording rules.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { waitFor } from '../helpers/sandbox.js';
import { labelValuesQuery, parseExposition, promqlNames, resolveSeries, type Family } from '../helpers/promql.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DASHBOARD = path.join(root, 'conf/grafana/sluice.json');
const PROM_DIR = path.join(root, 'conf/prometheus');

/** Labels Prometheus puts on every scraped series (the target's), not in /metrics itself. */
const TARGET_LABELS = ['job', 'instance'];
/** Series Prometheus makes up per target: `up` (SluiceDown). */
const SYNTHETIC: Record<string, readonly string[]> = { up: TARGET_LABELS };

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: { expr: string; refId: string; legendFormat?: string; datasource?: { uid: string } }[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; datasource?: { uid: string } }[] };
  annotations: { list: { expr?: string; datasource?: { uid: string } }[] };
  __inputs?: unknown[];
}

/** Where a PromQL expression comes from, for messages. */
interface Expr {
  readonly where: string;
  readonly expr: string;
  /** `{{label}}` names of a legend or annotation template. */
  readonly templateLabels: readonly string[];
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const alertRules = parseYaml(readFileSync(path.join(PROM_DIR, 'alerts.yml'), 'utf8')) as {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string; labels?: Record<string, string>; annotations?: Record<string, string> }[] }[];
};

function allPanels(list: Panel[]): Panel[] {
  return list.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

const templateLabels = (s: string | undefined): string[] =>
  [...(s ?? '').matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((m) => m[1]!);

function dashboardExprs(d: Dashboard): Expr[] {
  const out: Expr[] = [];
  for (const p of allPanels(d.panels)) {
    for (const t of p.targets ?? []) {
      out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr, templateLabels: templateLabels(t.legendFormat) });
    }
  }
  d.annotations.list.forEach((a, i) => {
    if (a.expr) out.push({ where: `annotation ${i}`, expr: a.expr, templateLabels: [] });
  });
  return out;
}

function alertExprs(): Expr[] {
  return alertRules.groups.flatMap((g) =>
    g.rules.map((r) => ({
      where: `alert ${r.alert ?? r.record}`,
      expr: r.expr,
      // $labels.x in annotations must be labels the alert's series carry.
      templateLabels: Object.values(r.annotations ?? {}).flatMap((a) => [...a.matchAll(/\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)/g)].map((m) => m[1]!)),
    })),
  );
}

/** The dashboard's `label_values(selector, label)` variables, as expressions + the label they read. */
function variableQueries(d: Dashboard): { where: string; selector: string; label: string }[] {
  const out: { where: string; selector: string; label: string }[] = [];
  for (const v of d.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query as { query: string }).query;
    const lv = labelValuesQuery(q);
    assert.ok(lv, `variable ${v.name}: only label_values(selector, label) queries are checked, got ${q}`);
    out.push({ where: `variable ${v.name}`, ...lv });
  }
  return out;
}

/**
 * Every problem with the names in `exprs` against the scrape: unknown metrics, labels a
 * selector uses that its metric does not carry, grouping / legend labels no metric of the
 * expression carries. Empty when all is well.
 */
function nameProblems(families: Map<string, Family>, exprs: readonly Expr[]): string[] {
  const problems: string[] = [];
  for (const e of exprs) {
    let names;
    try {
      names = promqlNames(e.expr);
    } catch (err) {
      problems.push(`${e.where}: ${(err as Error).message}`);
      continue;
    }
    assert.ok(names.selectors.length > 0, `${e.where}: no metric in ${e.expr}`);
    const exprLabels = new Set<string>(TARGET_LABELS);
    for (const s of names.selectors) {
      if (s.metric === undefined) {
        problems.push(`${e.where}: a selector without a metric name in ${e.expr}`);
        continue;
      }
      const synthetic = SYNTHETIC[s.metric];
      const series = synthetic ? { family: s.metric, labels: new Set(synthetic) } : resolveSeries(families, s.metric);
      if (!series) {
        const f = families.get(s.metric);
        problems.push(
          f && (f.type === 'histogram' || f.type === 'summary')
            ? `${e.where}: ${s.metric} is a ${f.type}; use ${s.metric}_bucket / _sum / _count`
            : f
              ? `${e.where}: ${s.metric} has no samples in /metrics (cannot check its labels)`
              : `${e.where}: ${s.metric} is not in /metrics`,
        );
        continue;
      }
      for (const l of series.labels) exprLabels.add(l);
      for (const l of s.labels) {
        if (!series.labels.has(l) && !TARGET_LABELS.includes(l)) {
          problems.push(`${e.where}: ${s.metric} has no label "${l}" (it has: ${[...series.labels].join(', ') || 'none'})`);
        }
      }
    }
    for (const l of [...names.grouping, ...e.templateLabels]) {
      if (!exprLabels.has(l)) problems.push(`${e.where}: label "${l}" is on none of the metrics in ${e.expr}`);
    }
  }
  return problems;
}

function promtool(args: string[], cwd = PROM_DIR): string {
  try {
    return execFileSync('promtool', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stdout?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') throw new Error('promtool is not installed (Debian package "prometheus"; .ci/install-deps installs it)');
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

describe('dashboard JSON', () => {
  test('is an importable dashboard model', () => {
    assert.equal(typeof dashboard.uid, 'string');
    assert.equal(dashboard.title, 'Sluice');
    // 39 = Grafana 10.4 / 11.0; older Grafanas migrate down badly, newer ones migrate up.
    assert.ok(dashboard.schemaVersion >= 36, `schemaVersion ${dashboard.schemaVersion}`);
    // The data source is a variable, so the same file works imported by hand and provisioned.
    const ds = dashboard.templating.list.find((v) => v.type === 'datasource');
    assert.ok(ds, 'a datasource variable');
    assert.equal(ds.query, 'prometheus');
    const dsRef = `\${${ds.name}}`;
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) assert.equal(v.datasource?.uid, dsRef, `variable ${v.name}`);
    for (const a of dashboard.annotations.list.filter((x) => x.expr)) assert.equal(a.datasource?.uid, dsRef);

    const panels = allPanels(dashboard.panels);
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    const cells = new Map<string, string>();
    for (const p of panels) {
      const g = p.gridPos;
      assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0, `panel "${p.title}" fits the 24-column grid`);
      // No two panels on the same grid cell (Grafana would shove one of them around).
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const other = cells.get(`${x},${y}`);
          assert.ok(!other, `panels "${other}" and "${p.title}" overlap`);
          cells.set(`${x},${y}`, p.title);
        }
      }
      if (p.type === 'row') continue;
      assert.ok(p.title && (p.targets?.length ?? 0) > 0, `panel ${p.id} has a title and queries`);
      assert.equal(p.datasource?.uid, dsRef, `panel "${p.title}" uses the datasource variable`);
      const refIds = p.targets!.map((t) => t.refId);
      assert.equal(new Set(refIds).size, refIds.length, `panel "${p.title}" refIds are unique`);
      for (const t of p.targets!) assert.ok(t.expr.trim(), `panel "${p.title}" ${t.refId} has an expression`);
    }
  });

  test('every expression is valid PromQL (promtool, as recording rules)', () => {
    // Grafana's range variables become a fixed range; $instance etc. sit inside regex strings.
    const rules = dashboardExprs(dashboard).map((e, i) => ({
      record: `sluice_dashboard:expr_${i}`,
      expr: e.expr.replaceAll('$__rate_interval', '5m').replaceAll('$__range', '1h').replaceAll('$__interval', '1m'),
    }));
    for (const [i, v] of variableQueries(dashboard).entries()) rules.push({ record: `sluice_dashboard:variable_${i}`, expr: v.selector });
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-dashboard-'));
    try {
      const file = path.join(dir, 'dashboard-rules.yml');
      writeFileSync(file, stringifyYaml({ groups: [{ name: 'dashboard', rules }] }));
      assert.match(promtool(['check', 'rules', file], dir), new RegExp(`SUCCESS: ${rules.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Prometheus files', () => {
  test('alerts.yml: promtool check rules', () => {
    assert.match(promtool(['check', 'rules', 'alerts.yml']), /SUCCESS: \d+ rules found/);
    const names = alertRules.groups.flatMap((g) => g.rules.map((r) => r.alert));
    for (const a of ['SluiceNoWriter', 'SluiceNoReadableHost', 'SluiceReplicationLag', 'SluiceFailover', 'SluiceConsistencyFallbacks']) {
      assert.ok(names.includes(a), `alert ${a} is defined`);
    }
    for (const r of alertRules.groups.flatMap((g) => g.rules)) {
      assert.ok(r.labels?.['severity'], `${r.alert} has a severity`);
      assert.ok(r.annotations?.['summary'], `${r.alert} has a summary`);
    }
  });

  test('alerts.test.yml: each alert fires on its failure and not otherwise (promtool test rules)', () => {
    assert.match(promtool(['test', 'rules', 'alerts.test.yml']), /SUCCESS/);
  });

  test('prometheus.yml: promtool check config (loads alerts.yml)', () => {
    assert.match(promtool(['check', 'config', 'prometheus.yml']), /SUCCESS: prometheus\.yml is valid/);
  });
});

describe('metric names against a live /metrics', () => {
  let proxy: TestProxy;
  let families: Map<string, Family>;

  before(async () => {
    proxy = await startProxy({ http: { host: '127.0.0.1', port: 0 } });
    const url = `http://127.0.0.1:${proxy.sluice.httpAddress!.port}/metrics`;
    // Some series appear only once there is something to report: pool gauges once a pool
    // exists, lag once a replica's replication was checked. Traffic on both routes, then wait.
    const conn = await proxy.connect();
    try {
      await conn.query('CREATE TABLE IF NOT EXISTS dashboards_t (id INT PRIMARY KEY)');
      await conn.query('REPLACE INTO dashboards_t VALUES (1)');
      await conn.query('SELECT * FROM dashboards_t');
    } finally {
      await conn.end();
    }
    families = await waitFor(
      async () => {
        const f = parseExposition(await (await fetch(url)).text());
        const ready = ['sluice_backend_lag_seconds', 'sluice_backend_connections', 'sluice_backend_statements_total'].every(
          (n) => (f.get(n)?.samples.size ?? 0) > 0,
        );
        return ready && f;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'lag, pool and per-backend series in /metrics' },
    );
  });

  after(async () => {
    await proxy?.close();
  });

  test('the checker catches an unknown metric, a label it lacks, and a stray grouping label', () => {
    // Proof that the checks below can fail: names that are not exported must be reported.
    const bad = nameProblems(families, [
      { where: 'bad metric', expr: 'sum(rate(sluice_no_such_metric_total[5m]))', templateLabels: [] },
      { where: 'bad label', expr: 'sluice_backend_up{route="x"}', templateLabels: [] },
      { where: 'bad grouping', expr: 'sum by (reason) (sluice_statements_total)', templateLabels: [] },
      { where: 'bad legend', expr: 'sluice_backend_readable', templateLabels: ['role'] },
      { where: 'histogram base', expr: 'rate(sluice_statement_duration_seconds[5m])', templateLabels: [] },
      { where: 'suffix on a counter', expr: 'sluice_statements_total_count', templateLabels: [] },
    ]);
    assert.deepEqual(
      bad.map((p) => p.split(':')[0]),
      ['bad metric', 'bad label', 'bad grouping', 'bad legend', 'histogram base', 'suffix on a counter'],
      bad.join('\n'),
    );
  });

  test('every metric and label in the dashboard exists', () => {
    const exprs = [
      ...dashboardExprs(dashboard),
      // label_values(selector, label): the label must be on the selector's metric.
      ...variableQueries(dashboard).map((v) => ({ where: v.where, expr: v.selector, templateLabels: [v.label] })),
    ];
    assert.deepEqual(nameProblems(families, exprs), []);
  });

  test('every metric and label in the alert rules exists', () => {
    assert.deepEqual(nameProblems(families, alertExprs()), []);
  });

  test('every sluice_* metric in /metrics has a place on the dashboard', () => {
    // A new metric without a panel fails here: add it to conf/grafana/sluice.json.
    const used = new Set(
      dashboardExprs(dashboard).flatMap((e) =>
        promqlNames(e.expr).selectors.map((s) => resolveSeries(families, s.metric ?? '')?.family ?? s.metric),
      ),
    );
    const missing = [...families.keys()].filter((n) => n.startsWith('sluice_') && !used.has(n));
    assert.deepEqual(missing, []);
  });
});
