// stats.test.js — GET /api/admin/stats/products/, black-box: orders placed
// and cancelled over HTTP, the index built by rebuild_ml_indexes in a real
// `smartmarket worker`, then the best-sellers read back by each sort, with
// what is bought with them; roles and bad parameters. Runs on SQLite and
// PostgreSQL (SM_TEST_DB).
import assert from 'node:assert/strict';
import { describe, before, after } from 'node:test';
import { test, startServer, assertError } from './lib/harness.js';
import { startWorker, enqueue, waitJob } from './lib/jobs.js';

const PATH = '/api/admin/stats/products/';

describe('product stats', () => {
  let srv;
  let worker;
  const ids = {};

  before(async () => {
    srv = await startServer();
    worker = startWorker(srv, ['--queues', 'ml=1']);
  });
  after(async () => {
    if (worker) await worker.stop('SIGKILL');
    if (srv) await srv.stop();
  });

  const stats = (query = '', token = srv.adminToken) => srv.get(`${PATH}${query}`, { token });
  const rebuild = async () => {
    const j = await enqueue(srv, 'rebuild_ml_indexes');
    const done = await waitJob(srv, j.id, (x) => ['succeeded', 'discarded', 'retryable'].includes(x.state), 60000);
    assert.equal(done.state, 'succeeded', JSON.stringify(done));
  };
  const order = async (user, items) => {
    const r = await srv.post('/api/orders/', { items: items.map(([p, quantity]) => ({ product_id: ids[p], quantity })) }, { token: user.token });
    assert.equal(r.status, 201, r.text);
    return r.json;
  };
  const names = (items) => items.map((x) => x.name);

  test('before the first build: version 0, no build time, no items', async () => {
    const r = await stats();
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { version: 0, built_at: null, sort: 'revenue', items: [] });
  });

  test('after a build: each sort, bought-together, cancelled orders left out', async () => {
    for (const [name, price] of [['Alpha', 1000], ['Beta', 500], ['Gamma', 2000], ['Delta', 7000]]) {
      ids[name] = (await srv.createProduct({ name, price_cents: price, stock: 50 })).id;
    }
    const u = await srv.createUser({});
    await order(u, [['Alpha', 2], ['Beta', 1]]);
    await order(u, [['Alpha', 1], ['Gamma', 1]]);
    await order(u, [['Beta', 3]]);
    const d = await order(u, [['Delta', 1]]);
    const c = await srv.post(`/api/orders/${d.id}/status/`, { status: 'cancelled' }, { token: u.token });
    assert.equal(c.status, 200, c.text);
    await rebuild();

    const r = await stats();
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.version >= 1);
    assert.ok(Date.parse(r.json.built_at) > Date.now() - 600000, r.json.built_at);
    // Revenue: Alpha 3000, Beta 2000 and Gamma 2000 (tie: lower id first); Delta cancelled.
    assert.deepEqual(names(r.json.items), ['Alpha', 'Beta', 'Gamma']);
    const [a] = r.json.items;
    assert.equal(a.product_id, ids.Alpha);
    assert.equal(a.units_sold, 3);
    assert.equal(a.order_count, 2);
    assert.equal(a.revenue_cents, 3000);
    assert.equal(a.currency, 'EUR');
    assert.equal(a.active, true);
    assert.ok(Date.parse(a.last_sold_at) <= Date.now());
    // Alpha was bought once with Beta and once with Gamma: by count, then id.
    assert.deepEqual(a.bought_with, [
      { product_id: ids.Beta, name: 'Beta', together: 1 },
      { product_id: ids.Gamma, name: 'Gamma', together: 1 },
    ]);

    const units = await stats('?sort=units&limit=2&with=1');
    assert.equal(units.json.sort, 'units');
    assert.deepEqual(names(units.json.items), ['Beta', 'Alpha']);
    assert.deepEqual(units.json.items.map((x) => x.units_sold), [4, 3]);
    assert.deepEqual(units.json.items.map((x) => x.bought_with.map((n) => n.name)), [['Alpha'], ['Beta']]);

    const orders = await stats('?sort=orders&with=0');
    assert.deepEqual(names(orders.json.items), ['Alpha', 'Beta', 'Gamma']);
    assert.deepEqual(orders.json.items.map((x) => x.bought_with), [[], [], []]);

    // Recent: by last sale, newest first, ties by id. Alpha and Gamma were
    // last sold in the same order, Beta in a later one.
    const recent = (await stats('?sort=recent')).json.items;
    const at = Object.fromEntries(recent.map((x) => [x.name, Date.parse(x.last_sold_at)]));
    assert.equal(at.Alpha, at.Gamma);
    assert.ok(at.Beta >= at.Alpha);
    const expected = ['Alpha', 'Beta', 'Gamma'].sort((x, y) => (at[y] - at[x]) || (ids[x] - ids[y]));
    assert.deepEqual(names(recent), expected);
  });

  test('the figures are as of the last build, and the next build moves them', async () => {
    const before = await stats();
    const u = await srv.createUser({});
    await order(u, [['Gamma', 2]]);
    assert.deepEqual(await stats(), before); // not rebuilt yet
    await rebuild();
    const after = await stats();
    assert.ok(after.json.version > before.json.version);
    assert.deepEqual(names(after.json.items), ['Gamma', 'Alpha', 'Beta']); // 6000, 3000, 2000
  });

  test('staff may read; customers and anonymous callers may not; bad parameters are 400', async () => {
    const staff = await srv.createUser({ role: 'staff' });
    assert.equal((await stats('', staff.token)).status, 200);
    const customer = await srv.createUser({});
    assertError(await stats('', customer.token), 403, 'forbidden');
    assertError(await srv.get(PATH), 401, 'unauthorized');
    for (const q of ['?sort=price', '?sort=', '?limit=0', '?limit=101', '?limit=x', '?with=11', '?with=-1']) {
      assertError(await stats(q), 400, 'validation_error', q);
    }
  });

  test('openapi.json documents the path', async () => {
    const r = await srv.get('/api/openapi.json');
    const op = r.json.paths[PATH] && r.json.paths[PATH].get;
    assert.ok(op, PATH);
    assert.equal(op.parameters.length, 3);
    assert.ok(op.responses['200'] && op.responses['400'] && op.responses['403']);
  });
});
