// The status page: one HTML document with inline CSS and JS, no build step. It reads
// /status and /matrix from the same server and redraws 3 s after each answer (until the
// store has synced /matrix is a 503, shown as the error line). Cells and rows
// carry data-* attributes so that tests (and scripts) can read what a person sees. With
// staged policies in the store, the cells they would change are marked (`policy preview`).
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>trellisd</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; } h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
  table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .2rem .5rem; text-align: left; }
  .ok { color: #116611; font-weight: 600; } .bad { color: #aa1111; font-weight: 600; }
  #matrix td.cell { text-align: center; width: 1.6rem; }
  #matrix td.allow { background: #cfeccf; } #matrix td.deny { background: #f3c9c9; }
  #matrix th.col { writing-mode: vertical-rl; font-weight: normal; }
  #matrix td.changes { outline: 2px dashed #b36b00; outline-offset: -3px; }
  #matrix th.host { font-style: italic; background: #eef; }
  .muted { color: #777; } .err { color: #aa1111; }
</style>
</head>
<body>
<h1>trellisd on <span id="node">…</span></h1>
<div id="summary" class="muted">loading…</div>
<div id="error" class="err"></div>
<h2>BGP sessions</h2>
<table id="sessions"><thead><tr><th>peer</th><th>AS</th><th>state</th><th>up</th><th>received</th><th>advertised</th><th>last error</th></tr></thead><tbody></tbody></table>
<h2>Endpoints by tenant</h2>
<div id="endpoints"></div>
<h2>Policy matrix <span class="muted">(TCP/<span id="matrix-port">80</span>, from row to column; HOST/… rows are this node's host endpoints, the host's own traffic)</span></h2>
<table id="matrix"></table>
<div id="staged-box" hidden>
<h2>Staged policies <span class="muted">(not enforced: the dashed cells would change)</span></h2>
<ul id="staged"></ul>
<div id="staged-summary"></div>
</div>
<script>
(function () {
  var token = (new URLSearchParams(location.hash.slice(1))).get('token');
  function get(path) {
    var h = token ? { Authorization: 'Bearer ' + token } : {};
    return fetch(path, { headers: h }).then(function (r) {
      if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
      return r.json();
    });
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function short(id) { return id.replace(/^WorkloadEndpoint\\//, ''); }
  function isHost(e) { return e.id.indexOf('HOST/') === 0; }
  function render(st, mx) {
    document.getElementById('node').textContent = st.node;
    var up = st.bgp.peers.filter(function (p) { return p.state === 'Established'; }).length;
    document.getElementById('summary').textContent = st.endpoints.filter(function (e) { return e.local; }).length +
      ' local endpoints, ' + st.endpoints.length + ' in the cluster; ' + up + '/' + st.bgp.peers.length +
      ' BGP sessions established; store ' + st.store.status + (st.lastApply ? '; last apply ' + st.lastApply.at : '');
    document.getElementById('error').textContent = st.lastError ? 'last error: ' + st.lastError.message : '';
    var tb = document.querySelector('#sessions tbody');
    tb.replaceChildren();
    st.bgp.peers.forEach(function (p) {
      var tr = el('tr', { 'data-peer': p.peer, 'data-state': p.state });
      tr.appendChild(el('td', {}, p.peer));
      tr.appendChild(el('td', {}, p.asn));
      tr.appendChild(el('td', { class: p.state === 'Established' ? 'ok state' : 'bad state' }, p.state));
      tr.appendChild(el('td', {}, p.uptimeSec + ' s'));
      tr.appendChild(el('td', {}, p.received));
      tr.appendChild(el('td', {}, p.advertised));
      tr.appendChild(el('td', {}, p.lastError || ''));
      tb.appendChild(tr);
    });
    var byTenant = {};
    st.endpoints.forEach(function (e) { (byTenant[e.tenant] = byTenant[e.tenant] || []).push(e); });
    var eps = document.getElementById('endpoints');
    eps.replaceChildren();
    Object.keys(byTenant).sort().forEach(function (t) {
      var box = el('div', { class: 'tenant', 'data-tenant': t });
      box.appendChild(el('h3', {}, 'tenant ' + t));
      var ul = el('ul');
      byTenant[t].forEach(function (e) {
        ul.appendChild(el('li', { 'data-endpoint': e.id }, short(e.id) + ' on ' + e.node + ' ' + e.addresses.join(', ') + (e.local ? ' (local)' : '')));
      });
      box.appendChild(ul);
      eps.appendChild(box);
    });
    document.getElementById('matrix-port').textContent = mx.port;
    var m = document.getElementById('matrix');
    var changed = 0;
    m.replaceChildren();
    var head = el('tr');
    head.appendChild(el('th', {}, 'from \\\\ to'));
    mx.endpoints.forEach(function (e) { head.appendChild(el('th', { class: isHost(e) ? 'col host' : 'col', title: e.address }, short(e.id))); });
    m.appendChild(head);
    mx.endpoints.forEach(function (src, i) {
      var tr = el('tr');
      tr.appendChild(el('th', isHost(src) ? { class: 'host', title: src.address } : { title: src.address }, short(src.id)));
      mx.endpoints.forEach(function (dst, j) {
        var a = mx.allowed[i][j];
        var attrs = { class: 'cell ' + (a ? 'allow' : 'deny'), 'data-from': src.id, 'data-to': dst.id, 'data-allowed': String(a), title: short(src.id) + ' -> ' + short(dst.id) };
        var text = a ? '✓' : '✗';
        // An endpoint to itself is no flow: the preview leaves the diagonal out.
        var b = mx.staged && i !== j ? mx.staged.allowed[i][j] : a;
        if (b !== a) {
          changed++;
          attrs.class += ' changes';
          attrs['data-staged'] = String(b);
          attrs.title += ' (staged: ' + (b ? 'allowed' : 'denied') + ')';
          text += '→' + (b ? '✓' : '✗');
        }
        tr.appendChild(el('td', attrs, text));
      });
      m.appendChild(tr);
    });
    var box = document.getElementById('staged-box');
    box.hidden = !mx.staged;
    var ul = document.getElementById('staged');
    ul.replaceChildren();
    (mx.staged ? mx.staged.changes : []).forEach(function (c) { ul.appendChild(el('li', {}, c)); });
    document.getElementById('staged-summary').textContent = changed === 0 ? 'no verdict would change' : changed + (changed === 1 ? ' verdict' : ' verdicts') + ' would change';
    document.body.setAttribute('data-loaded', 'true');
  }
  // The next refresh is scheduled when this one ends, so a slow matrix never piles up requests.
  function refresh() {
    Promise.all([get('/status'), get('/matrix?port=80')]).then(function (r) { render(r[0], r[1]); })
      .catch(function (e) { document.getElementById('error').textContent = String(e.message || e); })
      .then(function () { setTimeout(refresh, 3000); });
  }
  refresh();
})();
</script>
</body>
</html>
`;

export function statusPage(): string {
  return PAGE;
}
