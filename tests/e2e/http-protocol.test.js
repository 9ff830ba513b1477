// http-protocol.test.js — the HTTP layer seen from the wire: routing errors,
// limits (body, headers, slow clients), keep-alive and pipelining, chunked
// bodies, request ids in responses and logs, security headers, graceful
// shutdown, static files, and the OpenAPI document.
import assert from 'node:assert/strict';
import net from 'node:net';
import zlib from 'node:zlib';
import { describe, before, after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  test, startServer, assertError, uid, API_PATHS, VERSION, SCALE, withTimeout, until,
} from './lib/harness.js';
import { exchange, requestBytes, parseResponses } from './lib/raw.js';

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

function assertSecurityHeaders(get, where) {
  const csp = get('content-security-policy');
  assert.ok(csp, `${where}: Content-Security-Policy`);
  assert.match(csp, /frame-ancestors 'none'/, `${where}: CSP frame-ancestors`);
  assert.equal(get('x-content-type-options'), 'nosniff', `${where}: X-Content-Type-Options`);
  assert.equal(get('referrer-policy'), 'same-origin', `${where}: Referrer-Policy`);
  assert.equal(get('x-frame-options'), 'DENY', `${where}: X-Frame-Options`);
}

describe('http protocol', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  test('an unknown route is 404 not_found as JSON', async () => {
    const r = await srv.get('/api/nothing-here/');
    assertError(r, 404, 'not_found');
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assertError(await srv.get('/definitely/not/a/route'), 404, 'not_found');
  });

  test('a known route with another method is 405 with Allow', async () => {
    const r = await srv.request('DELETE', '/api/auth/me/');
    assertError(r, 405, 'method_not_allowed');
    assert.match(r.headers.get('allow'), /\bGET\b/);
    const p = await srv.request('PUT', '/api/products/', { json: {} });
    assertError(p, 405, 'method_not_allowed');
    const allow = p.headers.get('allow').split(',').map((s) => s.trim());
    assert.ok(allow.includes('GET') && allow.includes('POST'), `Allow: ${allow}`);
    assert.ok(!allow.includes('PUT'));
  });

  test('security headers on success, client errors and HEAD', async () => {
    const ok = await srv.get('/health/live/');
    assertSecurityHeaders((h) => ok.headers.get(h), '200');
    const nf = await srv.get('/nope');
    assertSecurityHeaders((h) => nf.headers.get(h), '404');
    const un = await srv.get('/api/auth/me/');
    assertSecurityHeaders((h) => un.headers.get(h), '401');
    assert.equal(ok.headers.get('strict-transport-security'), null, 'no HSTS over plain HTTP');
  });

  test('X-Forwarded-Proto is ignored without TRUST_PROXY (no HSTS)', async () => {
    const r = await srv.get('/health/live/', { headers: { 'X-Forwarded-Proto': 'https' } });
    assert.equal(r.headers.get('strict-transport-security'), null);
  });

  test('a well-formed X-Request-ID is echoed', async () => {
    const id = `e2e-${uid()}.A_z`;
    const r = await srv.get('/health/live/', { headers: { 'X-Request-ID': id } });
    assert.equal(r.headers.get('x-request-id'), id);
  });

  test('a missing or malformed X-Request-ID is replaced by a fresh one', async () => {
    const a = (await srv.get('/health/live/')).headers.get('x-request-id');
    const b = (await srv.get('/health/live/')).headers.get('x-request-id');
    assert.match(a, REQUEST_ID_RE);
    assert.match(b, REQUEST_ID_RE);
    assert.notEqual(a, b);
    for (const bad of ['has space', 'semi;colon', 'x'.repeat(65), 'slash/y', 'é']) {
      const got = await srv.get('/health/live/', { headers: { 'X-Request-ID': bad } });
      assert.equal(got.status, 200);
      const rid = got.headers.get('x-request-id');
      assert.match(rid, REQUEST_ID_RE, `replacement for ${JSON.stringify(bad)}`);
      assert.notEqual(rid, bad);
    }
  });

  test('the request id appears in the log lines of that request', async () => {
    const id = `log-${uid()}`;
    const r = await srv.post('/api/auth/login/', { email: `nobody-${uid()}@e2e.test`, password: 'wrong-password' }, { headers: { 'X-Request-ID': id } });
    assert.equal(r.status, 401);
    const id2 = `log-${uid()}`;
    assert.equal((await srv.get('/api/products/', { headers: { 'X-Request-ID': id2 } })).status, 200);
    await until(`log lines carrying ${id} and ${id2}`,
      () => srv.logsFor(id).length >= 1 && srv.logsFor(id2).length >= 1, 5000);
    const lines = srv.logsFor(id);
    // the access line names the request
    const access = [...lines, ...srv.logsFor(id2)].map((l) => JSON.stringify(l.json));
    assert.ok(access.some((l) => l.includes('/api/auth/login/') && l.includes('401')), `access log for ${id}: ${access}`);
  });

  test('every stdout line is a JSON log object with ts, level and msg', async () => {
    await srv.get('/health/live/');
    const out = srv.logs.filter((x) => x.stream === 'stdout');
    assert.ok(out.length >= 2);
    for (const l of out) {
      assert.ok(l.json && typeof l.json === 'object', `stdout line is not JSON: ${l.raw}`);
      assert.match(l.json.ts, /^\d{4}-\d\d-\d\dT/, l.raw);
      assert.ok(['DEBUG', 'INFO', 'WARNING', 'ERROR'].includes(l.json.level), l.raw);
      assert.equal(typeof l.json.msg, 'string', l.raw);
    }
  });

  test('HEAD is served by GET routes without a body', async () => {
    const r = await exchange(srv.port, [requestBytes('HEAD', '/api/categories/', [['Host', 'x'], ['Connection', 'close']])]);
    const { responses } = parseResponses(r.data, [true]);
    assert.equal(responses.length, 1, r.data.toString());
    assert.equal(responses[0].status, 200);
    assert.equal(responses[0].body.length, 0);
    assert.ok(Number(responses[0].headers['content-length']) > 0, 'Content-Length of the GET body');
  });

  test('keep-alive: two requests on one connection, then Connection: close closes it', async () => {
    const r = await exchange(srv.port, [
      requestBytes('GET', '/health/live/', [['Host', 'x'], ['X-Request-ID', 'ka-1']]),
      requestBytes('GET', '/api/categories/', [['Host', 'x'], ['X-Request-ID', 'ka-2'], ['Connection', 'close']]),
    ], { delayMs: 100, timeoutMs: 5000 });
    const { responses } = parseResponses(r.data);
    assert.equal(responses.length, 2, r.data.toString());
    assert.deepEqual(responses.map((x) => x.headers['x-request-id']), ['ka-1', 'ka-2']);
    assert.deepEqual(responses.map((x) => x.status), [200, 200]);
    assert.deepEqual(responses[0].json, { status: 'ok' });
    assert.equal(r.closed, true, 'server closed after Connection: close');
    assert.ok(r.elapsedMs < 3000 * SCALE);
  });

  test('pipelining: three requests in one write get three responses in order', async () => {
    const reqs = ['p-1', 'p-2', 'p-3'].map((id, i) => requestBytes('GET', i === 1 ? '/api/categories/' : '/health/live/', [['Host', 'x'], ['X-Request-ID', id]]));
    const r = await exchange(srv.port, [Buffer.concat(reqs)], { untilResponses: 3, timeoutMs: 5000 });
    const { responses } = parseResponses(r.data);
    assert.equal(responses.length, 3, r.data.toString());
    assert.deepEqual(responses.map((x) => x.headers['x-request-id']), ['p-1', 'p-2', 'p-3']);
    assert.deepEqual(responses.map((x) => x.status), [200, 200, 200]);
    assert.ok(Array.isArray(responses[1].json.items));
  });

  test('a chunked request body is reassembled', async () => {
    const email = `chunked-${uid()}@e2e.test`;
    const body = JSON.stringify({ email, password: 'password-123', name: 'Chunky' });
    const parts = [body.slice(0, 7), body.slice(7, 30), body.slice(30)];
    const chunked = `${parts.map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join('')}0\r\n\r\n`;
    const head = requestBytes('POST', '/api/auth/register/', [['Host', 'x'], ['Content-Type', 'application/json'], ['Transfer-Encoding', 'chunked'], ['Connection', 'close']]);
    const r = await exchange(srv.port, [head, chunked.slice(0, 20), chunked.slice(20)], { delayMs: 50 });
    const { responses } = parseResponses(r.data);
    assert.equal(responses.length, 1, r.data.toString());
    assert.equal(responses[0].status, 201, responses[0].body.toString());
    assert.equal(responses[0].json.user.email, email);
    assert.equal(responses[0].json.user.name, 'Chunky');
  });

  test('malformed HTTP is 400 bad_request and the connection is closed', async () => {
    const r = await exchange(srv.port, ['GARBAGE / NOT-HTTP\r\n\r\n'], { timeoutMs: 5000 });
    const { responses } = parseResponses(r.data);
    assert.equal(responses.length, 1, `got: ${JSON.stringify(r.data.toString())}`);
    assert.equal(responses[0].status, 400);
    assert.equal(responses[0].json.error.code, 'bad_request');
    assert.equal(r.closed, true);
    const r2 = await exchange(srv.port, ['GET /health/live/ HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n'], { timeoutMs: 5000 });
    const p2 = parseResponses(r2.data).responses;
    assert.equal(p2[0]?.status, 400, JSON.stringify(r2.data.toString()));
    assert.equal(r2.closed, true);
  });

  test('more than HTTP_MAX_HEADERS headers is 431 headers_too_large', async () => {
    const headers = [['Host', 'x']];
    for (let i = 0; i < 100; i += 1) headers.push([`X-Filler-${i}`, 'v']);
    const r = await exchange(srv.port, [requestBytes('GET', '/health/live/', headers)], { timeoutMs: 5000 });
    const { responses } = parseResponses(r.data);
    assert.equal(responses.length, 1, JSON.stringify(r.data.toString().slice(0, 300)));
    assert.equal(responses[0].status, 431);
    assert.equal(responses[0].json.error.code, 'headers_too_large');
  });

  test('headers over HTTP_MAX_HEADER_BYTES are 431', async () => {
    const r = await exchange(srv.port, [requestBytes('GET', '/health/live/', [['Host', 'x'], ['X-Big', 'b'.repeat(20000)]])], { timeoutMs: 5000 });
    const { responses } = parseResponses(r.data);
    assert.equal(responses[0]?.status, 431, JSON.stringify(r.data.toString().slice(0, 300)));
    assert.equal(responses[0].json.error.code, 'headers_too_large');
  });

  test('the server keeps serving after bad clients', async () => {
    const r = await srv.get('/health/live/');
    assert.equal(r.status, 200);
  });

  test('openapi.json is an OpenAPI 3.0 document listing every path the tests use', async () => {
    const r = await srv.get('/api/openapi.json');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    const doc = r.json;
    assert.match(doc.openapi, /^3\.0\.\d+$/);
    assert.equal(typeof doc.info.title, 'string');
    assert.equal(doc.info.version, VERSION);
    const norm = (p) => p.replace(/\{[^}]+\}/g, '{}');
    const listed = new Set(Object.keys(doc.paths).map(norm));
    const missing = API_PATHS.filter((p) => !listed.has(norm(p)));
    assert.deepEqual(missing, [], `paths missing from openapi.json: ${missing.join(', ')}`);
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!['get', 'post', 'put', 'patch', 'delete', 'head', 'options'].includes(method)) continue;
        assert.ok(op.responses && Object.keys(op.responses).length > 0, `${method.toUpperCase()} ${p} has responses`);
      }
    }
    const methods = (p) => Object.keys(doc.paths[Object.keys(doc.paths).find((k) => norm(k) === norm(p))]);
    assert.ok(methods('/api/products/{id}/').includes('patch'));
    assert.ok(methods('/api/products/{id}/').includes('delete'));
    assert.ok(methods('/api/orders/{id}/status/').includes('post'));
  });

  test('the docs page is self-contained HTML (no CDN)', async () => {
    const r = await srv.get('/api/docs/');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/html/);
    assert.match(r.text, /<html/i);
    assert.ok(!/<script[^>]+src=["']?(https?:)?\/\//i.test(r.text), 'no external scripts');
    assert.ok(!/<link[^>]+href=["']?(https?:)?\/\//i.test(r.text), 'no external stylesheets');
  });
});

describe('http limits (small limits, trusted proxy)', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      admin: false,
      env: { HTTP_MAX_BODY_BYTES: '1024', HTTP_READ_TIMEOUT_MS: '500', TRUST_PROXY: '1', HTTP_MAX_HEADERS: '16' },
    });
  });
  after(async () => { await srv?.stop(); });

  test('a body over HTTP_MAX_BODY_BYTES (Content-Length) is 413 payload_too_large', async () => {
    const body = JSON.stringify({ email: 'big@e2e.test', password: 'password-123', name: 'n'.repeat(2000) });
    const r = await exchange(srv.port, [requestBytes('POST', '/api/auth/register/', [['Host', 'x'], ['Content-Type', 'application/json'], ['Content-Length', String(Buffer.byteLength(body))]], body)], { timeoutMs: 5000 });
    const { responses } = parseResponses(r.data);
    assert.equal(responses.length, 1, JSON.stringify(r.data.toString().slice(0, 300)));
    assert.equal(responses[0].status, 413);
    assert.equal(responses[0].json.error.code, 'payload_too_large');
  });

  test('an announced Content-Length over the limit is refused before the body arrives', async () => {
    const r = await exchange(srv.port, [requestBytes('POST', '/api/auth/register/', [['Host', 'x'], ['Content-Type', 'application/json'], ['Content-Length', '100000000']])], { timeoutMs: 3000 });
    const { responses } = parseResponses(r.data);
    assert.equal(responses[0]?.status, 413, JSON.stringify(r.data.toString().slice(0, 300)));
  });

  test('a chunked body growing over the limit is 413', async () => {
    const chunk = 'x'.repeat(600);
    const c = `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
    const r = await exchange(srv.port, [
      requestBytes('POST', '/api/auth/register/', [['Host', 'x'], ['Content-Type', 'application/json'], ['Transfer-Encoding', 'chunked']]),
      c, c, c, '0\r\n\r\n',
    ], { delayMs: 20, timeoutMs: 5000 });
    const { responses } = parseResponses(r.data);
    assert.equal(responses[0]?.status, 413, JSON.stringify(r.data.toString().slice(0, 300)));
    assert.equal(responses[0].json.error.code, 'payload_too_large');
  });

  test('a body just under the limit is accepted', async () => {
    const email = `fits-${uid()}@e2e.test`;
    const json = JSON.stringify({ email, password: 'password-123' });
    const body = json.slice(0, -1) + ' '.repeat(1000 - json.length) + '}'; // JSON whitespace padding
    assert.equal(Buffer.byteLength(body), 1000);
    const r = await srv.request('POST', '/api/auth/register/', { body });
    assert.equal(r.status, 201, r.text);
  });

  test('HTTP_MAX_HEADERS=16: 17 headers are 431', async () => {
    const headers = [['Host', 'x']];
    for (let i = 0; i < 16; i += 1) headers.push([`X-H${i}`, 'v']);
    const r = await exchange(srv.port, [requestBytes('GET', '/health/live/', headers)], { timeoutMs: 5000 });
    assert.equal(parseResponses(r.data).responses[0]?.status, 431, JSON.stringify(r.data.toString().slice(0, 300)));
    const fine = await exchange(srv.port, [requestBytes('GET', '/health/live/', headers.slice(0, 10).concat([['Connection', 'close']]))], { timeoutMs: 5000 });
    assert.equal(parseResponses(fine.data).responses[0]?.status, 200);
  });

  test('slowloris: a client dribbling headers is cut off after HTTP_READ_TIMEOUT_MS', async () => {
    const chunks = ['GET /health/live/ HTTP/1.1\r\n'];
    for (let i = 0; i < 40; i += 1) chunks.push(`X-Slow-${i}: y\r\n`);
    const r = await exchange(srv.port, chunks, { delayMs: 150, timeoutMs: 8000 });
    assert.equal(r.closed, true, 'the server closed the connection');
    assert.ok(r.elapsedMs < 3000 * SCALE, `closed after ${r.elapsedMs} ms (limit 500 ms)`);
    assert.ok(r.elapsedMs >= 400, `not before the timeout: ${r.elapsedMs} ms`);
    if (r.data.length) {
      const { responses } = parseResponses(r.data);
      assert.equal(responses[0]?.status, 408, JSON.stringify(r.data.toString()));
      assert.equal(responses[0].json.error.code, 'request_timeout');
    }
    assert.equal((await srv.get('/health/live/')).status, 200, 'others are still served');
  });

  test('a slow body is cut off too', async () => {
    const head = requestBytes('POST', '/api/auth/login/', [['Host', 'x'], ['Content-Type', 'application/json'], ['Content-Length', '200']]);
    const chunks = [head];
    for (let i = 0; i < 40; i += 1) chunks.push('{');
    const r = await exchange(srv.port, chunks, { delayMs: 150, timeoutMs: 8000 });
    assert.equal(r.closed, true);
    assert.ok(r.elapsedMs < 3000 * SCALE, `closed after ${r.elapsedMs} ms`);
  });

  test('behind a trusted proxy, X-Forwarded-Proto: https adds HSTS', async () => {
    const r = await srv.get('/health/live/', { headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-For': '203.0.113.9' } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('strict-transport-security') || '', /max-age=\d+/);
    const plain = await srv.get('/health/live/');
    assert.equal(plain.headers.get('strict-transport-security'), null);
  });

  test('behind a trusted proxy, login cookies are Secure', async () => {
    const email = `sec-${uid()}@e2e.test`;
    assert.equal((await srv.post('/api/auth/register/', { email, password: 'password-123' })).status, 201);
    const r = await srv.post('/api/auth/login/', { email, password: 'password-123' }, { headers: { 'X-Forwarded-Proto': 'https' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.cookies.sm_session.attrs.secure, true, r.setCookie.join(' | '));
  });
});

describe('static files', () => {
  let srv;
  const css = `${'body { color: #333; margin: 0 auto; }\n'.repeat(200)}`;
  before(async () => {
    srv = await startServer({ admin: false, staticFiles: { 'hello.txt': 'hello static\n', 'app.css': css, 'sub/deep.json': '{"deep":true}' } });
  });
  after(async () => { await srv?.stop(); });

  test('GET /static/<file> serves the exact bytes with an ETag', async () => {
    const r = await srv.get('/static/hello.txt');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'hello static\n');
    assert.match(r.headers.get('content-type'), /^text\/plain/);
    assert.ok(r.headers.get('etag'), 'ETag');
    const d = await srv.get('/static/sub/deep.json');
    assert.equal(d.status, 200);
    assert.deepEqual(JSON.parse(d.text), { deep: true });
  });

  test('If-None-Match with the ETag is 304 with no body', async () => {
    const etag = (await srv.get('/static/hello.txt')).headers.get('etag');
    const r = await srv.get('/static/hello.txt', { headers: { 'If-None-Match': etag } });
    assert.equal(r.status, 304);
    assert.equal(r.body.length, 0);
    assert.equal(r.headers.get('etag'), etag);
    const stale = await srv.get('/static/hello.txt', { headers: { 'If-None-Match': '"not-it"' } });
    assert.equal(stale.status, 200);
  });

  test('gzip when the client accepts it', async () => {
    const r = await exchange(srv.port, [requestBytes('GET', '/static/app.css', [['Host', 'x'], ['Accept-Encoding', 'gzip'], ['Connection', 'close']])]);
    const [res] = parseResponses(r.data).responses;
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.match(res.headers.vary || '', /accept-encoding/i);
    assert.equal(zlib.gunzipSync(res.body).toString(), css);
    assert.ok(res.body.length < css.length / 4, 'actually compressed');
    const plain = await exchange(srv.port, [requestBytes('GET', '/static/app.css', [['Host', 'x'], ['Connection', 'close']])]);
    const [p] = parseResponses(plain.data).responses;
    assert.equal(p.headers['content-encoding'], undefined);
    assert.equal(p.body.toString(), css);
  });

  test('a missing file is 404 and path traversal does not escape the static dir', async () => {
    assert.equal((await srv.get('/static/missing.txt')).status, 404);
    for (const p of ['/static/../../../../etc/passwd', '/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/static/..%2f..%2f..%2fetc/passwd', '/static/sub/../../data/secret_key']) {
      const r = await exchange(srv.port, [requestBytes('GET', p, [['Host', 'x'], ['Connection', 'close']])]);
      const [res] = parseResponses(r.data).responses;
      assert.ok(res && (res.status === 404 || res.status === 400), `${p}: ${r.data.toString().slice(0, 200)}`);
      assert.ok(!/root:/.test(res.body.toString()), `${p} leaked /etc/passwd`);
    }
  });
});

describe('graceful shutdown', () => {
  test('SIGTERM lets an in-flight request finish, refuses new connections, exits 0', async () => {
    const srv = await startServer({ admin: false, env: { SHUTDOWN_TIMEOUT_MS: '5000' } });
    let stopped = false;
    try {
      const email = `drain-${uid()}@e2e.test`;
      const body = JSON.stringify({ email, password: 'password-123' });
      const sock = net.connect(srv.port, '127.0.0.1');
      const data = [];
      sock.on('data', (d) => data.push(d));
      const closed = new Promise((resolve) => sock.on('close', resolve));
      await new Promise((resolve) => sock.on('connect', resolve));
      // the request is in flight: headers and half of the body are in
      sock.write(requestBytes('POST', '/api/auth/register/', [['Host', 'x'], ['Content-Type', 'application/json'], ['Content-Length', String(Buffer.byteLength(body))]], body.slice(0, 10)));
      await sleep(200);
      srv.terminate();
      await sleep(300);
      // no new connections while draining
      const refused = await new Promise((resolve) => {
        const c = net.connect(srv.port, '127.0.0.1');
        c.on('connect', () => { c.destroy(); resolve(false); });
        c.on('error', () => resolve(true));
      });
      sock.write(body.slice(10));
      await withTimeout(closed, 8000 * SCALE);
      const { responses } = parseResponses(Buffer.concat(data));
      assert.equal(responses.length, 1, `in-flight response: ${JSON.stringify(Buffer.concat(data).toString())}`);
      assert.equal(responses[0].status, 201);
      assert.equal(responses[0].json.user.email, email);
      assert.equal(refused, true, 'a new connection during the drain was accepted');
      stopped = true;
      await srv.stop(); // asserts exit 0
    } finally {
      if (!stopped) await srv.stop().catch(() => {});
    }
  });
});
