//! The API's OpenAPI 3.1 description and a page that shows it to people.
//!
//! [`DOCUMENT`] is the hand-written `openapi.json` beside this file, served
//! as is at `GET /openapi.json` by [`document`]. [`page`] serves `GET /docs`:
//! one self-contained HTML page (inline CSS and script, nothing fetched from
//! another host) that loads `/openapi.json` and lists every operation with
//! its parameters, request body and responses, under a "Try it with curl"
//! walk-through. The script builds the page with `textContent` only, so no
//! text of the document is ever parsed as HTML.
//!
//! When an endpoint changes, change `openapi.json` with it; the tests below
//! check the document's shape (paths, methods, operation ids, error
//! responses, references).

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use crate::AppState;

/// The OpenAPI 3.1 document, as JSON text.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// The address the page's examples and the document's `servers` name in
/// the source; replaced by the server's `public_url` when served.
const EXAMPLE_BASE: &str = "http://127.0.0.1:8080";

/// The document with `public_url` as its server.
pub fn document_for(public_url: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(DOCUMENT) {
        Ok(mut doc) => {
            doc["servers"] = serde_json::json!([{
                "url": public_url,
                "description": "This server (its public_url setting).",
            }]);
            doc.to_string()
        }
        Err(_) => DOCUMENT.to_string(),
    }
}

/// `GET /openapi.json`: the document, as `application/json`.
pub async fn document(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document_for(state.config.public_base()),
    )
        .into_response()
}

/// The page with its examples addressed to `public_url` (HTML-escaped; the
/// inline script is untouched, so its CSP hash still holds).
pub fn page_for(public_url: &str) -> String {
    let escaped = public_url
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    PAGE.replace(EXAMPLE_BASE, &escaped)
}

/// `GET /docs`: the human-readable API page.
pub async fn page(State(state): State<AppState>) -> Html<String> {
    Html(page_for(state.config.public_base()))
}

/// The API page. Everything it needs is inline; its script fetches
/// `/openapi.json` from the same server and renders it.
pub(crate) const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>wismo API</title>
<style>
:root {
  --fg: #1c2230; --muted: #5a6374; --bg: #ffffff; --panel: #f4f6f9; --line: #dde2ea;
  --accent: #2150b8; --get: #17794a; --post: #2150b8; --put: #8a5a00; --delete: #b3261e;
  --other: #5a6374; --req: #b3261e;
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #e4e8ef; --muted: #9aa4b5; --bg: #14171d; --panel: #1d2129; --line: #313745;
    --accent: #7aa5ff; --get: #3fb27f; --post: #6d95f0; --put: #d9a441; --delete: #f07167;
    --other: #9aa4b5; --req: #f07167;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; color: var(--fg); background: var(--bg);
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
main { max-width: 62rem; margin: 0 auto; padding: 1rem 1rem 4rem; }
h1 { font-size: 1.9rem; margin: .6rem 0 .2rem; }
h2 { font-size: 1.35rem; margin: 2.2rem 0 .6rem; padding-bottom: .3rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.1rem; margin: 1.4rem 0 .4rem; }
h4 { font-size: .95rem; margin: 1.1rem 0 .4rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
a { color: var(--accent); }
p { margin: .5rem 0; }
ul, ol { padding-left: 1.4rem; }
li { margin: .2rem 0; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .88em; }
code { background: var(--panel); padding: .05rem .3rem; border-radius: 4px; overflow-wrap: anywhere; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem; overflow-x: auto; line-height: 1.45; }
pre code { background: none; padding: 0; overflow-wrap: normal; }
.lead { color: var(--muted); margin-top: 0; }
.muted { color: var(--muted); }
#status { padding: .8rem 1rem; border-radius: 8px; background: var(--panel); }
#status.error { color: var(--req); }
.toc { columns: 2 18rem; padding-left: 0; list-style: none; }
.toc li { break-inside: avoid; }
.toc .method { margin-right: .4rem; }
.tools { display: flex; gap: .5rem; flex-wrap: wrap; margin: .8rem 0; }
button {
  font: inherit; font-size: .9rem; color: var(--fg); background: var(--panel);
  border: 1px solid var(--line); border-radius: 6px; padding: .35rem .8rem; cursor: pointer;
}
details.op { border: 1px solid var(--line); border-radius: 10px; margin: .8rem 0; background: var(--bg); }
details.op[open] { box-shadow: 0 1px 4px rgba(0, 0, 0, .08); }
details.op > summary {
  list-style: none; cursor: pointer; padding: .7rem .9rem;
  display: flex; flex-wrap: wrap; align-items: baseline; gap: .3rem .6rem;
}
details.op > summary::-webkit-details-marker { display: none; }
details.op > summary::after { content: "+"; margin-left: auto; color: var(--muted); font-weight: 700; }
details.op[open] > summary::after { content: "\2212"; }
.op-body { padding: 0 .9rem .9rem; border-top: 1px solid var(--line); }
.method {
  display: inline-block; min-width: 3.6rem; text-align: center; font-size: .75rem; font-weight: 700;
  letter-spacing: .04em; padding: .12rem .45rem; border-radius: 5px; color: #fff; background: var(--other);
}
.method.get { background: var(--get); }
.method.post { background: var(--post); }
.method.put, .method.patch { background: var(--put); }
.method.delete { background: var(--delete); }
@media (prefers-color-scheme: dark) { .method { color: #0d0f13; } }
.path { font-weight: 600; background: none; padding: 0; }
.summary { color: var(--muted); }
.opid { font-size: .85rem; color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: .4rem 0; font-size: .93rem; }
th, td { text-align: left; vertical-align: top; padding: .4rem .5rem; border-top: 1px solid var(--line); }
th { font-size: .8rem; color: var(--muted); font-weight: 600; border-top: 0; }
td p:first-child { margin-top: 0; }
td p:last-child { margin-bottom: 0; }
.req, .opt { display: inline-block; margin-left: .35rem; font-size: .72rem; font-weight: 700; }
.req { color: var(--req); }
.opt { color: var(--muted); font-weight: 400; }
.type { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em; }
.constraints { font-size: .82rem; color: var(--muted); margin-top: .2rem; overflow-wrap: anywhere; }
.status-code { font-weight: 700; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.s2 { color: var(--get); } .s4 { color: var(--put); } .s5 { color: var(--delete); }
.schema { margin: .3rem 0 .6rem; }
.variants > li { margin: .5rem 0; }
.schema-def { border-top: 1px solid var(--line); padding-top: .2rem; }
.md h3 { font-size: 1.05rem; }
@media (max-width: 40rem) {
  body { font-size: 15px; }
  main { padding: .6rem .7rem 3rem; }
  table, thead, tbody, tr, th, td { display: block; }
  thead { display: none; }
  tr { border-top: 1px solid var(--line); padding: .4rem 0; }
  td { border: 0; padding: .1rem 0; }
  td[data-label]::before { content: attr(data-label) ": "; color: var(--muted); font-size: .8rem; }
  pre { font-size: .8rem; }
}
</style>
</head>
<body>
<main>
<header>
<h1>wismo API</h1>
<p class="lead">The HTTP and WebSocket API of the wismo customer-service chat server. This page is generated from <a href="/openapi.json">/openapi.json</a>, the API's OpenAPI 3.1 description.</p>
</header>

<section id="try">
<h2>Try it with curl</h2>
<p>1. Start a conversation. The answer holds the conversation's <code>id</code>, its secret <code>token</code> and the bot's greeting.</p>
<pre><code>curl -s -X POST http://127.0.0.1:8080/v1/conversations \
  -H 'Content-Type: application/json' \
  -d '{"locale": "en"}' | tee conversation.json</code></pre>
<p>2. Keep the id and the token (this uses <code>jq</code>; you can also copy them from the answer by hand).</p>
<pre><code>ID=$(jq -r .id conversation.json)
TOKEN=$(jq -r .token conversation.json)</code></pre>
<p>3. Ask about an order, proving with the token that the conversation is yours.</p>
<pre><code>curl -s -X POST http://127.0.0.1:8080/v1/conversations/$ID/messages \
  -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  -d '{"text": "where is my order #1001?"}'</code></pre>
<p>4. Read the whole conversation back.</p>
<pre><code>curl -s http://127.0.0.1:8080/v1/conversations/$ID \
  -H "Authorization: Bearer $TOKEN"</code></pre>
<p class="muted">Errors come back as <code>application/problem+json</code> with a stable <code>code</code>; the reference below lists them for each operation.</p>
</section>

<div id="status">Loading the API description&hellip;</div>
<div id="content"></div>
</main>

<script>
(function () {
  'use strict';

  var METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
  var doc = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function add(parent) {
    for (var i = 1; i < arguments.length; i++) {
      if (arguments[i]) { parent.appendChild(arguments[i]); }
    }
    return parent;
  }

  function txt(s) { return document.createTextNode(String(s)); }

  // `code` and **bold** inside a line of text; everything else stays text.
  function inline(parent, text) {
    String(text).split(/(`[^`]+`|\*\*[^*]+\*\*)/).forEach(function (part) {
      if (!part) { return; }
      if (part.length > 2 && part.charAt(0) === '`' && part.charAt(part.length - 1) === '`') {
        parent.appendChild(el('code', null, part.slice(1, -1)));
      } else if (part.length > 4 && part.slice(0, 2) === '**' && part.slice(-2) === '**') {
        parent.appendChild(el('strong', null, part.slice(2, -2)));
      } else {
        parent.appendChild(txt(part));
      }
    });
    return parent;
  }

  // A small subset of Markdown: paragraphs, headings, bullet and numbered lists.
  function md(text) {
    var frag = document.createDocumentFragment();
    var para = null, list = null, item = null;
    var bullet = /^\s*([-*]|\d+\.)\s+/;
    String(text || '').split('\n').forEach(function (line) {
      var m = bullet.exec(line);
      if (!line.trim()) { para = list = item = null; return; }
      if (/^#{1,6}\s/.test(line)) {
        para = list = item = null;
        frag.appendChild(inline(el('h3'), line.replace(/^#+\s*/, '')));
        return;
      }
      if (m) {
        var ordered = /\d/.test(m[1]);
        if (!list || (list.tagName === 'OL') !== ordered) {
          list = el(ordered ? 'ol' : 'ul');
          frag.appendChild(list);
        }
        para = null;
        item = inline(el('li'), line.slice(m[0].length));
        list.appendChild(item);
        return;
      }
      if (item && /^\s/.test(line)) { inline(item, ' ' + line.trim()); return; }
      list = item = null;
      if (para) { para.appendChild(txt(' ')); } else { para = el('p'); frag.appendChild(para); }
      inline(para, line.trim());
    });
    return frag;
  }

  function lookup(ref) {
    if (typeof ref !== 'string' || ref.slice(0, 2) !== '#/') { return null; }
    var node = doc;
    ref.slice(2).split('/').forEach(function (part) {
      part = part.replace(/~1/g, '/').replace(/~0/g, '~');
      node = node && typeof node === 'object' && Object.prototype.hasOwnProperty.call(node, part) ? node[part] : null;
    });
    return node;
  }

  function resolve(s) {
    for (var i = 0; s && s.$ref && i < 32; i++) { s = lookup(s.$ref); }
    return s || {};
  }

  function refName(ref) { return String(ref).split('/').pop(); }

  function schemaLink(ref) {
    var name = refName(ref);
    var a = el('a', null, name);
    a.href = '#schema-' + encodeURIComponent(name);
    return a;
  }

  // The type of a schema, with links to named schemas.
  function typeNode(s) {
    var span = el('span', 'type');
    s = s || {};
    if (s.$ref) { span.appendChild(schemaLink(s.$ref)); return span; }
    var variants = s.oneOf || s.anyOf;
    if (variants) {
      variants.forEach(function (v, i) {
        if (i) { span.appendChild(txt(' | ')); }
        span.appendChild(typeNode(v));
      });
      return span;
    }
    var types = Array.isArray(s.type) ? s.type : (s.type ? [s.type] : []);
    if (!types.length) {
      span.appendChild(txt(s.const !== undefined ? JSON.stringify(s.const) : 'any JSON value'));
      return span;
    }
    types.forEach(function (t, i) {
      if (i) { span.appendChild(txt(' | ')); }
      if (t === 'array') {
        span.appendChild(txt('array of '));
        span.appendChild(typeNode(s.items));
      } else if (t === 'object' && s.title) {
        span.appendChild(txt(s.title + ' (object)'));
      } else {
        span.appendChild(txt(t + (s.format && t !== 'null' ? ' (' + s.format + ')' : '')));
      }
    });
    return span;
  }

  function range(what, lo, hi) {
    if (lo !== undefined && hi !== undefined) { return what + ' ' + lo + ' to ' + hi; }
    return lo !== undefined ? what + ' at least ' + lo : what + ' at most ' + hi;
  }

  function constraints(s) {
    var out = [];
    if (!s || s.$ref) { return out; }
    if (s.enum) { out.push('one of: ' + s.enum.map(function (v) { return JSON.stringify(v); }).join(', ')); }
    if (s.const !== undefined) { out.push('always ' + JSON.stringify(s.const)); }
    if (s.minLength !== undefined || s.maxLength !== undefined) { out.push(range('length', s.minLength, s.maxLength)); }
    if (s.minimum !== undefined || s.maximum !== undefined) { out.push(range('value', s.minimum, s.maximum)); }
    if (s.minItems !== undefined || s.maxItems !== undefined) { out.push(range('items', s.minItems, s.maxItems)); }
    if (s.minProperties !== undefined) { out.push(range('fields', s.minProperties, s.maxProperties)); }
    if (s.pattern) { out.push('pattern ' + s.pattern); }
    if (s.default !== undefined) { out.push('default ' + JSON.stringify(s.default)); }
    if (s.additionalProperties === false) { out.push('no other fields allowed'); }
    return out;
  }

  function cell(tag, label) {
    var c = el(tag);
    if (label) { c.setAttribute('data-label', label); }
    return c;
  }

  function headRow(names) {
    var tr = el('tr');
    names.forEach(function (n) { tr.appendChild(el('th', null, n)); });
    return add(el('thead'), tr);
  }

  function requiredMark(parent, required) {
    parent.appendChild(required ? el('span', 'req', 'required') : el('span', 'opt', 'optional'));
  }

  // The fields of an object schema, as a table.
  function propsTable(s) {
    var props = (s && s.properties) || {};
    var names = Object.keys(props);
    if (!names.length) { return null; }
    var required = s.required || [];
    var body = el('tbody');
    names.forEach(function (name) {
      var p = props[name] || {};
      var nameCell = add(cell('td'), el('code', null, name));
      requiredMark(nameCell, required.indexOf(name) >= 0);
      var descCell = cell('td', 'About');
      var d = p.description || (p.$ref ? resolve(p).description : '');
      if (d) { descCell.appendChild(md(d)); }
      var c = constraints(p);
      if (c.length) { descCell.appendChild(el('div', 'constraints', c.join(' \u00b7 '))); }
      body.appendChild(add(el('tr'), nameCell, add(cell('td', 'Type'), typeNode(p)), descCell));
    });
    return add(el('table', 'props'), headRow(['Field', 'Type', 'About']), body);
  }

  // A schema: its type, and the fields of the object it describes.
  function schemaBlock(s, label) {
    var box = el('div', 'schema');
    box.appendChild(add(el('div'), el('span', 'muted', label || 'Schema: '), typeNode(s)));
    var t = resolve(s);
    if (t.type === 'array' && t.items) { t = resolve(t.items); }
    var c = constraints(t);
    if (c.length) { box.appendChild(el('div', 'constraints', c.join(' \u00b7 '))); }
    box.appendChild(propsTable(t) || txt(''));
    var variants = t.oneOf || t.anyOf;
    if (variants) {
      var ul = el('ul', 'variants');
      variants.forEach(function (v) {
        var li = add(el('li'), typeNode(v));
        if (!v.$ref && v.properties) { li.appendChild(propsTable(v)); }
        ul.appendChild(li);
      });
      box.appendChild(add(el('div'), el('div', 'muted', 'One of:'), ul));
    }
    return box;
  }

  function parametersOf(pathItem, op) {
    var byKey = {};
    var order = [];
    (pathItem.parameters || []).concat(op.parameters || []).forEach(function (raw) {
      var p = resolve(raw);
      var key = p['in'] + ':' + p.name;
      if (!byKey[key]) { order.push(key); }
      byKey[key] = p;
    });
    return order.map(function (k) { return byKey[k]; });
  }

  function renderParameters(params) {
    var body = el('tbody');
    params.forEach(function (p) {
      var nameCell = add(cell('td'), el('code', null, p.name));
      requiredMark(nameCell, !!p.required);
      var descCell = cell('td', 'About');
      if (p.description) { descCell.appendChild(md(p.description)); }
      var c = constraints(p.schema);
      if (p.example !== undefined) { c.push('example ' + JSON.stringify(p.example)); }
      if (c.length) { descCell.appendChild(el('div', 'constraints', c.join(' \u00b7 '))); }
      body.appendChild(add(el('tr'), nameCell, add(cell('td', 'In'), txt(p['in'])),
        add(cell('td', 'Type'), typeNode(p.schema)), descCell));
    });
    return add(el('table'), headRow(['Name', 'In', 'Type', 'About']), body);
  }

  function renderAuth(op) {
    var sec = op.security !== undefined ? op.security : (doc.security || []);
    var p = add(el('p', 'auth'), el('strong', null, 'Authentication: '));
    var names = [];
    sec.forEach(function (req) {
      Object.keys(req || {}).forEach(function (k) { if (names.indexOf(k) < 0) { names.push(k); } });
    });
    if (!names.length) {
      p.appendChild(txt(op.security !== undefined && op.description ? 'no HTTP scheme; see the description' : 'none'));
      return p;
    }
    var schemes = (doc.components && doc.components.securitySchemes) || {};
    names.forEach(function (n, i) {
      if (i) { p.appendChild(txt(' or ')); }
      var scheme = schemes[n] || {};
      p.appendChild(el('code', null, n));
      if (scheme.type === 'http' && scheme.scheme === 'bearer') {
        p.appendChild(txt(' (Authorization: Bearer \u2026)'));
      }
      if (scheme.description) { p.appendChild(txt(' \u2014 ')); inline(p, scheme.description); }
    });
    return p;
  }

  function renderRequestBody(rb) {
    rb = resolve(rb);
    var box = el('div');
    var line = add(el('p'), txt('Body '));
    requiredMark(line, !!rb.required);
    box.appendChild(line);
    if (rb.description) { box.appendChild(md(rb.description)); }
    Object.keys(rb.content || {}).forEach(function (ct) {
      box.appendChild(add(el('div'), el('span', 'muted', 'Content-Type: '), el('code', null, ct)));
      var media = rb.content[ct] || {};
      if (media.schema) { box.appendChild(schemaBlock(media.schema)); }
      if (media.example !== undefined) {
        box.appendChild(add(el('pre'), el('code', null, JSON.stringify(media.example, null, 2))));
      }
    });
    return box;
  }

  function renderResponses(responses) {
    var body = el('tbody');
    Object.keys(responses || {}).forEach(function (status) {
      var r = resolve(responses[status]);
      var sc = add(cell('td'), el('span', 'status-code s' + status.charAt(0), status));
      var descCell = cell('td', 'About');
      if (r.description) { descCell.appendChild(md(r.description)); }
      Object.keys(r.content || {}).forEach(function (ct) {
        var media = r.content[ct] || {};
        var line = add(el('div', 'constraints'), el('code', null, ct));
        if (media.schema) { line.appendChild(txt(' ')); line.appendChild(typeNode(media.schema)); }
        descCell.appendChild(line);
      });
      var headers = Object.keys(r.headers || {});
      if (headers.length) {
        var h = add(el('div', 'constraints'), txt('Headers: '));
        headers.forEach(function (name, i) {
          if (i) { h.appendChild(txt(', ')); }
          h.appendChild(el('code', null, name));
          var hd = resolve(r.headers[name]);
          if (hd.description) { h.appendChild(txt(' ')); inline(h, hd.description); }
        });
        descCell.appendChild(h);
      }
      body.appendChild(add(el('tr'), sc, descCell));
    });
    return add(el('table'), headRow(['Status', 'Meaning']), body);
  }

  function renderOperation(path, method, op, pathItem) {
    var det = el('details', 'op');
    det.id = 'op-' + (op.operationId || method + path);
    det.appendChild(add(el('summary'), el('span', 'method ' + method, method.toUpperCase()),
      el('code', 'path', path), el('span', 'summary', op.summary || '')));
    var body = el('div', 'op-body');
    if (op.operationId) {
      body.appendChild(add(el('p', 'opid'), txt('operationId '), el('code', null, op.operationId)));
    }
    if (op.description) { body.appendChild(add(el('div', 'md'), md(op.description))); }
    body.appendChild(renderAuth(op));
    var params = parametersOf(pathItem, op);
    if (params.length) { add(body, el('h4', null, 'Parameters'), renderParameters(params)); }
    if (op.requestBody) { add(body, el('h4', null, 'Request body'), renderRequestBody(op.requestBody)); }
    add(body, el('h4', null, 'Responses'), renderResponses(op.responses));
    det.appendChild(body);
    return det;
  }

  function operations() {
    var ops = [];
    Object.keys(doc.paths || {}).forEach(function (path) {
      var item = doc.paths[path] || {};
      METHODS.forEach(function (m) {
        if (item[m]) { ops.push({ path: path, method: m, op: item[m], item: item }); }
      });
    });
    return ops;
  }

  function renderSchemas(root) {
    var schemas = (doc.components && doc.components.schemas) || {};
    var names = Object.keys(schemas);
    if (!names.length) { return; }
    root.appendChild(el('h2', null, 'Schemas'));
    names.forEach(function (name) {
      var s = schemas[name] || {};
      var sec = el('section', 'schema-def');
      sec.id = 'schema-' + encodeURIComponent(name);
      sec.appendChild(el('h3', null, name));
      if (s.description) { sec.appendChild(md(s.description)); }
      sec.appendChild(schemaBlock(s, 'Type: '));
      root.appendChild(sec);
    });
  }

  function render() {
    var root = document.getElementById('content');
    var info = doc.info || {};
    var about = el('section');
    about.appendChild(el('h2', null, 'About this API'));
    about.appendChild(el('p', 'muted', (info.title || 'API') + ', version ' + (info.version || '?') +
      ' \u00b7 OpenAPI ' + (doc.openapi || '?')));
    about.appendChild(add(el('div', 'md'), md(info.description)));
    root.appendChild(about);

    var ops = operations();
    var tagNames = (doc.tags || []).map(function (t) { return t.name; });
    ops.forEach(function (o) {
      var t = (o.op.tags && o.op.tags[0]) || 'other';
      if (tagNames.indexOf(t) < 0) { tagNames.push(t); }
    });
    var tagInfo = {};
    (doc.tags || []).forEach(function (t) { tagInfo[t.name] = t; });

    root.appendChild(el('h2', null, 'Operations'));
    var toc = el('ul', 'toc');
    ops.forEach(function (o) {
      var a = el('a');
      a.href = '#op-' + encodeURIComponent(o.op.operationId || o.method + o.path);
      add(a, el('span', 'method ' + o.method, o.method.toUpperCase()), el('code', 'path', o.path));
      toc.appendChild(add(el('li'), a));
    });
    root.appendChild(toc);
    var openAll = el('button', null, 'Expand all');
    var closeAll = el('button', null, 'Collapse all');
    openAll.type = closeAll.type = 'button';
    openAll.addEventListener('click', function () { setAll(true); });
    closeAll.addEventListener('click', function () { setAll(false); });
    root.appendChild(add(el('div', 'tools'), openAll, closeAll));

    tagNames.forEach(function (tag) {
      var mine = ops.filter(function (o) { return ((o.op.tags && o.op.tags[0]) || 'other') === tag; });
      if (!mine.length) { return; }
      var sec = el('section');
      sec.appendChild(el('h3', null, tag));
      if (tagInfo[tag] && tagInfo[tag].description) { sec.appendChild(add(el('div', 'muted'), md(tagInfo[tag].description))); }
      mine.forEach(function (o) { sec.appendChild(renderOperation(o.path, o.method, o.op, o.item)); });
      root.appendChild(sec);
    });

    renderSchemas(root);
  }

  function setAll(open) {
    Array.prototype.forEach.call(document.querySelectorAll('details.op'), function (d) { d.open = open; });
  }

  function showHash() {
    var id = decodeURIComponent(location.hash.slice(1));
    var target = id && document.getElementById(id);
    if (!target) { return; }
    if (target.tagName === 'DETAILS') { target.open = true; }
    target.scrollIntoView();
  }

  var status = document.getElementById('status');
  fetch('/openapi.json', { headers: { Accept: 'application/json' } })
    .then(function (res) {
      if (!res.ok) { throw new Error('HTTP ' + res.status); }
      return res.json();
    })
    .then(function (d) {
      doc = d;
      render();
      status.parentNode.removeChild(status);
      window.addEventListener('hashchange', showHash);
      showHash();
    })
    .catch(function (e) {
      status.className = 'error';
      status.textContent = 'Could not load /openapi.json: ' + (e && e.message ? e.message : e);
    });
})();
</script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::{BTreeMap, BTreeSet};

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    /// Every path of the API and its methods: exactly the routes of
    /// `crate::router` (checked by `the_list_is_the_router`).
    const API: &[(&str, &[&str])] = &[
        ("/", &["get"]),
        ("/widget.js", &["get"]),
        ("/console", &["get"]),
        ("/console.js", &["get"]),
        ("/healthz", &["get"]),
        ("/readyz", &["get"]),
        ("/openapi.json", &["get"]),
        ("/docs", &["get"]),
        ("/v1/conversations", &["post"]),
        ("/v1/conversations/{id}", &["get"]),
        ("/v1/conversations/{id}/messages", &["post"]),
        ("/v1/conversations/{id}/ws", &["get"]),
        ("/v1/conversations/{id}/identity", &["post"]),
        ("/v1/conversations/{id}/csat", &["post"]),
        ("/v1/conversations/{id}/resolution", &["get"]),
        ("/v1/admin/resolutions", &["get"]),
        ("/v1/agent/session", &["post", "delete"]),
        ("/v1/agent/oidc", &["get"]),
        ("/v1/agent/oidc/start", &["get"]),
        ("/v1/agent/oidc/callback", &["get"]),
        ("/v1/agent/me", &["get"]),
        ("/v1/agent/queue", &["get"]),
        ("/v1/agent/stream", &["get"]),
        ("/v1/agent/canned-replies", &["get", "post"]),
        ("/v1/agent/canned-replies/{id}", &["delete"]),
        ("/v1/agent/conversations/{id}", &["get"]),
        ("/v1/agent/conversations/{id}/accept", &["post"]),
        ("/v1/agent/conversations/{id}/messages", &["post"]),
        ("/v1/agent/conversations/{id}/notes", &["post"]),
        ("/v1/agent/conversations/{id}/typing", &["post"]),
        ("/v1/agent/conversations/{id}/transfer", &["post"]),
        ("/v1/agent/conversations/{id}/release", &["post"]),
        ("/v1/agent/conversations/{id}/resolve", &["post"]),
        ("/webhooks/rest/webhook", &["post"]),
        ("/v1/admin/import/shopify", &["post"]),
        ("/v1/admin/webhooks", &["get"]),
        ("/v1/integrations/shopify/webhooks", &["post"]),
        ("/v1/integrations/aftership/webhooks", &["post"]),
        ("/v1/integrations/easypost/webhooks", &["post"]),
        ("/v1/integrations/stripe/webhooks", &["post"]),
        ("/v1/integrations/woocommerce/webhooks", &["post"]),
        ("/v1/admin/gdpr/export", &["post"]),
        ("/v1/admin/gdpr/erase", &["post"]),
        ("/v1/admin/gdpr/purge", &["post"]),
        ("/v1/unsubscribe/{token}", &["get", "post"]),
        ("/v1/widget/config", &["get"]),
        ("/v1/admin/store", &["get"]),
        ("/v1/admin/store/versions", &["get"]),
        ("/v1/admin/store/reload", &["post"]),
        ("/v1/admin/store/files", &["get"]),
        ("/v1/admin/store/preview", &["post"]),
        ("/v1/admin/store/publish", &["post"]),
    ];

    const CODES: [(&str, u64); 50] = [
        ("malformed_json", 400),
        ("invalid_body", 400),
        ("unsupported_media_type", 415),
        ("body_too_large", 413),
        ("message_too_long", 422),
        ("empty_message", 422),
        ("invalid_field", 422),
        ("unauthorized", 401),
        ("admin_unauthorized", 401),
        ("admin_disabled", 403),
        ("not_found", 404),
        ("method_not_allowed", 405),
        ("client_message_id_reused", 409),
        ("invalid_orders", 422),
        ("timeout", 503),
        ("unavailable", 503),
        ("shutting_down", 503),
        ("internal", 500),
        ("websocket_required", 426),
        ("agent_unauthorized", 401),
        ("invalid_credentials", 401),
        ("not_assigned", 403),
        ("forbidden", 403),
        ("conversation_not_found", 404),
        ("agent_not_found", 404),
        ("canned_reply_not_found", 404),
        ("already_assigned", 409),
        ("at_capacity", 409),
        ("not_open", 409),
        ("csat_already_given", 409),
        ("csat_bot_only", 409),
        ("csat_case_open", 409),
        ("csat_not_resolved", 409),
        ("duplicate", 409),
        ("invalid_score", 422),
        ("insufficient_scope", 403),
        ("rate_limited", 429),
        ("invalid_customer_token", 401),
        ("already_signed_in", 409),
        ("oidc_not_configured", 404),
        ("oidc_failed", 401),
        ("oidc_unavailable", 502),
        ("rasa_channel_disabled", 404),
        ("rasa_unauthorized", 401),
        ("cross_site_request", 403),
        ("workspace_invalid", 422),
        ("webhook_signature_invalid", 401),
        ("webhook_stale", 401),
        ("integration_not_configured", 404),
        ("unsubscribe_token_unknown", 404),
    ];

    fn doc() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is valid JSON")
    }

    /// Every operation: (path, method, operation).
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let paths = doc["paths"].as_object().expect("paths is an object");
        let mut out = Vec::new();
        for (path, item) in paths {
            let item = item.as_object().expect("a path item is an object");
            for (method, op) in item {
                if METHODS.contains(&method.as_str()) {
                    out.push((path.clone(), method.clone(), op.clone()));
                }
            }
        }
        out
    }

    /// Follows a local `$ref`; `None` if it does not resolve.
    fn lookup<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
        doc.pointer(reference.strip_prefix('#')?)
    }

    fn collect_refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("$ref", Value::String(r)) => out.push(r.clone()),
                        ("discriminator", Value::Object(d)) => {
                            if let Some(mapping) = d.get("mapping").and_then(Value::as_object) {
                                out.extend(
                                    mapping.values().filter_map(Value::as_str).map(String::from),
                                );
                            }
                        }
                        _ => collect_refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn is_openapi_3_1_with_the_right_info() {
        let doc = doc();
        let version = doc["openapi"].as_str().unwrap_or_default();
        assert!(version.starts_with("3.1"), "openapi is {version:?}");
        assert_eq!(doc["info"]["title"], "wismo API");
        assert_eq!(doc["info"]["version"], "0.1.0");
        assert!(doc["info"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("Authorization: Bearer")));
        let schemes = &doc["components"]["securitySchemes"];
        for name in ["conversationToken", "adminToken", "agentSession"] {
            assert_eq!(schemes[name]["type"], "http", "{name}");
            assert_eq!(schemes[name]["scheme"], "bearer", "{name}");
        }
        assert_eq!(schemes["agentCookie"]["type"], "apiKey");
        assert_eq!(schemes["agentCookie"]["in"], "cookie");
        assert_eq!(schemes["agentCookie"]["name"], crate::agents::COOKIE);
    }

    /// The routes of `crate::router`, read from its source: each
    /// `.route(path, method_router)` with the methods it names.
    fn router_routes() -> BTreeMap<String, BTreeSet<String>> {
        const LIB: &str = include_str!("lib.rs");
        let start = LIB.find("pub fn router(").expect("lib.rs has fn router");
        let body = &LIB[start..];
        let end = body.find(".fallback(").expect("the router has a fallback");
        let mut routes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for call in body[..end].split(".route(").skip(1) {
            let (path, handlers) = call.split_once(',').expect("route(path, handler)");
            let path = path.trim();
            let path = match path.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
                Some(p) => p.to_string(),
                None => const_str(LIB, path),
            };
            let methods: BTreeSet<String> = METHODS
                .iter()
                .filter(|m| names_call(handlers, m))
                .map(|m| m.to_string())
                .collect();
            assert!(
                !methods.is_empty(),
                "no method found for {path}: {handlers}"
            );
            routes.entry(path).or_default().extend(methods);
        }
        routes
    }

    /// The value of `const NAME: &str = "…";` in `source`.
    fn const_str(source: &str, name: &str) -> String {
        let decl = format!("const {name}: &str = \"");
        let at = source
            .find(&decl)
            .unwrap_or_else(|| panic!("no string constant {name} in lib.rs"))
            + decl.len();
        let len = source[at..].find('"').expect("closing quote");
        source[at..at + len].to_string()
    }

    /// Whether `code` calls the function `name` (`get(`, `.post(`,
    /// `axum::routing::delete(`), not one that only ends with it.
    fn names_call(code: &str, name: &str) -> bool {
        let call = format!("{name}(");
        code.match_indices(&call).any(|(i, _)| {
            !code[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    }

    #[test]
    fn the_list_is_the_router() {
        let router = router_routes();
        assert!(router.len() >= 30, "parsed only {router:?}");
        let listed: BTreeMap<String, BTreeSet<String>> = API
            .iter()
            .map(|(p, ms)| (p.to_string(), ms.iter().map(|m| m.to_string()).collect()))
            .collect();
        assert_eq!(listed.len(), API.len(), "a path is listed twice in API");
        assert_eq!(
            listed, router,
            "API (and so openapi.json) must list exactly the routes of crate::router"
        );
    }

    /// The names of the security requirements of an operation (none: `[]`).
    fn security_names(op: &Value) -> BTreeSet<String> {
        op["security"]
            .as_array()
            .map(|reqs| {
                reqs.iter()
                    .filter_map(Value::as_object)
                    .flat_map(|r| r.keys().cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn agent_and_resolution_endpoints_declare_their_auth() {
        let doc = doc();
        let agent: BTreeSet<String> = ["agentSession", "agentCookie"].map(String::from).into();
        let staff: BTreeSet<String> = ["adminToken", "agentSession", "agentCookie"]
            .map(String::from)
            .into();
        let mut checked = 0;
        for (path, method, op) in operations(&doc) {
            let want = if path == "/v1/agent/session" || path.starts_with("/v1/agent/oidc") {
                continue;
            } else if path.starts_with("/v1/agent/") {
                &agent
            } else if path.ends_with("/resolution") || path == "/v1/admin/resolutions" {
                &staff
            } else {
                continue;
            };
            assert_eq!(&security_names(&op), want, "{method} {path}");
            assert!(
                op["responses"].get("401").is_some(),
                "{method} {path} documents no 401"
            );
            checked += 1;
        }
        assert_eq!(checked, 16);
        let csat = &doc["paths"]["/v1/conversations/{id}/csat"]["post"];
        assert_eq!(
            security_names(csat),
            BTreeSet::from(["conversationToken".to_string()])
        );
        let sign_in = &doc["paths"]["/v1/agent/session"]["post"];
        assert!(
            sign_in.get("security").is_none(),
            "signing in needs no session"
        );
    }

    #[test]
    fn codes_have_the_status_of_the_error_type() {
        use crate::error::ApiError;
        let errors = [
            ApiError::MalformedJson(String::new()),
            ApiError::InvalidBody(String::new()),
            ApiError::UnsupportedMediaType(String::new()),
            ApiError::BodyTooLarge(1),
            ApiError::MessageTooLong { chars: 2, limit: 1 },
            ApiError::EmptyMessage,
            ApiError::InvalidField {
                field: "f",
                reason: String::new(),
            },
            ApiError::Unauthorized,
            ApiError::AdminUnauthorized,
            ApiError::AdminDisabled,
            ApiError::NoRoute {
                method: String::new(),
                path: String::new(),
            },
            ApiError::MethodNotAllowed {
                method: String::new(),
            },
            ApiError::ClientMessageIdReused(String::new()),
            ApiError::InvalidOrders(String::new()),
            ApiError::Timeout(1),
            ApiError::Unavailable(String::new()),
            ApiError::ShuttingDown,
            ApiError::Internal(String::new()),
            ApiError::WebSocketRequired,
            ApiError::AgentUnauthorized,
            ApiError::InvalidCredentials,
            ApiError::NotAssigned,
            ApiError::Forbidden(String::new()),
            ApiError::not_found("conversation_not_found", ""),
            ApiError::not_found("agent_not_found", ""),
            ApiError::not_found("canned_reply_not_found", ""),
            ApiError::conflict("already_assigned", ""),
            ApiError::conflict("at_capacity", ""),
            ApiError::conflict("not_open", ""),
            ApiError::conflict("csat_already_given", ""),
            ApiError::conflict("csat_bot_only", ""),
            ApiError::conflict("csat_case_open", ""),
            ApiError::conflict("csat_not_resolved", ""),
            ApiError::conflict("duplicate", ""),
            ApiError::InvalidScore,
            ApiError::InsufficientScope("import"),
            ApiError::RateLimited {
                scope: "ip",
                retry_after: 1,
            },
            ApiError::InvalidCustomerToken,
            ApiError::conflict("already_signed_in", ""),
            ApiError::OidcNotConfigured,
            ApiError::OidcFailed,
            ApiError::OidcUnavailable,
            ApiError::RasaChannelDisabled,
            ApiError::RasaUnauthorized,
            ApiError::CrossSiteRequest,
            ApiError::WorkspaceInvalid(Vec::new()),
            ApiError::WebhookSignatureInvalid("shopify"),
            ApiError::WebhookStale {
                provider: "shopify",
                reason: String::new(),
            },
            ApiError::IntegrationNotConfigured("shopify"),
            crate::emails::unknown_token(),
        ];
        let actual: BTreeMap<&str, u64> = errors
            .iter()
            .map(|e| (e.code(), u64::from(e.status().as_u16())))
            .collect();
        let listed: BTreeMap<&str, u64> = CODES.iter().copied().collect();
        assert_eq!(listed, actual);
    }

    #[test]
    fn lists_every_path_with_exactly_its_methods() {
        let doc = doc();
        let paths = doc["paths"].as_object().expect("paths is an object");
        let listed: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
        let expected: BTreeSet<&str> = API.iter().map(|(p, _)| *p).collect();
        assert_eq!(listed, expected, "the document's paths");
        for (path, methods) in API {
            let item = paths[*path].as_object().expect("a path item is an object");
            let got: BTreeSet<&str> = item
                .keys()
                .map(String::as_str)
                .filter(|k| METHODS.contains(k))
                .collect();
            let want: BTreeSet<&str> = methods.iter().copied().collect();
            assert_eq!(got, want, "methods of {path}");
        }
    }

    #[test]
    fn every_operation_has_an_id_and_a_client_error() {
        let doc = doc();
        let mut ids = BTreeSet::new();
        for (path, method, op) in operations(&doc) {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path} has no summary"
            );
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|status| status.starts_with('4')),
                "{method} {path} documents no 4xx response"
            );
        }
    }

    #[test]
    fn errors_are_problem_documents() {
        let doc = doc();
        for (path, method, op) in operations(&doc) {
            let responses = op["responses"].as_object().expect("responses");
            for (status, response) in responses {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                // The readiness probe's 503 is its plain JSON status report.
                if path == "/readyz" && status == "503" {
                    continue;
                }
                let response = match response["$ref"].as_str() {
                    Some(r) => lookup(&doc, r).expect("response ref resolves"),
                    None => response,
                };
                let content = response["content"].as_object().expect("error content");
                let types: Vec<&str> = content.keys().map(String::as_str).collect();
                assert_eq!(
                    types,
                    ["application/problem+json"],
                    "{method} {path} {status}"
                );
                assert_eq!(
                    content["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{method} {path} {status}"
                );
                if status == "503" {
                    assert!(
                        response["headers"].get("Retry-After").is_some(),
                        "{method} {path} 503 lacks Retry-After"
                    );
                }
                if status == "401" {
                    assert!(
                        response["headers"].get("WWW-Authenticate").is_some(),
                        "{method} {path} 401 lacks WWW-Authenticate"
                    );
                }
            }
        }
    }

    #[test]
    fn the_problem_schema_lists_every_code() {
        let doc = doc();
        let problem = &doc["components"]["schemas"]["Problem"];
        let required: BTreeSet<&str> = problem["required"]
            .as_array()
            .expect("required")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let want: BTreeSet<&str> = ["type", "title", "status", "code", "message"].into();
        assert_eq!(required, want);
        let code = match problem["properties"]["code"]["$ref"].as_str() {
            Some(r) => lookup(&doc, r).expect("code ref resolves"),
            None => &problem["properties"]["code"],
        };
        let listed: BTreeSet<&str> = code["enum"]
            .as_array()
            .expect("code enum")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let known: BTreeSet<&str> = CODES.iter().map(|(c, _)| *c).collect();
        assert_eq!(listed, known);
    }

    #[test]
    fn problem_examples_agree_with_their_status() {
        let doc = doc();
        let mut examples = Vec::new();
        let mut responses: Vec<(String, Value)> = Vec::new();
        for (path, method, op) in operations(&doc) {
            for (status, r) in op["responses"].as_object().expect("responses") {
                let r = match r["$ref"].as_str() {
                    Some(reference) => lookup(&doc, reference).expect("ref resolves").clone(),
                    None => r.clone(),
                };
                responses.push((format!("{method} {path} {status}"), r));
            }
        }
        for (place, r) in &responses {
            let Some(media) = r["content"].get("application/problem+json") else {
                continue;
            };
            if let Some(e) = media.get("example") {
                examples.push((place.clone(), e.clone()));
            }
            if let Some(map) = media.get("examples").and_then(Value::as_object) {
                for e in map.values() {
                    examples.push((place.clone(), e["value"].clone()));
                }
            }
        }
        assert!(!examples.is_empty());
        for (place, e) in examples {
            let code = e["code"].as_str().expect("example code");
            let status = CODES
                .iter()
                .find(|(c, _)| *c == code)
                .map(|(_, s)| *s)
                .unwrap_or_else(|| panic!("{place}: unknown code {code}"));
            assert_eq!(e["status"], status, "{place}: {code}");
            assert!(place.ends_with(&status.to_string()), "{place}: {code}");
            assert_eq!(
                e["type"],
                format!("https://wismo.dev/errors/{code}"),
                "{place}"
            );
        }
    }

    #[test]
    fn every_ref_resolves() {
        let doc = doc();
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            assert!(
                r.starts_with("#/components/"),
                "{r} is not a local component"
            );
            assert!(lookup(&doc, &r).is_some(), "{r} does not resolve");
        }
    }

    /// Found by scripts/schemathesis: answers the server gives that the
    /// document did not list.
    #[test]
    fn schemathesis_findings_stay_documented() {
        let doc = doc();
        let typing = &doc["paths"]["/v1/agent/conversations/{id}/typing"]["post"]["responses"];
        for status in ["404", "409"] {
            assert!(typing.get(status).is_some(), "typing documents {status}");
        }
        // Each Server-Sent Event of the agent stream: a named event with JSON text.
        let sse = &doc["paths"]["/v1/agent/stream"]["get"]["responses"]["200"]["content"]
            ["text/event-stream"]["schema"];
        assert_eq!(sse["type"], "object");
        let names: Vec<&str> = sse["properties"]["event"]["enum"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert_eq!(names, ["queue", "handoff", "activity"]);
        assert_eq!(sse["properties"]["data"]["type"], "string");
        // An agent who may not see a case gets 403 `forbidden` (tests/rbac.rs).
        for (path, method) in [
            ("/v1/agent/conversations/{id}", "get"),
            ("/v1/agent/conversations/{id}/notes", "post"),
        ] {
            assert_eq!(
                doc["paths"][path][method]["responses"]["403"]["$ref"],
                "#/components/responses/Forbidden",
                "{method} {path}"
            );
        }
        let forbidden = &doc["components"]["responses"]["Forbidden"]["content"]
            ["application/problem+json"]["example"];
        assert_eq!(forbidden["code"], "forbidden");
        assert_eq!(forbidden["status"], 403);
    }

    #[tokio::test]
    async fn the_document_names_the_public_url_as_its_server() {
        let served: Value =
            serde_json::from_str(&document_for("https://chat.shop.example")).expect("json");
        assert_eq!(served["servers"][0]["url"], "https://chat.shop.example");
        let mut original = doc();
        original["servers"] = served["servers"].clone();
        assert_eq!(served, original, "only the server changes");
    }

    #[tokio::test]
    async fn the_page_is_self_contained() {
        let html = page_for("http://127.0.0.1:8080");
        assert!(html.contains("<title>wismo API</title>"));
        assert!(html.contains("fetch('/openapi.json'"));
        assert!(html.contains("curl -s -X POST http://127.0.0.1:8080/v1/conversations"));
        assert!(html.contains("where is my order #1001?"));
        let lower = html.to_ascii_lowercase();
        for banned in [
            "<script src",
            "<link",
            "@import",
            "url(",
            "innerhtml",
            "outerhtml",
            "insertadjacenthtml",
            "document.write",
            "https://",
        ] {
            assert!(!lower.contains(banned), "the page contains {banned:?}");
        }
    }
}
