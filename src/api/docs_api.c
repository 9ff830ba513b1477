/* docs_api.c — GET /api/openapi.json, GET /api/docs/ and its script.
 *
 * The OpenAPI document is built once at registration (openapi.c) and kept
 * serialised for the life of the process, so the three routes never block
 * and run inline on the event loop. The page is self-contained: no CDN, and
 * no inline script because the CSP says `script-src 'self'` — the script is
 * served from /api/docs/docs.js. It fetches /api/openapi.json and renders
 * the operations grouped by tag, each with its roles, parameters, request
 * body and responses; schemas are shown with their $refs resolved, so
 * nothing needs a second click. All text is inserted with textContent, never
 * as HTML. */
#include <stdlib.h>
#include <string.h>

#include "api/openapi.h"
#include "api/routes.h"
#include "core/log.h"

/* The serialised document; written once at registration, read-only after. */
static char *openapi_text;
static size_t openapi_len;

static const char docs_html[] =
    "<!doctype html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>SmartMarket API</title>\n"
    "<style>\n"
    "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}\n"
    "header{background:#1d3557;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}\n"
    "main{max-width:1100px;margin:0 auto;padding:12px 28px 60px}\n"
    "h2{margin:28px 0 8px;text-transform:capitalize;border-bottom:2px solid #d6dbe1}\n"
    "details{background:#fff;border:1px solid #d6dbe1;border-radius:6px;margin:8px 0}\n"
    "summary{cursor:pointer;padding:9px 12px;display:flex;gap:12px;align-items:baseline}\n"
    ".m{font:600 12px monospace;text-transform:uppercase;padding:2px 8px;border-radius:4px;"
    "color:#fff;min-width:52px;text-align:center}\n"
    ".get{background:#2a7ab0}.post{background:#2f9e44}.patch{background:#d9480f}"
    ".delete{background:#c92a2a}.put{background:#7048e8}\n"
    ".p{font-family:monospace;font-weight:600}.s{color:#56606b}.who{margin-left:auto;"
    "font-size:12px;color:#56606b}\n"
    ".body{padding:4px 16px 14px;border-top:1px solid #eef0f3}\n"
    "table{border-collapse:collapse;width:100%;font-size:14px}td,th{text-align:left;"
    "padding:4px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}\n"
    "pre{background:#f1f3f5;padding:8px 10px;border-radius:4px;overflow:auto;font-size:12.5px}\n"
    "h4{margin:12px 0 4px}#err{color:#c92a2a}\n"
    "</style></head><body>\n"
    "<header><h1 id=\"title\">SmartMarket API</h1><div id=\"desc\"></div></header>\n"
    "<main><p id=\"err\"></p><div id=\"ops\">Loading /api/openapi.json…</div></main>\n"
    "<script src=\"/api/docs/docs.js\"></script>\n"
    "</body></html>\n";

static const char docs_js[] =
    "'use strict';\n"
    "(function () {\n"
    "  function el(tag, cls, text) {\n"
    "    var e = document.createElement(tag);\n"
    "    if (cls) e.className = cls;\n"
    "    if (text !== undefined) e.textContent = text;\n"
    "    return e;\n"
    "  }\n"
    "  function resolve(spec, node, depth) {\n"
    "    if (depth > 8 || node === null || typeof node !== 'object') return node;\n"
    "    if (Array.isArray(node)) return node.map(function (n) { return resolve(spec, n, depth + "
    "1); });\n"
    "    if (typeof node.$ref === 'string') {\n"
    "      var target = node.$ref.replace(/^#\\//, '').split('/').reduce(function (o, k) {\n"
    "        return o && o[k];\n"
    "      }, spec);\n"
    "      return resolve(spec, target, depth + 1);\n"
    "    }\n"
    "    var out = {};\n"
    "    Object.keys(node).forEach(function (k) { out[k] = resolve(spec, node[k], depth + 1); "
    "});\n"
    "    return out;\n"
    "  }\n"
    "  function schemaBlock(spec, schema) {\n"
    "    return el('pre', null, JSON.stringify(resolve(spec, schema, 0), null, 2));\n"
    "  }\n"
    "  function render(spec) {\n"
    "    document.getElementById('title').textContent = spec.info.title + ' ' + "
    "spec.info.version;\n"
    "    document.getElementById('desc').textContent = spec.info.description || '';\n"
    "    var groups = {}, order = (spec.tags || []).map(function (t) { return t.name; });\n"
    "    Object.keys(spec.paths).forEach(function (path) {\n"
    "      Object.keys(spec.paths[path]).forEach(function (method) {\n"
    "        var op = spec.paths[path][method], tag = (op.tags || ['other'])[0];\n"
    "        if (order.indexOf(tag) < 0) order.push(tag);\n"
    "        (groups[tag] = groups[tag] || []).push({ path: path, method: method, op: op });\n"
    "      });\n"
    "    });\n"
    "    var root = document.getElementById('ops');\n"
    "    root.textContent = '';\n"
    "    order.forEach(function (tag) {\n"
    "      if (!groups[tag]) return;\n"
    "      root.appendChild(el('h2', null, tag));\n"
    "      groups[tag].forEach(function (g) { root.appendChild(operation(spec, g)); });\n"
    "    });\n"
    "  }\n"
    "  function operation(spec, g) {\n"
    "    var op = g.op, d = el('details'), s = el('summary');\n"
    "    s.appendChild(el('span', 'm ' + g.method, g.method));\n"
    "    s.appendChild(el('span', 'p', g.path));\n"
    "    s.appendChild(el('span', 's', op.summary || ''));\n"
    "    s.appendChild(el('span', 'who', op['x-roles'] || ''));\n"
    "    d.appendChild(s);\n"
    "    var b = el('div', 'body');\n"
    "    if (op.description) b.appendChild(el('p', null, op.description));\n"
    "    var params = (op.parameters || []).map(function (p) { return resolve(spec, p, 0); });\n"
    "    if (params.length) {\n"
    "      b.appendChild(el('h4', null, 'Parameters'));\n"
    "      var t = el('table'), hr = el('tr');\n"
    "      ['name', 'in', 'type', 'description'].forEach(function (h) { "
    "hr.appendChild(el('th', null, h)); });\n"
    "      t.appendChild(hr);\n"
    "      params.forEach(function (p) {\n"
    "        var tr = el('tr'), sc = p.schema || {};\n"
    "        var type = sc.enum ? sc.enum.join(' | ') : (sc.type || '');\n"
    "        [p.name + (p.required ? ' *' : ''), p.in, type, p.description || '']\n"
    "          .forEach(function (v) { tr.appendChild(el('td', null, v)); });\n"
    "        t.appendChild(tr);\n"
    "      });\n"
    "      b.appendChild(t);\n"
    "    }\n"
    "    if (op.requestBody) {\n"
    "      b.appendChild(el('h4', null, 'Request body (application/json)'));\n"
    "      b.appendChild(schemaBlock(spec, op.requestBody.content['application/json'].schema));\n"
    "    }\n"
    "    b.appendChild(el('h4', null, 'Responses'));\n"
    "    Object.keys(op.responses).forEach(function (code) {\n"
    "      var r = resolve(spec, op.responses[code], 0);\n"
    "      b.appendChild(el('div', null, code + ' — ' + (r.description || '')));\n"
    "      var c = r.content && r.content['application/json'];\n"
    "      if (c && /^2/.test(code)) b.appendChild(schemaBlock(spec, c.schema));\n"
    "    });\n"
    "    d.appendChild(b);\n"
    "    return d;\n"
    "  }\n"
    "  fetch('/api/openapi.json', { headers: { Accept: 'application/json' } })\n"
    "    .then(function (r) {\n"
    "      if (!r.ok) throw new Error('HTTP ' + r.status);\n"
    "      return r.json();\n"
    "    })\n"
    "    .then(render)\n"
    "    .catch(function (e) {\n"
    "      document.getElementById('err').textContent = 'Cannot load the API description: ' + "
    "e.message;\n"
    "    });\n"
    "})();\n";

static void serve(http_response *res, const char *body, size_t len, const char *type)
{
    if (http_response_set_body(res, body, len, type) != 0) {
        http_response_error(res, 500, "internal_error", NULL, "internal error");
        return;
    }
    http_response_add_header(res, "Cache-Control", "no-cache");
}

static void handle_openapi(http_request *req, http_response *res, void *ctx)
{
    (void)req;
    (void)ctx;
    serve(res, openapi_text, openapi_len, "application/json");
}

static void handle_page(http_request *req, http_response *res, void *ctx)
{
    (void)req;
    (void)ctx;
    serve(res, docs_html, sizeof docs_html - 1, "text/html; charset=utf-8");
}

static void handle_script(http_request *req, http_response *res, void *ctx)
{
    (void)req;
    (void)ctx;
    serve(res, docs_js, sizeof docs_js - 1, "text/javascript; charset=utf-8");
}

int api_docs_routes(http_router *r)
{
    int rc;
    if (!openapi_text) {
        json_t *doc = openapi_build();
        if (!doc)
            return SM_ENOMEM;
        openapi_text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        if (!openapi_text)
            return SM_ENOMEM;
        openapi_len = strlen(openapi_text);
    }
    if ((rc = http_router_add(r, "GET", "/api/openapi.json", handle_openapi, NULL,
                              HTTP_ROUTE_INLINE)) < 0 ||
        (rc = http_router_add(r, "GET", "/api/docs/", handle_page, NULL, HTTP_ROUTE_INLINE)) < 0 ||
        (rc = http_router_add(r, "GET", "/api/docs/docs.js", handle_script, NULL,
                              HTTP_ROUTE_INLINE)) < 0)
        return rc;
    return 0;
}
