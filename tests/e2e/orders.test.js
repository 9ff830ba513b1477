// orders.test.js — placing orders (one transaction: stock decremented or
// nothing at all), no oversell under concurrency, visibility per role, and the
// status machine with cancellation restoring stock.
import assert from 'node:assert/strict';
import { describe, before, after } from 'node:test';
import {
  test, startServer, assertError, assertValidation, ISO_TIME,
} from './lib/harness.js';

const ORDER_KEYS = ['created_at', 'currency', 'id', 'items', 'status', 'total_cents', 'updated_at', 'user_id'];
const LINE_KEYS = ['line_total_cents', 'name', 'product_id', 'quantity', 'unit_price_cents'];

describe('orders', () => {
  let srv;
  let staff;
  let alice;
  let bob;
  before(async () => {
    srv = await startServer();
    staff = await srv.createUser({ role: 'staff' });
    alice = await srv.createUser({ name: 'Alice' });
    bob = await srv.createUser({ name: 'Bob' });
  });
  after(async () => { await srv?.stop(); });

  const order = (user, items) => srv.post('/api/orders/', { items }, { token: user.token });
  const stock = async (id) => (await srv.product(id)).stock;
  const setStatus = (user, id, status) => srv.post(`/api/orders/${id}/status/`, { status }, { token: user.token });

  test('placing an order: 201, lines priced, total summed, stock decremented', async () => {
    const a = await srv.createProduct({ name: 'Teapot', price_cents: 1250, stock: 10 });
    const b = await srv.createProduct({ name: 'Cup', price_cents: 399, stock: 5 });
    const r = await order(alice, [{ product_id: a.id, quantity: 2 }, { product_id: b.id, quantity: 1 }]);
    assert.equal(r.status, 201, r.text);
    const o = r.json;
    assert.deepEqual(Object.keys(o).sort(), ORDER_KEYS);
    assert.ok(Number.isInteger(o.id) && o.id > 0);
    assert.equal(o.user_id, alice.id);
    assert.equal(o.status, 'pending');
    assert.equal(o.currency, 'EUR');
    assert.equal(o.total_cents, 2899);
    assert.match(o.created_at, ISO_TIME);
    assert.match(o.updated_at, ISO_TIME);
    const lines = [...o.items].sort((x, y) => x.product_id - y.product_id);
    for (const l of lines) assert.deepEqual(Object.keys(l).sort(), LINE_KEYS);
    assert.deepEqual(lines, [
      { product_id: a.id, name: 'Teapot', unit_price_cents: 1250, quantity: 2, line_total_cents: 2500 },
      { product_id: b.id, name: 'Cup', unit_price_cents: 399, quantity: 1, line_total_cents: 399 },
    ]);
    assert.equal(await stock(a.id), 8);
    assert.equal(await stock(b.id), 4);
    const got = await srv.get(`/api/orders/${o.id}/`, { token: alice.token });
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.json, o);
  });

  test('prices are copied at order time: a later price change leaves the order alone', async () => {
    const p = await srv.createProduct({ name: 'Kettle', price_cents: 3000, stock: 3 });
    const r = await order(alice, [{ product_id: p.id, quantity: 1 }]);
    assert.equal(r.status, 201, r.text);
    const pr = await srv.patch(`/api/products/${p.id}/`, { price_cents: 9999, name: 'Kettle v2' }, { token: staff.token });
    assert.equal(pr.status, 200, pr.text);
    const got = await srv.get(`/api/orders/${r.json.id}/`, { token: alice.token });
    assert.equal(got.json.total_cents, 3000);
    assert.equal(got.json.items[0].unit_price_cents, 3000);
    assert.equal(got.json.items[0].name, 'Kettle');
  });

  test('one short line is 409 insufficient_stock naming the product; no stock moves', async () => {
    const a = await srv.createProduct({ name: 'Plenty', price_cents: 100, stock: 8 });
    const b = await srv.createProduct({ name: 'Scarce widget', price_cents: 100, stock: 4 });
    const before = (await srv.get('/api/orders/?page_size=1', { token: staff.token })).json.total;
    const r = await order(alice, [{ product_id: a.id, quantity: 2 }, { product_id: b.id, quantity: 100 }]);
    assertError(r, 409, 'insufficient_stock');
    assert.deepEqual(r.json.error.details, { product_id: b.id, name: 'Scarce widget', requested: 100, available: 4 });
    assert.equal(await stock(a.id), 8, 'the first line was rolled back');
    assert.equal(await stock(b.id), 4);
    assert.equal((await srv.get('/api/orders/?page_size=1', { token: staff.token })).json.total, before, 'no order was written');
  });

  test('ordering exactly the stock succeeds and leaves 0; one more is refused', async () => {
    const p = await srv.createProduct({ price_cents: 100, stock: 3 });
    assert.equal((await order(bob, [{ product_id: p.id, quantity: 3 }])).status, 201);
    assert.equal(await stock(p.id), 0);
    const r = await order(bob, [{ product_id: p.id, quantity: 1 }]);
    assertError(r, 409, 'insufficient_stock');
    assert.equal(r.json.error.details.available, 0);
  });

  test('anonymous callers cannot order (401)', async () => {
    const p = await srv.createProduct();
    assertError(await srv.post('/api/orders/', { items: [{ product_id: p.id, quantity: 1 }] }), 401, 'unauthorized');
    assert.equal(await stock(p.id), p.stock);
  });

  test('order validation: lines, quantities, duplicates, unknown and inactive products', async () => {
    const p = await srv.createProduct({ stock: 5000 });
    const q = await srv.createProduct({ stock: 5 });
    const gone = await srv.createProduct({ stock: 5 });
    assert.equal((await srv.del(`/api/products/${gone.id}/`, { token: staff.token })).status, 204);
    assertValidation(await order(alice, []), 'items');
    assertValidation(await srv.post('/api/orders/', {}, { token: alice.token }), 'items');
    assertValidation(await srv.post('/api/orders/', { items: 'all' }, { token: alice.token }), 'items');
    assertValidation(await order(alice, [{ product_id: p.id, quantity: 0 }]), 'items');
    assertValidation(await order(alice, [{ product_id: p.id, quantity: 1001 }]), 'items');
    assertValidation(await order(alice, [{ product_id: p.id, quantity: '2' }]), 'items');
    assertValidation(await order(alice, [{ product_id: p.id }]), 'items');
    assertValidation(await order(alice, [{ product_id: p.id, quantity: 1 }, { product_id: p.id, quantity: 2 }]), 'items');
    assertValidation(await order(alice, [{ product_id: 99999999, quantity: 1 }]), 'items');
    assertValidation(await order(alice, [{ product_id: q.id, quantity: 1 }, { product_id: gone.id, quantity: 1 }]), 'items');
    const many = Array.from({ length: 101 }, (_, i) => ({ product_id: p.id + i, quantity: 1 }));
    assertValidation(await order(alice, many), 'items');
    assert.equal(await stock(p.id), 5000, 'no stock moved');
    assert.equal(await stock(q.id), 5, 'no stock moved');
  });

  test('quantity 1000 is the maximum accepted', async () => {
    const p = await srv.createProduct({ price_cents: 1, stock: 1000 });
    const r = await order(alice, [{ product_id: p.id, quantity: 1000 }]);
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.total_cents, 1000);
    assert.equal(await stock(p.id), 0);
  });

  test('50 concurrent orders against stock 20: exactly 20 succeed, stock ends at 0', async () => {
    const p = await srv.createProduct({ name: 'Hot item', price_cents: 700, stock: 20 });
    const buyers = [alice, bob, staff];
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => order(buyers[i % buyers.length], [{ product_id: p.id, quantity: 1 }])));
    const statuses = results.map((r) => r.status);
    const ok = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status === 409);
    assert.equal(ok.length, 20, `statuses: ${JSON.stringify(statuses)}`);
    assert.equal(refused.length, 30, `statuses: ${JSON.stringify(statuses)}`);
    for (const r of refused) assert.equal(r.json.error.code, 'insufficient_stock');
    assert.equal(new Set(ok.map((r) => r.json.id)).size, 20, 'twenty distinct orders');
    assert.equal(await stock(p.id), 0);
    // the orders in the database agree: 20 lines of this product
    const all = await srv.get('/api/orders/?page_size=100&status=pending', { token: staff.token });
    const sold = all.json.items.flatMap((o) => o.items).filter((l) => l.product_id === p.id).reduce((n, l) => n + l.quantity, 0);
    assert.equal(sold, 20);
  });

  test('a customer lists only their own orders; staff list everything and filter', async () => {
    const p = await srv.createProduct({ stock: 100 });
    const carol = await srv.createUser();
    const dave = await srv.createUser();
    for (let i = 0; i < 3; i += 1) assert.equal((await order(carol, [{ product_id: p.id, quantity: 1 }])).status, 201);
    assert.equal((await order(dave, [{ product_id: p.id, quantity: 1 }])).status, 201);
    const mine = await srv.get('/api/orders/', { token: carol.token });
    assert.equal(mine.status, 200, mine.text);
    assert.equal(mine.json.total, 3);
    assert.equal(mine.json.items.length, 3);
    assert.ok(mine.json.items.every((o) => o.user_id === carol.id));
    assert.equal(mine.json.page, 1);
    assert.equal(mine.json.page_size, 20);
    assert.equal(mine.json.pages, 1);
    // a customer's user_id filter cannot widen their view
    const sneaky = await srv.get(`/api/orders/?user_id=${dave.id}`, { token: carol.token });
    assert.ok(sneaky.status === 200 ? sneaky.json.items.every((o) => o.user_id === carol.id) : sneaky.status === 403, sneaky.text);
    const byUser = await srv.get(`/api/orders/?user_id=${carol.id}`, { token: staff.token });
    assert.equal(byUser.status, 200, byUser.text);
    assert.equal(byUser.json.total, 3);
    assert.ok(byUser.json.items.every((o) => o.user_id === carol.id));
    const everything = await srv.get('/api/orders/?page_size=1', { token: srv.adminToken });
    assert.ok(everything.json.total >= 4);
    assert.equal(everything.json.pages, everything.json.total);
    const paged = await srv.get(`/api/orders/?user_id=${carol.id}&page_size=2&page=2`, { token: staff.token });
    assert.equal(paged.json.items.length, 1);
    assert.equal(paged.json.pages, 2);
    assertError(await srv.get('/api/orders/'), 401, 'unauthorized');
    assertValidation(await srv.get('/api/orders/?status=lost', { token: staff.token }), 'status');
    assertValidation(await srv.get('/api/orders/?page_size=500', { token: staff.token }), 'page_size');
  });

  test('an order is visible to its owner and staff, 404 for another customer', async () => {
    const p = await srv.createProduct();
    const o = (await order(alice, [{ product_id: p.id, quantity: 1 }])).json;
    assert.equal((await srv.get(`/api/orders/${o.id}/`, { token: alice.token })).status, 200);
    assert.equal((await srv.get(`/api/orders/${o.id}/`, { token: staff.token })).json.id, o.id);
    assert.equal((await srv.get(`/api/orders/${o.id}/`, { token: srv.adminToken })).json.id, o.id);
    assertError(await srv.get(`/api/orders/${o.id}/`, { token: bob.token }), 404, 'not_found');
    assertError(await srv.get('/api/orders/99999999/', { token: staff.token }), 404, 'not_found');
    assertError(await srv.get(`/api/orders/${o.id}/`), 401, 'unauthorized');
  });

  test('status machine: pending → paid → shipped → delivered, by staff', async () => {
    const p = await srv.createProduct({ stock: 10 });
    const o = (await order(alice, [{ product_id: p.id, quantity: 2 }])).json;
    for (const s of ['paid', 'shipped', 'delivered']) {
      const r = await setStatus(staff, o.id, s);
      assert.equal(r.status, 200, `${s}: ${r.text}`);
      assert.equal(r.json.status, s);
      assert.equal(r.json.id, o.id);
    }
    assertError(await setStatus(staff, o.id, 'cancelled'), 409, 'invalid_transition');
    assertError(await setStatus(staff, o.id, 'pending'), 409, 'invalid_transition');
    assert.equal((await srv.get(`/api/orders/${o.id}/`, { token: alice.token })).json.status, 'delivered');
    assert.equal(await stock(p.id), 8, 'delivery does not restore stock');
  });

  test('status machine refuses skipped steps and unknown statuses', async () => {
    const p = await srv.createProduct({ stock: 10 });
    const o = (await order(alice, [{ product_id: p.id, quantity: 1 }])).json;
    assertError(await setStatus(staff, o.id, 'shipped'), 409, 'invalid_transition');
    assertError(await setStatus(staff, o.id, 'delivered'), 409, 'invalid_transition');
    assertValidation(await setStatus(staff, o.id, 'lost'), 'status');
    assertValidation(await srv.post(`/api/orders/${o.id}/status/`, {}, { token: staff.token }), 'status');
    assertError(await setStatus(staff, 99999999, 'paid'), 404, 'not_found');
    assert.equal((await srv.get(`/api/orders/${o.id}/`, { token: staff.token })).json.status, 'pending');
  });

  test('the owner may cancel a pending order; stock of every line is restored', async () => {
    const a = await srv.createProduct({ stock: 10 });
    const b = await srv.createProduct({ stock: 6 });
    const o = (await order(alice, [{ product_id: a.id, quantity: 3 }, { product_id: b.id, quantity: 6 }])).json;
    assert.equal(await stock(a.id), 7);
    assert.equal(await stock(b.id), 0);
    const r = await setStatus(alice, o.id, 'cancelled');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'cancelled');
    assert.equal(await stock(a.id), 10);
    assert.equal(await stock(b.id), 6);
    // cancelling twice is a transition error and restores nothing more
    assertError(await setStatus(staff, o.id, 'cancelled'), 409, 'invalid_transition');
    assert.equal(await stock(a.id), 10);
  });

  test('the owner may not set other statuses; another customer may not touch it', async () => {
    const p = await srv.createProduct({ stock: 10 });
    const o = (await order(alice, [{ product_id: p.id, quantity: 1 }])).json;
    assertError(await setStatus(alice, o.id, 'paid'), 403, 'forbidden');
    const other = await setStatus(bob, o.id, 'cancelled');
    assert.ok(other.status === 404 || other.status === 403, other.text);
    assert.equal((await srv.get(`/api/orders/${o.id}/`, { token: staff.token })).json.status, 'pending');
    assert.equal(await stock(p.id), 9);
  });

  test('the owner cannot cancel once paid; staff can, and stock comes back', async () => {
    const p = await srv.createProduct({ stock: 10 });
    const o = (await order(alice, [{ product_id: p.id, quantity: 4 }])).json;
    assert.equal((await setStatus(staff, o.id, 'paid')).status, 200);
    const own = await setStatus(alice, o.id, 'cancelled');
    assert.ok(own.status === 403 || own.status === 409, `owner cancel of a paid order: ${own.status} ${own.text}`);
    assert.equal(await stock(p.id), 6);
    const r = await setStatus(staff, o.id, 'cancelled');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'cancelled');
    assert.equal(await stock(p.id), 10);
  });

  test('status filter lists cancelled orders only', async () => {
    const r = await srv.get('/api/orders/?status=cancelled&page_size=100', { token: staff.token });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.items.length >= 2);
    assert.ok(r.json.items.every((o) => o.status === 'cancelled'));
  });
});
