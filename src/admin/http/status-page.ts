/**
 * `GET /`: one self-contained HTML page (inline CSS and script, no external resources). The
 * script fetches `/status.json` every 2 s and re-renders. Statements per second: on the first
 * load the average since start (status.json's perSecondSinceStart), so the card is never empty;
 * from then on the difference of the statements counter between two fetches.
 *
 * With worker processes a table lists each worker (pid, its clients, statements, restarts); the
 * cards are the group's totals.
 *
 * Backends carry the same numbers as the admin port: backend_ndx (SET OFFLINE/ONLINE, REMOVE
 * BACKEND) and, for writeHosts, the SWITCH @@DATASOURCE argument.
 *
 * With cluster.cooperation a Cluster section says what this instance is (leading, following,
 * without a majority, starting), who leads, which writeHost is published where, and per server
 * who holds the lead lock (SHOW @@CLUSTER and the lead_lock column of SELECT * FROM backends);
 * an instance that refuses writes shows it in the red banner. Hidden when cooperation is off.
 */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice status</title>
<style>
  :root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --mute: #6e7781; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
  h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
  .cards { display: flex; gap: 1rem; flex-wrap: wrap; }
  .card { border: 1px solid #8884; border-radius: 6px; padding: .5rem .9rem; min-width: 9rem; }
  .card .v { font-size: 1.3rem; font-weight: 600; }
  .card .k, .card .s { color: var(--mute); font-size: .8rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #8883; }
  th { font-size: .8rem; color: var(--mute); font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .up { color: var(--ok); } .down, .offline { color: var(--bad); } .unknown { color: var(--warn); }
  .yes { color: var(--ok); } .no { color: var(--mute); }
  .active { font-weight: 600; }
  .err { color: var(--bad); font-size: .8rem; }
  .leading { color: var(--ok); font-weight: 600; } .no-majority { color: var(--bad); font-weight: 600; } .starting { color: var(--warn); }
  #banner { padding: .4rem .8rem; border-radius: 6px; margin: .5rem 0; display: none; }
  #banner.bad { display: block; background: #cf222e22; color: var(--bad); }
  .mute { color: var(--mute); }
  ol { padding-left: 1.2rem; } li { margin: .15rem 0; }
  .bar { display: inline-block; height: .7rem; background: #0969da99; border-radius: 2px; vertical-align: middle; }
  .legend { font-size: .8rem; margin: .4rem 0 0; }
  code { font-size: .85em; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<h1>Sluice <span id="dh" class="mute"></span></h1>
<div id="banner"></div>
<div class="cards">
  <div class="card"><div class="k">active writeHost</div><div class="v" id="writer">–</div><div class="s" id="writer-ndx"></div></div>
  <div class="card"><div class="k">client connections</div><div class="v" id="clients">–</div></div>
  <div class="card"><div class="k">statements / s</div><div class="v" id="qps">–</div><div class="s" id="qps-basis"></div></div>
  <div class="card"><div class="k">statements (writer / reader)</div><div class="v" id="stmts">–</div></div>
  <div class="card"><div class="k">errors / retries</div><div class="v" id="errs">–</div></div>
  <div class="card"><div class="k">writer switches</div><div class="v" id="failovers">–</div></div>
  <div class="card" title="reads that had to see the session's earlier writes (session.consistency): served at once by a readHost that had them / waited on the readHost / ran on the writeHost">
    <div class="k">consistent reads (none / waited / fallback)</div><div class="v" id="consistency">–</div></div>
</div>
<section id="cluster-section" hidden>
<h2>Cluster</h2>
<p id="cluster-line"></p>
<table id="cluster">
  <thead><tr><th>server</th><th>lead lock</th><th>published writeHost</th></tr></thead>
  <tbody></tbody>
</table>
<p class="legend mute" id="cluster-legend"></p>
</section>
<h2>Backends</h2>
<table id="backends">
  <thead><tr><th title="SET OFFLINE n, SET ONLINE n, REMOVE BACKEND n">backend_ndx</th><th>address</th><th>role</th>
  <th title="SWITCH @@DATASOURCE dataHost:index">switch_datasource</th><th>state</th><th>readable</th><th>read_only</th><th>lag (s)</th>
  <th>borrowed</th><th>idle</th><th>waiting</th><th>last error</th></tr></thead>
  <tbody></tbody>
</table>
<p class="legend mute">Admin port numbers: <code>backend_ndx</code> (as in <code>SELECT * FROM backends</code>) is what
<code>SET OFFLINE n</code>, <code>SET ONLINE n</code> and <code>REMOVE BACKEND n</code> take;
<code>SWITCH @@DATASOURCE dh:i</code> takes a writeHost's 0-based index, shown as <code>switch_datasource</code>
(<code>INDEX</code> of <code>SHOW @@DATASOURCE</code>).</p>
<h2>Statements per backend</h2>
<table id="split">
  <thead><tr><th>backend_ndx</th><th>address</th><th>role</th><th>statements</th><th>share</th><th></th></tr></thead>
  <tbody></tbody>
</table>
<p class="legend mute">Every statement sent to each backend since it was added (reads and, on the active writeHost, writes):
the read split. Prometheus: <code>sluice_backend_statements_total</code>.</p>
<section id="workers-section" hidden>
<h2>Worker processes</h2>
<table id="workers">
  <thead><tr><th>worker</th><th>pid</th><th>client connections</th><th>statements</th><th>errors</th><th>restarts</th></tr></thead>
  <tbody></tbody>
</table>
<p class="legend mute">Each client connection lives in one worker; the numbers above are the sum of these rows.
<code>SHOW @@CONNECTION</code> on the admin port names each session's worker.</p>
</section>
<h2>Recent transitions</h2>
<ol id="transitions"></ol>
<p id="no-transitions" class="mute" hidden>no transitions yet</p>
<p class="mute">Updated <span id="updated">never</span> · <a href="/status.json">status.json</a> · <a href="/metrics">metrics</a> · <a href="/health">health</a></p>
<script>
(function () {
  var prev = null;
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function yn(b) { return b === null || b === undefined ? '?' : b ? 'yes' : 'no'; }
  function list(a) { return a && a.length > 0 ? a.join(', ') : 'none'; }
  function clusterLine(c) {
    var me = 'this instance ' + c.instanceName + ': ';
    var of = c.needed === null ? '' : '; a majority is ' + c.needed + ' of ' + c.servers.length;
    var pub = c.published ? 'writeHost ' + c.published + ' published on ' + list(c.publishedOn) : 'no writeHost published';
    if (c.role === 'leading') return me + 'leading (holds the lead lock on ' + list(c.held) + of + ') · ' + pub;
    if (c.role === 'following') return me + 'following ' + (c.leader || 'no leader yet') + ' · ' + pub;
    if (c.role === 'no-majority') {
      return me + 'without a majority (reaches ' + c.reachable.length + ' of ' + c.servers.length + of + '; unreachable: ' + list(c.unreachable) + ')';
    }
    return me + 'starting (no round of lock queries yet)';
  }
  function renderCluster(c) {
    document.getElementById('cluster-section').hidden = !c;
    if (!c) return;
    var line = document.getElementById('cluster-line');
    line.textContent = clusterLine(c);
    line.className = c.role;
    var lockClass = { 'this instance': 'yes', 'other instance': 'mute', 'free': 'unknown', 'unreachable': 'down' };
    var rows = c.servers.map(function (v) {
      var tr = el('tr');
      tr.setAttribute('data-host', v.id);
      tr.appendChild(el('td', v.id, 'addr'));
      tr.appendChild(el('td', v.leadLock === null ? '–' : v.leadLock, 'lead ' + (lockClass[v.leadLock] || '')));
      tr.appendChild(el('td', v.publishedWriter || '–', 'published'));
      return tr;
    });
    var body = document.querySelector('#cluster tbody');
    body.replaceChildren.apply(body, rows);
    document.getElementById('cluster-legend').textContent =
      'majority: ' + c.majority + ' · lock timeout ' + c.lockTimeoutSeconds + ' s · lead lock ' + c.locks.lead +
      ' · SHOW @@CLUSTER on the admin port says the same';
  }
  function render(s) {
    document.getElementById('dh').textContent = s.dataHost;
    document.getElementById('writer').textContent = s.writer || 'none';
    var active = s.backends.filter(function (b) { return b.active; })[0];
    document.getElementById('writer-ndx').textContent = active
      ? 'backend_ndx ' + active.backendNdx + ' · ' + active.role + '[' + active.index + ']' : '';
    var banner = document.getElementById('banner');
    var alarms = [];
    if (s.cluster && s.cluster.writesRefused) {
      alarms.push('Without a majority: writes refused (unreachable: ' + list(s.cluster.unreachable) + ')');
    }
    if (!s.writer) alarms.push('No usable writeHost: ' + (s.writerBlocked || 'unknown'));
    banner.className = alarms.length > 0 ? 'bad' : '';
    banner.textContent = alarms.join(' · ');
    renderCluster(s.cluster);
    document.getElementById('clients').textContent = s.clientConnections;
    document.getElementById('stmts').textContent = s.statements.writer + ' / ' + s.statements.reader;
    document.getElementById('errs').textContent = s.errors + ' / ' + s.retries;
    document.getElementById('failovers').textContent = s.failovers;
    var c = s.consistency;
    document.getElementById('consistency').textContent = c.none + ' / ' + c.waited + ' / ' + c.fallback;
    var now = Date.parse(s.time);
    var qps = null, basis = '';
    if (prev && now > prev.t) {
      qps = Math.max(0, s.statements.total - prev.n) / ((now - prev.t) / 1000);
      basis = 'last ' + Math.round((now - prev.t) / 1000) + ' s';
    } else if (!prev) {
      qps = s.statements.perSecondSinceStart;
      basis = 'average since start';
    }
    if (qps !== null) {
      document.getElementById('qps').textContent = qps.toFixed(qps < 10 ? 1 : 0);
      document.getElementById('qps-basis').textContent = basis;
    }
    prev = { t: now, n: s.statements.total };
    var tbody = document.querySelector('#backends tbody');
    var rows = [];
    s.backends.forEach(function (b) {
      var tr = el('tr', undefined, b.active ? 'active' : '');
      tr.setAttribute('data-host', b.id);
      tr.setAttribute('data-ndx', b.backendNdx);
      tr.appendChild(el('td', b.backendNdx, 'num ndx'));
      tr.appendChild(el('td', b.id + (b.active ? ' ★' : ''), 'addr'));
      tr.appendChild(el('td', b.role + '[' + b.index + ']', 'role'));
      tr.appendChild(el('td', b.switchDatasource || '–', 'switch'));
      tr.appendChild(el('td', b.state, b.state));
      tr.appendChild(el('td', yn(b.readable), b.readable ? 'yes' : 'no'));
      tr.appendChild(el('td', yn(b.readOnly)));
      tr.appendChild(el('td', b.lagSeconds === null ? '–' : b.lagSeconds, 'num'));
      var c = b.connections || { borrowed: '–', idle: '–', waiting: '–' };
      tr.appendChild(el('td', c.borrowed, 'num'));
      tr.appendChild(el('td', c.idle, 'num'));
      tr.appendChild(el('td', c.waiting, 'num'));
      tr.appendChild(el('td', b.lastError || '', 'err'));
      rows.push(tr);
    });
    tbody.replaceChildren.apply(tbody, rows);
    var total = 0;
    s.backends.forEach(function (b) { total += b.statements || 0; });
    var split = s.backends.map(function (b) {
      var tr = el('tr', undefined, b.active ? 'active' : '');
      tr.setAttribute('data-host', b.id);
      tr.setAttribute('data-ndx', b.backendNdx);
      var share = total > 0 && b.statements !== null ? b.statements / total : 0;
      tr.appendChild(el('td', b.backendNdx, 'num ndx'));
      tr.appendChild(el('td', b.id, 'addr'));
      tr.appendChild(el('td', b.role + '[' + b.index + ']', 'role'));
      tr.appendChild(el('td', b.statements === null ? '–' : b.statements, 'num stmts'));
      tr.appendChild(el('td', (share * 100).toFixed(1) + ' %', 'num share'));
      var bar = el('span', undefined, 'bar');
      bar.style.width = Math.round(share * 12 * 10) / 10 + 'rem';
      var td = el('td');
      td.appendChild(bar);
      tr.appendChild(td);
      return tr;
    });
    var splitBody = document.querySelector('#split tbody');
    splitBody.replaceChildren.apply(splitBody, split);
    var workers = s.workers || [];
    document.getElementById('workers-section').hidden = workers.length === 0;
    var workerRows = workers.map(function (w) {
      var tr = el('tr');
      tr.setAttribute('data-worker', w.worker);
      tr.appendChild(el('td', w.worker, 'num'));
      tr.appendChild(el('td', w.pid, 'num'));
      tr.appendChild(el('td', w.clientConnections, 'num clients'));
      tr.appendChild(el('td', w.statements, 'num'));
      tr.appendChild(el('td', w.errors, 'num'));
      tr.appendChild(el('td', w.restarts, 'num'));
      return tr;
    });
    var workersBody = document.querySelector('#workers tbody');
    workersBody.replaceChildren.apply(workersBody, workerRows);
    var ol = document.getElementById('transitions');
    var items = s.transitions.map(function (t) {
      var li = el('li');
      li.appendChild(el('span', new Date(t.at).toLocaleTimeString() + ' ', 'mute'));
      li.appendChild(el('span', t.text));
      return li;
    });
    // An empty state is a sentence, not a numbered "1. none" item.
    ol.replaceChildren.apply(ol, items);
    ol.hidden = items.length === 0;
    document.getElementById('no-transitions').hidden = items.length !== 0;
    document.getElementById('updated').textContent = new Date().toLocaleTimeString();
  }
  function tick() {
    fetch('/status.json', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(render)
      .catch(function (e) {
        var banner = document.getElementById('banner');
        banner.className = 'bad';
        banner.textContent = 'Cannot reach Sluice: ' + e.message;
      })
      .finally(function () { setTimeout(tick, 2000); });
  }
  tick();
})();
</script>
</body>
</html>
`;
