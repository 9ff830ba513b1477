// recommend.test.js — /api/products/{id}/similar/, /also-bought/ and
// /api/recommendations/ against a real build (`smartmarket build_ml_indexes`):
// co-purchase neighbours, content neighbours (near-duplicates without
// orders), exclusion of bought and inactive products, cold start, limit
// validation, and the per-customer cache dropped on a new order.
import assert from 'node:assert/strict';
import { describe, before, after } from 'node:test';
import path from 'node:path';
import {
  test, startServer, assertError, assertValidation, ROOT,
} from './lib/harness.js';

describe('recommendations', () => {
  let srv;
  let alice;
  let bob;
  const p = {};
  const order = (user, ids) => srv.post('/api/orders/', { items: ids.map((id) => ({ product_id: id, quantity: 1 })) }, { token: user.token });
  const ids = (r) => r.json.items.map((x) => x.id);

  before(async () => {
    srv = await startServer();
    alice = await srv.createUser({ name: 'Alice' });
    bob = await srv.createUser({ name: 'Bob' });
    for (const name of ['Phone', 'Case', 'Charger', 'Kettle', 'Mug', 'Lonely', 'Gone']) {
      p[name] = (await srv.createProduct({ name, price_cents: 1000, stock: 1000 })).id;
    }
    // Textual near-duplicates, never ordered: content similarity alone links them.
    const description = 'Bouilloire sans fil, arrêt automatique, filtre anticalcaire';
    p.Twin1 = (await srv.createProduct({ name: 'Bouilloire électrique inox 1,7 L', brand: 'Kaffa', description })).id;
    p.Twin2 = (await srv.createProduct({ name: 'Bouilloire électrique inox 1,7 litre', brand: 'Kaffa', description })).id;
    // Phone+Case three times, Phone+Charger once, Kettle+Mug twice, Case+Gone once.
    for (let i = 0; i < 3; i += 1) assert.equal((await order(bob, [p.Phone, p.Case])).status, 201);
    assert.equal((await order(bob, [p.Phone, p.Charger])).status, 201);
    for (let i = 0; i < 2; i += 1) assert.equal((await order(bob, [p.Kettle, p.Mug])).status, 201);
    assert.equal((await order(bob, [p.Case, p.Gone])).status, 201);
    assert.equal((await order(alice, [p.Phone])).status, 201);
    const b = await srv.command(['build_ml_indexes']);
    assert.equal(b.code, 0, b.stderr + b.stdout);
    const d = await srv.del(`/api/products/${p.Gone}/`, { token: srv.adminToken });
    assert.equal(d.status, 204, d.text);
    await new Promise((r) => { setTimeout(r, 1200); }); // the serving reload check interval
  });
  after(async () => { await srv?.stop(); });

  test('also-bought: co-purchase neighbours, best first, catalogue rendering', async () => {
    const r = await srv.get(`/api/products/${p.Phone}/also-bought/`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(ids(r), [p.Case, p.Charger]);
    assert.equal(r.json.items[0].name, 'Case');
    assert.ok('price_cents' in r.json.items[0] && 'stock' in r.json.items[0]);
    assert.deepEqual(r.json.sources, ['copurchase']);
    assert.equal(typeof r.json.model_version, 'string');
  });

  test('inactive products are never recommended', async () => {
    const r = await srv.get(`/api/products/${p.Case}/also-bought/`);
    assert.equal(r.status, 200, r.text);
    assert.ok(!ids(r).includes(p.Gone));
  });

  test('similar: product without co-purchases falls back to popular', async () => {
    const r = await srv.get(`/api/products/${p.Lonely}/similar/?limit=2`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.items.length, 2);
    assert.ok(!ids(r).includes(p.Lonely));
    assert.ok(r.json.sources.includes('popular'));
  });

  test('similar: a textual near-duplicate comes first, from content, with no order history', async () => {
    const r = await srv.get(`/api/products/${p.Twin1}/similar/?limit=3`);
    assert.equal(r.status, 200, r.text);
    assert.equal(ids(r)[0], p.Twin2, r.text);
    assert.ok(r.json.sources.includes('content'), r.text);
    assert.ok(!ids(r).includes(p.Twin1));
    const again = await srv.get(`/api/products/${p.Twin1}/similar/?limit=3`);
    assert.equal(again.headers.get('x-cache'), 'hit');
    assert.deepEqual(again.json, r.json);
    // a product with co-purchases keeps them first; content only adds to them
    const phone = await srv.get(`/api/products/${p.Phone}/similar/?limit=2`);
    assert.equal(ids(phone)[0], p.Case, phone.text);
  });

  test('unknown or inactive product is 404; bad limit is 400', async () => {
    assertError(await srv.get('/api/products/999999/similar/'), 404, 'not_found');
    assertError(await srv.get(`/api/products/${p.Gone}/also-bought/`), 404, 'not_found');
    assertValidation(await srv.get(`/api/products/${p.Phone}/similar/?limit=51`), ['limit']);
    assertValidation(await srv.get('/api/recommendations/?limit=0'), ['limit']);
  });

  test('anonymous and new customers get the popular list', async () => {
    const anon = await srv.get('/api/recommendations/?limit=3');
    assert.equal(anon.status, 200, anon.text);
    assert.deepEqual(anon.json.sources, ['popular']);
    assert.equal(ids(anon)[0], p.Phone);
    const carol = await srv.createUser({ name: 'Carol' });
    const r = await srv.get('/api/recommendations/?limit=3', { token: carol.token });
    assert.deepEqual(ids(r), ids(anon));
  });

  test('a customer gets co-purchases of their history, minus what they bought; ordering drops the cache', async () => {
    const first = await srv.get('/api/recommendations/?limit=5', { token: alice.token });
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers.get('x-cache'), 'miss');
    assert.equal(ids(first)[0], p.Case);
    assert.ok(!ids(first).includes(p.Phone));
    const again = await srv.get('/api/recommendations/?limit=5', { token: alice.token });
    assert.equal(again.headers.get('x-cache'), 'hit');
    assert.deepEqual(again.json, first.json);

    assert.equal((await order(alice, [p.Kettle])).status, 201);
    const after = await srv.get('/api/recommendations/?limit=5', { token: alice.token });
    assert.equal(after.headers.get('x-cache'), 'miss');
    assert.ok(!ids(after).includes(p.Kettle));
    assert.ok(ids(after).includes(p.Mug), JSON.stringify(ids(after)));
  });
});

describe('ml evaluate (offline evaluation)', () => {
  let srv;
  before(async () => {
    srv = await startServer();
    const s = await srv.command(['seed', '--products', '400', '--users', '300', '--orders', '3000']);
    assert.equal(s.code, 0, s.stderr + s.stdout);
  });
  after(async () => { await srv?.stop(); });

  const evaluate = async (...args) => {
    const r = await srv.command(['ml', 'evaluate', '--sample', '200', '--json', ...args]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  };
  const row = (e, protocol, method) => e.recommendations.find((x) => x.protocol === protocol && x.method === method);

  test('held-out orders: every model beats popularity on bundled demo data; search needs a build', async () => {
    const queries = path.join(ROOT, 'tests/ml/queries.json');
    const before = await evaluate('--queries', queries);
    assert.equal(before.k, 10);
    assert.equal(before.search, undefined, 'no index built yet: no search rows');
    assert.equal(before.recommendations.length, 8);
    for (const x of before.recommendations) {
      assert.ok(x.users > 0 && x.hr >= 0 && x.hr <= 1 && x.ndcg >= 0 && x.ndcg <= x.hr, JSON.stringify(x));
    }
    // The seed builds baskets from complementary bundles: what was bought
    // together predicts the held-out order far better than best-sellers.
    for (const protocol of ['next-order', 'basket']) {
      const pop = row(before, protocol, 'popular').hr;
      assert.ok(row(before, protocol, 'co-purchase').hr > 1.5 * pop, protocol);
      assert.ok(row(before, protocol, 'blend').hr > 1.5 * pop, protocol);
    }

    const b = await srv.command(['build_ml_indexes']);
    assert.equal(b.code, 0, b.stderr + b.stdout);
    const after = await evaluate('--queries', queries, '--k', '5');
    assert.equal(after.k, 5);
    assert.ok(after.search.queries > 10, JSON.stringify(after.search));
    const hybrid = after.search.rows.find((x) => x.method === 'hybrid');
    const bm25 = after.search.rows.find((x) => x.method === 'bm25');
    assert.ok(hybrid['ndcg@10'] > 0.5 && hybrid['recall@10'] > 0.5, JSON.stringify(hybrid));
    assert.ok(bm25['ndcg@10'] > 0.5, JSON.stringify(bm25));

    // The table form names the protocols and methods.
    const t = await srv.command(['ml', 'evaluate', '--sample', '100', '--queries', queries]);
    assert.equal(t.code, 0, t.stderr);
    for (const w of ['next-order', 'basket', 'co-purchase', 'als', 'blend', 'nDCG@10']) assert.match(t.stdout, new RegExp(w));
  });

  test('bad usage exits 2 with a message', async () => {
    for (const args of [['ml', 'evaluate', '--k', '0'], ['ml', 'evaluate', '--sample', 'x'], ['ml', 'bogus'], ['ml']]) {
      const r = await srv.command(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.code} ${r.stderr}`);
      assert.match(r.stderr, /smartmarket ml: /);
    }
  });
});
