/**
 * `GET /`: one self-contained HTML page (inline CSS and script, no external resources). The
 * script fetches `/status.json` every 2 s and re-renders; QPS comes from the difference of the
 * statements counter between two fetches.
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
  .card .k { color: var(--mute); font-size: .8rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #8883; }
  th { font-size: .8rem; color: var(--mute); font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .up { color: var(--ok); } .down, .offline { color: var(--bad); } .unknown { color: var(--warn); }
  .yes { color: var(--ok); } .no { color: var(--mute); }
  .active { font-weight: 600; }
  .err { color: var(--bad); font-size: .8rem; }
  #banner { padding: .4rem .8rem; border-radius: 6px; margin: .5rem 0; display: none; }
  #banner.bad { display: block; background: #cf222e22; color: var(--bad); }
  .mute { color: var(--mute); }
  ol { padding-left: 1.2rem; } li { margin: .15rem 0; }
</style>
</head>
<body>
<h1>Sluice <span id="dh" class="mute"></span></h1>
<div id="banner"></div>
<div class="cards">
  <div class="card"><div class="k">active writeHost</div><div class="v" id="writer">–</div></div>
  <div class="card"><div class="k">client connections</div><div class="v" id="clients">–</div></div>
  <div class="card"><div class="k">statements / s</div><div class="v" id="qps">–</div></div>
  <div class="card"><div class="k">statements (writer / reader)</div><div class="v" id="stmts">–</div></div>
  <div class="card"><div class="k">errors / retries</div><div class="v" id="errs">–</div></div>
  <div class="card"><div class="k">writer switches</div><div class="v" id="failovers">–</div></div>
</div>
<h2>Backends</h2>
<table id="backends">
  <thead><tr><th>address</th><th>role</th><th>state</th><th>readable</th><th>read_only</th><th>lag (s)</th>
  <th>borrowed</th><th>idle</th><th>waiting</th><th>last error</th></tr></thead>
  <tbody></tbody>
</table>
<h2>Recent transitions</h2>
<ol id="transitions"></ol>
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
  function render(s) {
    document.getElementById('dh').textContent = s.dataHost;
    document.getElementById('writer').textContent = s.writer || 'none';
    var banner = document.getElementById('banner');
    if (s.writer) { banner.className = ''; banner.textContent = ''; }
    else { banner.className = 'bad'; banner.textContent = 'No usable writeHost: ' + (s.writerBlocked || 'unknown'); }
    document.getElementById('clients').textContent = s.clientConnections;
    document.getElementById('stmts').textContent = s.statements.writer + ' / ' + s.statements.reader;
    document.getElementById('errs').textContent = s.errors + ' / ' + s.retries;
    document.getElementById('failovers').textContent = s.failovers;
    var now = Date.parse(s.time);
    if (prev && now > prev.t) {
      var qps = Math.max(0, s.statements.total - prev.n) / ((now - prev.t) / 1000);
      document.getElementById('qps').textContent = qps.toFixed(qps < 10 ? 1 : 0);
    }
    prev = { t: now, n: s.statements.total };
    var tbody = document.querySelector('#backends tbody');
    var rows = [];
    s.backends.forEach(function (b) {
      var tr = el('tr', undefined, b.active ? 'active' : '');
      tr.setAttribute('data-host', b.id);
      tr.appendChild(el('td', b.id + (b.active ? ' ★' : ''), 'addr'));
      tr.appendChild(el('td', b.role + '[' + b.index + ']'));
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
    var ol = document.getElementById('transitions');
    var items = s.transitions.map(function (t) {
      var li = el('li');
      li.appendChild(el('span', new Date(t.at).toLocaleTimeString() + ' ', 'mute'));
      li.appendChild(el('span', t.text));
      return li;
    });
    if (items.length === 0) items.push(el('li', 'none since start', 'mute'));
    ol.replaceChildren.apply(ol, items);
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
