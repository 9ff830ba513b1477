// ws-protocol.test.js — the WebSocket transport seen from real clients (Node
// `ws`, and a raw socket for what a well-behaved client never sends): the
// handshake and its refusals, echo, fragmentation, ping/pong, the close codes
// (1002, 1003, 1007, 1009, server-initiated, 1001 at shutdown), sends from a
// server thread arriving in order, and the memory an idle connection costs.
//
// There is no product WebSocket route in this layer: the server runs with
// SMARTMARKET_TEST_ROUTES=1, which adds the test-only echo route
// /test/ws/echo (src/api/test_api.c). Without it the route does not exist.
//
// SM_WS_MEM_CLIENTS (default 1000) sets how many idle clients the memory
// measure opens; the figure is printed and must stay ≤ 8 KiB per connection
// (not checked under ASan, whose allocator inflates RSS).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { describe, before, after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { test, startServer, SCALE, withTimeout } from './lib/harness.js';

const TEST_ENV = { SMARTMARKET_TEST_ROUTES: '1' };

function wsUrl(srv, path = '/test/ws/echo') {
  return `${srv.url.replace('http:', 'ws:')}${path}`;
}

/** Opens a client; resolves once open. */
function connect(srv, opts = {}, protocols = undefined) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(srv), protocols, { handshakeTimeout: 5000 * SCALE, ...opts });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Resolves {code, reason} when `ws` closes. */
function closed(ws) {
  return new Promise((resolve) => {
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
}

function nextMessage(ws) {
  return new Promise((resolve) => {
    ws.once('message', (data, isBinary) => resolve({ text: data.toString(), isBinary }));
  });
}

/** An upgrade request with `headers`; resolves {status, headers} of the answer. */
function rawUpgrade(srv, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, path: '/test/ws/echo', headers });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode, headers: res.headers });
    });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode, headers: res.headers });
    });
    req.on('error', reject);
    req.end();
  });
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

describe('websocket protocol', () => {
  let srv;
  before(async () => { srv = await startServer({ env: TEST_ENV, admin: false }); });
  after(async () => { await srv?.stop(); });

  test('the handshake answers 101 with the RFC accept value and the offered subprotocol', async () => {
    const r = await rawUpgrade(srv, {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Key': KEY,
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Protocol': 'v1.smartmarket',
    });
    assert.equal(r.status, 101);
    assert.equal(r.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    assert.equal(r.headers['sec-websocket-protocol'], 'v1.smartmarket');
    const ws = await connect(srv, {}, ['v1.smartmarket']);
    assert.equal(ws.protocol, 'v1.smartmarket');
    ws.close();
    await closed(ws);
  });

  test('a wrong version is 426 with Sec-WebSocket-Version, a bad key 400', async () => {
    const base = { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': KEY };
    const v = await rawUpgrade(srv, { ...base, 'Sec-WebSocket-Version': '8' });
    assert.equal(v.status, 426);
    assert.equal(v.headers['sec-websocket-version'], '13');
    const k = await rawUpgrade(srv, { ...base, 'Sec-WebSocket-Key': 'c2hvcnQ=', 'Sec-WebSocket-Version': '13' });
    assert.equal(k.status, 400);
  });

  test('text messages echo, UTF-8 and fragmented ones included', async () => {
    const ws = await connect(srv);
    ws.send('hello');
    assert.deepEqual(await nextMessage(ws), { text: 'hello', isBinary: false });
    ws.send('prix: 12 € — ok ✓');
    assert.equal((await nextMessage(ws)).text, 'prix: 12 € — ok ✓');
    const got = nextMessage(ws);
    ws.send('frag', { fin: false });
    ws.send('men', { fin: false });
    ws.send('ted', { fin: true });
    assert.equal((await got).text, 'fragmented');
    const big = 'y'.repeat(64 * 1024);
    ws.send(big);
    assert.equal((await nextMessage(ws)).text.length, big.length);
    ws.close(1000);
    assert.equal((await closed(ws)).code, 1000);
  });

  test('a ping is answered with a pong carrying its payload', async () => {
    const ws = await connect(srv);
    const pong = new Promise((resolve) => ws.once('pong', (d) => resolve(d.toString())));
    ws.ping('marco');
    assert.equal(await withTimeout(pong, 3000 * SCALE), 'marco');
    ws.close();
    await closed(ws);
  });

  test('a binary message closes with 1003', async () => {
    const ws = await connect(srv);
    const c = closed(ws);
    ws.send(Buffer.from([1, 2, 3]));
    assert.equal((await c).code, 1003);
  });

  test('invalid UTF-8 in a text message closes with 1007', async () => {
    const ws = await connect(srv);
    const c = closed(ws);
    ws.on('error', () => {});
    ws.send(Buffer.from([0x6f, 0x6b, 0xc3, 0x28]), { binary: false });
    assert.equal((await c).code, 1007);
  });

  test('a message over 64 KiB closes with 1009', async () => {
    const ws = await connect(srv);
    const c = closed(ws);
    ws.send('z'.repeat(64 * 1024 + 1));
    assert.equal((await c).code, 1009);
  });

  test('an unmasked client frame closes with 1002', async () => {
    const sock = net.connect(srv.port, '127.0.0.1');
    const chunks = [];
    const ended = new Promise((resolve) => sock.on('close', resolve));
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', () => {});
    await new Promise((resolve) => sock.once('connect', resolve));
    sock.write(`GET /test/ws/echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await sleep(50);
    sock.write(Buffer.from([0x81, 0x02, 0x68, 0x69])); // "hi", no mask
    assert.notEqual(await withTimeout(ended, 5000 * SCALE), 'timeout');
    const all = Buffer.concat(chunks);
    const frame = all.subarray(all.indexOf('\r\n\r\n') + 4);
    assert.equal(frame[0], 0x88, 'a close frame');
    assert.equal(frame.readUInt16BE(2), 1002);
  });

  test('the server closes with the code and reason its owner chose', async () => {
    const ws = await connect(srv);
    const c = closed(ws);
    ws.send('close:4321:see you');
    assert.deepEqual(await c, { code: 4321, reason: 'see you' });
  });

  test('messages sent from another server thread arrive complete and in order', async () => {
    const ws = await connect(srv);
    const got = [];
    const done = new Promise((resolve) => {
      ws.on('message', (d) => {
        got.push(Number(d.toString()));
        if (got.length === 2000) resolve();
      });
    });
    ws.send('burst:2000');
    assert.notEqual(await withTimeout(done, 10000 * SCALE), 'timeout');
    assert.deepEqual(got, Array.from({ length: 2000 }, (_, i) => i));
    ws.close();
    await closed(ws);
  });

  test(`memory per idle connection stays under 8 KiB`, async () => {
    const n = Number(process.env.SM_WS_MEM_CLIENTS || 1000);
    const rss = () => {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8'));
      return Number(m[1]) * 1024;
    };
    // Warm up: one round of connections grows the allocator's arenas and
    // libuv's descriptor tables once, so the measure is the steady state.
    const warm = await Promise.all(Array.from({ length: 50 }, () => connect(srv)));
    await Promise.all(warm.map((w) => { const c = closed(w); w.close(); return c; }));
    await sleep(200);
    const before = rss();
    const clients = [];
    for (let i = 0; i < n; i += 100) {
      const batch = await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => connect(srv)));
      clients.push(...batch);
    }
    // Each connection has exchanged one message (a wslay context existed,
    // and must have been freed again) before the measure.
    await Promise.all(clients.map(async (w) => { const m = nextMessage(w); w.send('x'); await m; }));
    await sleep(300);
    const after = rss();
    const perConn = (after - before) / n;
    console.log(`# ws idle memory: ${n} connections, RSS +${((after - before) / 1024).toFixed(0)} KiB, ${perConn.toFixed(0)} bytes per connection`);
    await Promise.all(clients.map((w) => { const c = closed(w); w.close(); return c; }));
    // Under ASan (ASAN_OPTIONS set by scripts/test.sh) redzones and the
    // quarantine inflate RSS: the figure is printed but not held to 8 KiB.
    if (!process.env.ASAN_OPTIONS) assert.ok(perConn <= 8192, `${perConn} bytes per idle connection`);
  });
});

describe('websocket shutdown and defaults', () => {
  test('a graceful shutdown sends 1001 Going Away to every WebSocket', async () => {
    const srv = await startServer({ env: TEST_ENV, admin: false });
    try {
      const a = await connect(srv);
      const b = await connect(srv);
      const ca = closed(a);
      const cb = closed(b);
      srv.terminate();
      assert.equal((await ca).code, 1001);
      assert.equal((await cb).code, 1001);
    } finally {
      await srv.stop();
    }
  });

  test('the test route does not exist without SMARTMARKET_TEST_ROUTES=1', async () => {
    const srv = await startServer({ admin: false });
    try {
      const r = await srv.get('/test/ws/echo');
      assert.equal(r.status, 404);
    } finally {
      await srv.stop();
    }
  });
});
