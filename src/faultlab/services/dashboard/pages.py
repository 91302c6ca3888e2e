"""The dashboard's two HTML pages and their stylesheet (scripts: `scripts.py`); nothing loads from the internet."""

from __future__ import annotations

_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/dashboard.css">
<title>{title}</title></head>"""

INDEX_HTML = _HEAD.format(title="faultlab — live dashboard") + """
<body>
<header>
  <h1>faultlab <span class="sub">live dashboard</span></h1>
  <nav><a href="/" class="here">Live</a> <a href="/reports">Reports</a> <a href="/api/openapi.json">API</a></nav>
  <div id="conn" class="conn" data-state="connecting">connecting…</div>
  <div class="updated">updated <span id="updated">—</span></div>
</header>
<main>
  <section class="row">
    <div class="panel grow">
      <h2>Inventory replicas <span class="hint">state from the monitor: ON · SUSPECT · OFF · UNKNOWN</span></h2>
      <div id="cards" class="cards"></div>
    </div>
  </section>
  <section class="row">
    <div class="panel">
      <h2>Services <span class="hint">GET /health, every second</span></h2>
      <div id="services" class="services"></div>
    </div>
    <div class="panel grow">
      <h2>Voting <span class="hint">voter's /voting/stats</span></h2>
      <div id="voting" class="voting"></div>
    </div>
  </section>
  <section class="charts">
    <div class="panel"><h2>Voted reads — latency (ms)</h2><div id="chart-voted-latency" class="chart"></div></div>
    <div class="panel"><h2>Orders — latency (ms)</h2><div id="chart-orders-latency" class="chart"></div></div>
    <div class="panel"><h2>Throughput (requests/s) <span class="hint">the load's requests, the lab's own probes left out; none yet? run <code>faultlab load</code></span></h2><div id="chart-throughput" class="chart"></div></div>
    <div class="panel"><h2>Success rate (%)</h2><div id="chart-success" class="chart"></div></div>
    <div class="panel wide"><h2>Failures over time <span class="hint">failed requests/s and replicas not ON;
      shaded: fault periods, dashed: detection (red) and recovery (green)</span></h2>
      <div id="chart-failures" class="chart"></div></div>
  </section>
  <section class="row">
    <div class="panel grow">
      <h2>Recent failures <span class="hint">TTD and TTR from event timestamps (monitor /failures)</span></h2>
      <div class="scroll"><table id="failures" class="table">
        <thead><tr><th>replica</th><th>fault</th><th>active at</th><th>detected at</th><th>detected by</th>
          <th>TTD ms</th><th>cleared at</th><th>recovered at</th><th>TTR ms</th></tr></thead>
        <tbody></tbody></table></div>
    </div>
  </section>
  <section class="row">
    <div class="panel" id="operator">
      <h2>Operator <span class="hint">needs the lab's admin token</span></h2>
      <form id="token-form" class="line" autocomplete="off">
        <label>admin token <input id="token" type="password" placeholder="FAULTLAB_HOME/admin-token"
          autocomplete="off"></label>
        <button type="submit">Use token</button>
        <button type="button" id="forget-token">Forget</button>
        <span id="token-state" class="muted">no token (kept in this tab only)</span>
      </form>
      <form id="fault-form" class="line">
        <label>replica <select id="fault-replica"></select></label>
        <label>fault <select id="fault-kind">
          <option>crash</option><option>latency</option><option>intermittent</option>
          <option>incorrect</option><option>hang</option><option>stale</option></select></label>
        <label class="param" data-for="latency">latency ms <input id="fault-latency" type="number" value="1200"
          min="0" max="60000"></label>
        <label class="param" data-for="intermittent">probability <input id="fault-probability" type="number"
          value="0.3" step="0.05" min="0" max="1"></label>
        <label class="param" data-for="incorrect">product <input id="fault-product" value="PROD-001"></label>
        <button type="submit" id="inject">Inject</button>
        <button type="button" id="clear">Clear faults</button>
      </form>
      <div id="fault-result" class="result"></div>
      <form id="experiment-form" class="line">
        <label>phases <input id="experiment-phases" placeholder="all (e.g. baseline,crash)"></label>
        <button type="submit" id="experiment-start">Start short experiment</button>
        <button type="button" id="experiment-stop">Stop</button>
        <span id="experiment-state" class="muted">idle</span>
      </form>
      <pre id="experiment-output" class="output"></pre>
    </div>
    <div class="panel grow">
      <h2>Monitor events <span class="hint">live from the monitor's event stream</span></h2>
      <ol id="events" class="events"></ol>
    </div>
  </section>
</main>
<script src="/static/plotly.min.js"></script>
<script src="/static/common.js"></script>
<script src="/static/dashboard.js"></script>
</body></html>
"""

REPORTS_HTML = _HEAD.format(title="faultlab — reports") + """
<body>
<header>
  <h1>faultlab <span class="sub">reports</span></h1>
  <nav><a href="/">Live</a> <a href="/reports" class="here">Reports</a> <a href="/api/openapi.json">API</a></nav>
  <div class="updated">runs folder <code id="runs-dir">—</code></div>
</header>
<main>
  <section class="row">
    <div class="panel grow">
      <h2>Past runs <span class="hint">newest first; each folder holds report.json and report.html</span></h2>
      <div class="scroll"><table id="runs" class="table clickable">
        <thead><tr><th>run</th><th>started (UTC)</th><th>duration s</th><th>phases</th><th>verdict</th>
          <th>tests passed</th><th>avg TTD ms</th><th>avg TTR ms</th><th>max p95 ms</th><th>min success %</th></tr></thead>
        <tbody></tbody></table></div>
      <p id="no-runs" class="muted" hidden>No runs yet: start one with <code>faultlab experiment</code>
        or the button on the live page.</p>
    </div>
  </section>
  <section class="row" id="run-detail" hidden>
    <div class="panel grow">
      <h2>Run <span id="run-name"></span> <a id="run-html-link" target="_blank" rel="noopener">open report.html</a>
        <a id="run-json-link" target="_blank" rel="noopener">report.json</a></h2>
      <p id="run-verdict"></p>
      <div class="scroll"><table id="run-results" class="table">
        <thead><tr><th>phase</th><th>rep</th><th>TTD ms</th><th>TTR ms</th><th>rps</th><th>p50 ms</th>
          <th>p95 ms</th><th>p99 ms</th><th>success %</th><th>passed</th><th>missed</th></tr></thead>
        <tbody></tbody></table></div>
      <iframe id="run-frame" title="report.html" sandbox="allow-scripts"></iframe>
    </div>
  </section>
</main>
<script src="/static/common.js"></script>
<script src="/static/reports.js"></script>
</body></html>
"""

STYLE_CSS = """
:root { --on: #1a9e4b; --off: #d62f2f; --suspect: #e58a00; --unknown: #7a7f87; --ink: #1d2330; --muted: #667085;
  --panel: #ffffff; --bg: #eef1f5; --line: #d9dee7; --accent: #2d5bd7; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  background: var(--bg); }
header { display: flex; align-items: center; gap: 24px; padding: 10px 20px; background: #1d2330; color: #fff; }
header h1 { font-size: 20px; margin: 0; } header .sub { font-weight: 400; opacity: .75; }
header nav a { color: #c9d6ff; margin-right: 12px; text-decoration: none; } header nav a.here { color: #fff;
  font-weight: 600; border-bottom: 2px solid #fff; }
.conn { padding: 2px 10px; border-radius: 10px; font-size: 13px; background: var(--unknown); }
.conn[data-state=live] { background: var(--on); } .conn[data-state=lost] { background: var(--off); }
.updated { margin-left: auto; font-size: 13px; opacity: .85; }
main { padding: 12px 16px; }
[hidden] { display: none !important; }  /* `hidden` wins over a class's display (.row is a flex box) */
.row { display: flex; gap: 12px; margin-bottom: 12px; flex-wrap: wrap; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 300px; }
.panel.grow { flex: 1; } .panel h2 { font-size: 16px; margin: 0 0 8px; } .hint, .muted { color: var(--muted);
  font-size: 12px; font-weight: 400; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 10px; }
.card { border: 2px solid var(--line); border-radius: 8px; padding: 8px 12px; }
.card .top { display: flex; align-items: center; justify-content: space-between; }
.card .name { font-weight: 600; font-size: 17px; }
.badge { display: inline-block; min-width: 84px; text-align: center; padding: 3px 10px; border-radius: 6px; color: #fff;
  font-weight: 700; font-size: 18px; letter-spacing: .5px; background: var(--unknown); }
.badge[data-status=ON] { background: var(--on); } .badge[data-status=OFF] { background: var(--off); }
.badge[data-status=SUSPECT] { background: var(--suspect); }
.card[data-status=OFF] { border-color: var(--off); background: #fff3f3; }
.card[data-status=SUSPECT] { border-color: var(--suspect); background: #fff8ec; }
.card dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; margin: 8px 0 0; font-size: 13px; }
.card dt { color: var(--muted); } .card dd { margin: 0; font-variant-numeric: tabular-nums; }
.fault { color: var(--off); font-weight: 600; }
.services { display: grid; grid-template-columns: repeat(2, minmax(140px, 1fr)); gap: 6px; }
.svc { display: flex; justify-content: space-between; gap: 8px; padding: 4px 8px; border-radius: 6px; background: #f5f7fa;
  font-size: 13px; } .svc b { font-weight: 600; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; background: var(--unknown); }
.dot[data-status=UP] { background: var(--on); } .dot[data-status=DOWN] { background: var(--off); }
.dot[data-status=DEGRADED] { background: var(--suspect); }
.voting { display: flex; gap: 18px; flex-wrap: wrap; align-items: flex-start; }
.stat { min-width: 110px; } .stat .v { font-size: 24px; font-weight: 700; font-variant-numeric: tabular-nums; }
.stat .k { color: var(--muted); font-size: 12px; }
.bar { display: inline-block; height: 10px; background: var(--suspect); border-radius: 3px; vertical-align: middle; }
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 12px; margin-bottom: 12px; }
.charts .wide { grid-column: 1 / -1; } .chart { height: 240px; }
.table { border-collapse: collapse; width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; }
.table th, .table td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; white-space: nowrap; }
.table th { color: var(--muted); font-weight: 600; }
.table.clickable tbody tr { cursor: pointer; } .table.clickable tbody tr:hover { background: #f1f5ff; }
.table tr.selected { background: #e3ebff; }
.scroll { max-height: 320px; overflow: auto; }
.line { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 6px 0; }
.line label { font-size: 13px; color: var(--muted); } input, select, button { font: inherit; padding: 3px 6px; }
input[type=number] { width: 90px; } button { cursor: pointer; border: 1px solid var(--accent); background: var(--accent);
  color: #fff; border-radius: 5px; } button[type=button] { background: #fff; color: var(--accent); }
button:disabled { opacity: .5; cursor: default; }
.result { min-height: 1.4em; font-size: 13px; } .result.ok { color: var(--on); } .result.err { color: var(--off); }
.output { max-height: 200px; overflow: auto; background: #11151c; color: #d8dee9; padding: 6px 8px; border-radius: 6px;
  font-size: 12px; margin: 4px 0 0; min-height: 3em; white-space: pre-wrap; }
.events { list-style: none; margin: 0; padding: 0; max-height: 330px; overflow: auto; font-size: 13px; }
.events li { padding: 2px 0; border-bottom: 1px dotted var(--line); } .events .t { color: var(--muted); margin-right: 6px; }
.ok-text { color: var(--on); font-weight: 600; } .bad-text { color: var(--off); font-weight: 600; }
iframe#run-frame { width: 100%; height: 85vh; border: 1px solid var(--line); border-radius: 6px; margin-top: 10px; }
@media (max-width: 900px) { .charts { grid-template-columns: 1fr; } }
"""
