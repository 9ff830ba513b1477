// realtime.test.js — the realtime channels (docs/REALTIME.md) against the
// real binary: the permission matrix over WebSocket, SSE and long-poll;
// gap-free resume after a disconnect; the history_gone signal; inbound
// throttling, connection limits, token revocation, slow consumers; SSE
// resume with Last-Event-ID; long-poll; and cross-node delivery through a
// real Redis with two `serve` processes on one database.
import assert from 'node:assert/strict';
import { describe, before, after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { test, startServer, SCALE, withTimeout, until } from './lib/harness.js';
import { startRedis } from './lib/redis.js';

const T = (ms) => ms * SCALE;

/** Opens a WebSocket; resolves a client or {status} when refused. */
function connect(srv, path, { token, cookie, origin, protocols } = {}) {
  const url = srv.url.replace(/^http/, 'ws') + path;
  const protos = protocols || (token ? ['smartmarket.v1', `bearer.${token}`] : ['smartmarket.v1']);
  const headers = {};
  if (cookie) headers.Cookie = cookie;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protos, { headers, origin });
    const client = { ws, messages: [], waiters: [], closed: null };
    client.closedP = new Promise((r) => { client.resolveClosed = r; });
    ws.on('message', (m) => {
      client.messages.push(JSON.parse(m.toString()));
      for (const w of client.waiters.splice(0)) w();
    });
    ws.on('close', (code, reason) => {
      client.closed = { code, reason: reason.toString() };
      client.resolveClosed(client.closed);
      for (const w of client.waiters.splice(0)) w();
    });
    ws.on('open', () => resolve(client));
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    ws.on('error', (e) => { if (ws.readyState !== WebSocket.CLOSED) reject(e); });
  });
}

/** Waits until `n` messages satisfying `pred` arrived; returns them. */
async function waitMessages(client, pred, n = 1, ms = 5000) {
  const deadline = Date.now() + T(ms);
  for (;;) {
    const got = client.messages.filter(pred);
    if (got.length >= n) return got;
    if (client.closed || Date.now() > deadline) {
      assert.fail(`expected ${n} messages, got ${got.length} (closed: ${JSON.stringify(client.closed)}): ${JSON.stringify(client.messages).slice(0, 800)}`);
    }
    await withTimeout(new Promise((r) => client.waiters.push(r)), 200);
  }
}

const isEvent = (m) => typeof m.seq === 'number' && m.type !== 'welcome' && m.type !== 'history_gone' && m.channel;

async function closeClient(c) {
  if (c.closed) return;
  c.ws.close();
  await withTimeout(c.closedP, T(3000));
}

describe('realtime', () => {
  let srv;
  let product;
  let alice;
  let bob;
  let staff;
  before(async () => {
    srv = await startServer({ env: { WS_AUTH_RECHECK_SECONDS: '1', WS_MAX_INBOUND_PER_SECOND: '5', WS_MAX_CONNECTIONS_PER_USER: '50' } });
    alice = await srv.createUser({ name: 'Alice' });
    bob = await srv.createUser({ name: 'Bob' });
    staff = await srv.createUser({ role: 'staff' });
    product = await srv.createProduct({ stock: 100000 });
  });
  after(async () => { await srv?.stop(); });

  const order = async (user = alice, quantity = 1) => {
    const r = await srv.post('/api/orders/', { items: [{ product_id: product.id, quantity }] }, { token: user.token });
    assert.equal(r.status, 201, r.text);
    return r.json;
  };

  test('permission matrix: every channel x every kind of caller, on all three transports', async () => {
    const who = { anonymous: null, owner: alice, other: bob, staff, admin: { token: srv.adminToken } };
    const channels = {
      '/admin/orders/': { anonymous: 401, owner: 403, other: 403, staff: 200, admin: 200 },
      '/admin/notifications/': { anonymous: 401, owner: 403, other: 403, staff: 403, admin: 200 },
      [`/user/${alice.id}/notifications/`]: { anonymous: 401, owner: 200, other: 403, staff: 403, admin: 200 },
    };
    for (const [path, expect] of Object.entries(channels)) {
      for (const [name, user] of Object.entries(who)) {
        const want = expect[name];
        const c = await connect(srv, `/ws${path}`, { token: user?.token });
        if (want === 200) {
          assert.ok(c.ws, `ws ${path} as ${name}: expected accepted, got ${c.status} ${c.body}`);
          assert.equal(c.ws.protocol, 'smartmarket.v1');
          const [w] = await waitMessages(c, (m) => m.type === 'welcome');
          assert.equal(w.channel, path.startsWith('/user/') ? `user.${alice.id}` : `admin.${path.split('/')[2]}`);
          await closeClient(c);
        } else {
          assert.equal(c.status, want, `ws ${path} as ${name}: ${c.body}`);
          assert.equal(JSON.parse(c.body).error.code, want === 401 ? 'unauthorized' : 'forbidden');
        }
        // SSE: headers only. Long-poll: a stale position answers at once.
        const headers = user ? { Authorization: `Bearer ${user.token}` } : {};
        const ac = new AbortController();
        const sse = await fetch(`${srv.url}/sse${path}`, { headers, signal: ac.signal });
        assert.equal(sse.status, want, `sse ${path} as ${name}`);
        if (want === 200) assert.match(sse.headers.get('content-type'), /^text\/event-stream/);
        ac.abort();
        const poll = await srv.get(`/poll${path}?since=1&epoch=0000000000000000`, { token: user?.token });
        assert.equal(poll.status, want, `poll ${path} as ${name}: ${poll.text}`);
      }
    }
  });

  test('bad credentials are 401, unknown channels 404, a cookie needs the right Origin', async () => {
    let c = await connect(srv, '/ws/admin/orders/', { token: 'x'.repeat(43) });
    assert.equal(c.status, 401);
    c = await connect(srv, '/ws/admin/orders/?token=nonsense', {});
    assert.equal(c.status, 401);
    c = await connect(srv, '/ws/user/0/notifications/', { token: srv.adminToken });
    assert.equal(c.status, 404);
    const r = await srv.get('/ws/admin/secret/', { token: srv.adminToken });
    assert.equal(r.status, 404);
    // ?token= works for clients that cannot set headers or subprotocols.
    c = await connect(srv, `/ws/admin/orders/?token=${srv.adminToken}`, { protocols: [] });
    assert.ok(c.ws, `?token=: ${c.status}`);
    await closeClient(c);
    // Dashboard cookie: accepted with a same-origin Origin, refused otherwise.
    const login = await srv.login('admin@e2e.test', 'admin-password-e2e-1');
    const cookie = `sm_session=${login.cookies.sm_session?.value}`;
    if (login.cookies.sm_session) {
      c = await connect(srv, '/ws/admin/orders/', { cookie, origin: srv.url });
      assert.ok(c.ws, `cookie + origin: ${c.status} ${c.body}`);
      await closeClient(c);
      c = await connect(srv, '/ws/admin/orders/', { cookie, origin: 'http://evil.example' });
      assert.equal(c.status, 403);
      c = await connect(srv, '/ws/admin/orders/', { cookie });
      assert.equal(c.status, 403);
    }
  });

  test('events carry channel, epoch, seq, type, data, ts; the owner gets their own', async () => {
    const admin = await connect(srv, '/ws/admin/orders/', { token: srv.adminToken });
    const mine = await connect(srv, `/ws/user/${alice.id}/notifications/`, { token: alice.token });
    const [w] = await waitMessages(admin, (m) => m.type === 'welcome');
    await waitMessages(mine, (m) => m.type === 'welcome');
    const o = await order(alice);
    const [e] = await waitMessages(admin, isEvent);
    assert.deepEqual(Object.keys(e).sort(), ['channel', 'data', 'epoch', 'seq', 'ts', 'type']);
    assert.equal(e.channel, 'admin.orders');
    assert.equal(e.epoch, w.epoch);
    assert.equal(e.seq, w.seq + 1);
    assert.equal(e.type, 'order.created');
    assert.equal(e.data.id, o.id);
    const [u] = await waitMessages(mine, isEvent);
    assert.equal(u.channel, `user.${alice.id}`);
    assert.equal(u.data.id, o.id);
    const st = await srv.post(`/api/orders/${o.id}/status/`, { status: 'paid' }, { token: srv.adminToken });
    assert.equal(st.status, 200, st.text);
    const [, changed] = await waitMessages(mine, isEvent, 2);
    assert.equal(changed.type, 'order.status_changed');
    assert.equal(changed.data.status, 'paid');
    assert.equal(changed.seq, u.seq + 1);
    await closeClient(admin);
    await closeClient(mine);
  });

  test('resume after a disconnect: exactly the missed events, in order, then live ones', async () => {
    let c = await connect(srv, '/ws/admin/orders/', { token: staff.token });
    const [w] = await waitMessages(c, (m) => m.type === 'welcome');
    await order();
    const [first] = await waitMessages(c, isEvent);
    assert.equal(first.seq, w.seq + 1);
    await closeClient(c);
    const missed = [];
    for (let i = 0; i < 5; i += 1) missed.push((await order()).id);
    c = await connect(srv, `/ws/admin/orders/?since=${first.seq}&epoch=${first.epoch}`, { token: staff.token });
    const [w2] = await waitMessages(c, (m) => m.type === 'welcome');
    assert.equal(w2.resumed, true);
    const got = await waitMessages(c, isEvent, 5);
    assert.deepEqual(got.map((e) => e.seq), [1, 2, 3, 4, 5].map((i) => first.seq + i));
    assert.deepEqual(got.map((e) => e.data.id), missed);
    const live = await order();
    const all = await waitMessages(c, isEvent, 6);
    assert.equal(all[5].seq, first.seq + 6);
    assert.equal(all[5].data.id, live.id);
    assert.equal(new Set(all.map((e) => e.seq)).size, all.length, 'no duplicates');
    assert.ok(!c.messages.some((m) => m.type === 'history_gone'));
    await closeClient(c);
  });

  test('resume while orders are being placed: no gap, no duplicate', async () => {
    const c0 = await connect(srv, '/ws/admin/orders/', { token: srv.adminToken });
    const [w] = await waitMessages(c0, (m) => m.type === 'welcome');
    await closeClient(c0);
    const placing = (async () => { for (let i = 0; i < 20; i += 1) await order(bob); })();
    await sleep(20);
    const c = await connect(srv, `/ws/admin/orders/?since=${w.seq}&epoch=${w.epoch}`, { token: srv.adminToken });
    await placing;
    const got = await waitMessages(c, isEvent, 20);
    assert.deepEqual(got.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => w.seq + 1 + i));
    await closeClient(c);
  });

  test('a stale epoch or a position ahead of the channel gets history_gone', async () => {
    const c = await connect(srv, '/ws/admin/orders/?since=3&epoch=0123456789abcdef', { token: srv.adminToken });
    const [w] = await waitMessages(c, (m) => m.type === 'welcome');
    assert.equal(w.resumed, false);
    const [g] = await waitMessages(c, (m) => m.type === 'history_gone');
    assert.equal(g.epoch, w.epoch);
    assert.equal(g.seq, w.seq);
    await closeClient(c);
  });

  test('clients may only ping, and no faster than WS_MAX_INBOUND_PER_SECOND (4029)', async () => {
    const c = await connect(srv, '/ws/admin/orders/', { token: srv.adminToken });
    c.ws.send(JSON.stringify({ type: 'ping' }));
    await waitMessages(c, (m) => m.type === 'pong');
    c.ws.send('{"type":"subscribe","channel":"admin.notifications"}');
    await waitMessages(c, (m) => m.type === 'error');
    for (let i = 0; i < 30; i += 1) c.ws.send(JSON.stringify({ type: 'ping' }));
    const closed = await withTimeout(c.closedP, T(5000));
    assert.equal(closed.code, 4029, JSON.stringify(closed));
  });

  test('a revoked token closes the socket with 4001 within the re-check period', async () => {
    const u = await srv.createUser({});
    const c = await connect(srv, `/ws/user/${u.id}/notifications/`, { token: u.token });
    await waitMessages(c, (m) => m.type === 'welcome');
    const out = await srv.post('/api/auth/logout/', {}, { token: u.token });
    assert.ok(out.status === 200 || out.status === 204, out.text);
    const closed = await withTimeout(c.closedP, T(6000));
    assert.equal(closed?.code, 4001, JSON.stringify(closed));
  });

  test('SSE: id lines, heartbeat-free events, resume with Last-Event-ID', async () => {
    const readEvents = async (headers, n) => {
      const ac = new AbortController();
      const r = await fetch(`${srv.url}/sse/admin/orders/`, { headers: { Authorization: `Bearer ${srv.adminToken}`, ...headers }, signal: ac.signal });
      assert.equal(r.status, 200);
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      const events = [];
      const deadline = Date.now() + T(5000);
      while (events.length < n && Date.now() < deadline) {
        const { value, done } = await withTimeout(reader.read(), T(5000));
        if (done || value === undefined) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const id = /^id: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data) events.push({ id, msg: JSON.parse(data) });
        }
      }
      ac.abort();
      return events;
    };
    const [welcome] = await readEvents({}, 1);
    assert.equal(welcome.msg.type, 'welcome');
    assert.equal(welcome.id, `${welcome.msg.epoch}:${welcome.msg.seq}`);
    const ids = [(await order()).id, (await order()).id];
    const got = await readEvents({ 'Last-Event-ID': welcome.id }, 3);
    assert.equal(got[0].msg.type, 'welcome');
    assert.equal(got[0].msg.resumed, true);
    assert.deepEqual(got.slice(1).map((e) => e.msg.data.id), ids);
    assert.deepEqual(got.slice(1).map((e) => e.id), [1, 2].map((i) => `${welcome.msg.epoch}:${welcome.msg.seq + i}`));
  });

  test('long-poll: missed events at once, else waits for the next one', async () => {
    const first = await srv.get('/poll/admin/orders/?since=0&epoch=0000000000000000', { token: srv.adminToken });
    assert.equal(first.status, 200, first.text);
    const { epoch, seq } = first.json;
    assert.equal(first.json.history_gone, true);
    const o = await order();
    const missed = await srv.get(`/poll/admin/orders/?since=${seq}&epoch=${epoch}`, { token: srv.adminToken });
    assert.equal(missed.json.history_gone, false);
    assert.deepEqual(missed.json.events.map((e) => e.data.id), [o.id]);
    assert.equal(missed.json.seq, seq + 1);
    const t0 = Date.now();
    const waiting = srv.get(`/poll/admin/orders/?since=${seq + 1}&epoch=${epoch}`, { token: srv.adminToken });
    await sleep(300);
    const o2 = await order();
    const next = await waiting;
    assert.ok(Date.now() - t0 >= 250, 'the poll waited for the event');
    assert.deepEqual(next.json.events.map((e) => e.data.id), [o2.id]);
    assert.equal(next.json.seq, seq + 2);
  });

  test('connections per user are bounded: 429 past WS_MAX_CONNECTIONS_PER_USER', async () => {
    const s2 = await startServer({ env: { WS_MAX_CONNECTIONS_PER_USER: '2' } });
    try {
      const a = await connect(s2, '/ws/admin/orders/', { token: s2.adminToken });
      const b = await connect(s2, '/ws/admin/orders/', { token: s2.adminToken });
      const c = await connect(s2, '/ws/admin/orders/', { token: s2.adminToken });
      assert.equal(c.status, 429);
      await closeClient(a);
      // The server counts the close once its side of the socket is gone,
      // which can come after the client's: try until it fits.
      let d;
      await until('a new connection to fit after a close', async () => {
        d = await connect(s2, '/ws/admin/orders/', { token: s2.adminToken });
        return d.ws || d.status !== 429;
      }, 5000);
      assert.ok(d.ws, `after a close, a new connection fits: ${d.status}`);
      await closeClient(b);
      await closeClient(d);
    } finally {
      await s2.stop();
    }
  });

  test('REALTIME_HISTORY_SIZE bounds history: an older position gets history_gone', async () => {
    const s2 = await startServer({ env: { REALTIME_HISTORY_SIZE: '2' } });
    try {
      const u = await s2.createUser({});
      const p = await s2.createProduct({ stock: 100 });
      const c0 = await connect(s2, '/ws/admin/orders/', { token: s2.adminToken });
      const [w] = await waitMessages(c0, (m) => m.type === 'welcome');
      await closeClient(c0);
      for (let i = 0; i < 4; i += 1) {
        const r = await s2.post('/api/orders/', { items: [{ product_id: p.id, quantity: 1 }] }, { token: u.token });
        assert.equal(r.status, 201);
      }
      const c = await connect(s2, `/ws/admin/orders/?since=${w.seq}&epoch=${w.epoch}`, { token: s2.adminToken });
      const [g] = await waitMessages(c, (m) => m.type === 'history_gone');
      assert.equal(g.seq, w.seq + 4);
      assert.ok(!c.messages.some(isEvent), 'no partial replay');
      await closeClient(c);
      // Two back is still covered.
      const c2 = await connect(s2, `/ws/admin/orders/?since=${w.seq + 2}&epoch=${w.epoch}`, { token: s2.adminToken });
      const got = await waitMessages(c2, isEvent, 2);
      assert.deepEqual(got.map((e) => e.seq), [w.seq + 3, w.seq + 4]);
      await closeClient(c2);
    } finally {
      await s2.stop();
    }
  });

  test('a client that stops reading is cut with 4008 instead of growing memory', { timeout: T(120000) }, async () => {
    const c = await connect(srv, '/ws/admin/orders/', { token: srv.adminToken });
    await waitMessages(c, (m) => m.type === 'welcome');
    c.ws._socket.pause(); // stop reading: kernel buffers fill, then the server's queue
    const lines = [];
    for (let i = 0; i < 100; i += 1) {
      lines.push({ product_id: (await srv.createProduct({ name: `Big ${'x'.repeat(180)} ${i}`, stock: 100000 })).id, quantity: 1 });
    }
    // ~27 KB per event: 500 of them exceed the kernel's socket buffers on
    // both sides plus HTTP_WS_SEND_QUEUE_MAX (256 KiB).
    for (let i = 0; i < 500; i += 1) {
      const r = await srv.post('/api/orders/', { items: lines }, { token: bob.token });
      assert.equal(r.status, 201, r.text);
    }
    c.ws._socket.resume();
    const closed = await withTimeout(c.closedP, T(20000));
    // 4008 when the close frame gets through the full queue; the transport
    // may also give up on the handshake and drop the TCP connection (1006).
    assert.ok(closed?.code === 4008 || closed?.code === 1006, JSON.stringify(closed));
    assert.ok(srv.logs.some((l) => /slow consumer on admin\.orders/.test(l.json?.msg || '')), 'the cut is logged');
  });
});

describe('web/realtime.js client library', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  test('delivers events over WebSocket and over long-poll, resuming without duplicates', async () => {
    globalThis.WebSocket = WebSocket;
    await import('../../web/realtime.js');
    const lib = globalThis.SmartMarketRealtime;
    const u = await srv.createUser({});
    const p = await srv.createProduct({ stock: 100 });
    const place = async () => (await srv.post('/api/orders/', { items: [{ product_id: p.id, quantity: 1 }] }, { token: u.token })).json.id;
    for (const transport of ['ws', 'poll']) {
      const got = [];
      let open;
      const opened = new Promise((r) => { open = r; });
      const sub = lib.subscribe('/admin/orders/', {
        baseUrl: srv.url, token: srv.adminToken, transport,
        onEvent: (e) => got.push(e.data.id),
        onStatus: (st) => { if (st === 'open') open(); },
      });
      await withTimeout(opened, T(5000));
      await sleep(100);
      const ids = [await place(), await place()];
      const deadline = Date.now() + T(5000);
      while (got.length < 2 && Date.now() < deadline) await sleep(20);
      sub.close();
      assert.deepEqual(got, ids, transport);
    }
  });
});

describe('realtime across nodes (Redis bus)', () => {
  let redis;
  let a;
  let b;
  before(async () => {
    redis = await startRedis();
    a = await startServer({ env: { REDIS_URL: redis.url } });
    b = await startServer({ dbUrl: a.dbUrl, migrate: false, env: { REDIS_URL: redis.url } });
    b.adminToken = a.adminToken;
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    await redis?.stop();
  });

  test('an order placed on node A reaches a subscriber of node B; node A resumes it', async () => {
    const u = await a.createUser({});
    const p = await a.createProduct({ stock: 100 });
    const onB = await connect(b, '/ws/admin/orders/', { token: a.adminToken });
    const mineOnB = await connect(b, `/ws/user/${u.id}/notifications/`, { token: u.token });
    const [w] = await waitMessages(onB, (m) => m.type === 'welcome');
    await waitMessages(mineOnB, (m) => m.type === 'welcome');
    const place = async () => {
      const r = await a.post('/api/orders/', { items: [{ product_id: p.id, quantity: 1 }] }, { token: u.token });
      assert.equal(r.status, 201, r.text);
      return r.json;
    };
    const o = await place();
    const [e] = await waitMessages(onB, isEvent);
    assert.equal(e.data.id, o.id);
    assert.equal(e.seq, w.seq + 1);
    assert.equal(e.epoch, w.epoch);
    const [m] = await waitMessages(mineOnB, isEvent);
    assert.equal(m.data.id, o.id);
    await closeClient(onB);
    await closeClient(mineOnB);
    // Missed while disconnected; resumed on the other node.
    const ids = [(await place()).id, (await place()).id, (await place()).id];
    const onA = await connect(a, `/ws/admin/orders/?since=${e.seq}&epoch=${e.epoch}`, { token: a.adminToken });
    const got = await waitMessages(onA, isEvent, 3);
    assert.deepEqual(got.map((x) => x.data.id), ids);
    assert.deepEqual(got.map((x) => x.seq), [1, 2, 3].map((i) => e.seq + i));
    // Publishers on both nodes share one sequence.
    const live = await b.post('/api/orders/', { items: [{ product_id: p.id, quantity: 1 }] }, { token: u.token });
    assert.equal(live.status, 201);
    const all = await waitMessages(onA, isEvent, 4);
    assert.equal(all[3].seq, e.seq + 4);
    assert.equal(all[3].data.id, live.json.id);
    await closeClient(onA);
  });

  test('long-poll and SSE work on the Redis bus too', async () => {
    const first = await b.get('/poll/admin/orders/?since=0&epoch=0000000000000000', { token: a.adminToken });
    assert.equal(first.status, 200, first.text);
    const { epoch, seq } = first.json;
    const waiting = b.get(`/poll/admin/orders/?since=${seq}&epoch=${epoch}`, { token: a.adminToken });
    await sleep(200);
    const u = await a.createUser({});
    const p = await a.createProduct({ stock: 5 });
    const r = await a.post('/api/orders/', { items: [{ product_id: p.id, quantity: 1 }] }, { token: u.token });
    assert.equal(r.status, 201);
    const got = await waiting;
    assert.deepEqual(got.json.events.map((e) => e.data.id), [r.json.id]);
  });
});

describe('readiness follows the Redis bus', () => {
  let redis;
  let srv;
  before(async () => {
    redis = await startRedis();
    srv = await startServer({ env: { REDIS_URL: redis.url } });
  });
  after(async () => {
    await srv?.stop();
    await redis?.stop();
  });

  const ready = () => srv.get('/health/ready/');

  test('Redis down: 503 naming the event bus, database still ok; back up: 200 again', async () => {
    const up = await ready();
    assert.equal(up.status, 200, up.text);
    assert.equal(up.json.checks.events.status, 'ok');
    assert.equal(typeof up.json.checks.events.latency_ms, 'number');

    const { port } = redis;
    await redis.stop();
    const down = await until('readiness to fail with Redis stopped', async () => {
      const r = await ready();
      return r.status === 503 ? r : null;
    }, 10000);
    assert.equal(down.json.status, 'fail');
    assert.equal(down.json.checks.events.status, 'fail');
    assert.equal(down.json.checks.events.error, 'event bus unavailable'); // no host details
    assert.equal(down.json.checks.database.status, 'ok');
    assert.equal((await srv.get('/health/live/')).status, 200);

    redis = await startRedis({ port });
    await until('readiness to recover with Redis back', async () => (await ready()).status === 200, 10000);
    // The subscriber is back too: an order placed now reaches a subscriber.
    const c = await connect(srv, '/ws/admin/orders/', { token: srv.adminToken });
    await waitMessages(c, (m) => m.type === 'welcome');
    const u = await srv.createUser({});
    const p = await srv.createProduct({ stock: 5 });
    const o = await srv.post('/api/orders/', { items: [{ product_id: p.id, quantity: 1 }] }, { token: u.token });
    assert.equal(o.status, 201, o.text);
    const [e] = await waitMessages(c, isEvent);
    assert.equal(e.data.id, o.json.id);
    await closeClient(c);
  });
});
