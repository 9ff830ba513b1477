// search.test.js — GET /api/search/: cold start on the SQL fallback, then
// `build_ml_indexes` and the index: accents, typos, filters, facets,
// highlights, suggestions, validation, and a rebuild picked up live.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, before, after } from 'node:test';
import { test, startServer, assertValidation, uid } from './lib/harness.js';

describe('search', () => {
  let srv;
  let staff;
  const tag = uid().toLowerCase().replace(/[^a-z0-9]/g, '');
  const ids = {};
  before(async () => {
    srv = await startServer();
    staff = await srv.createUser({ role: 'staff' });
    const cat = await srv.post('/api/categories/', { name: `Électroménager ${tag}` }, { token: staff.token });
    assert.equal(cat.status, 201, cat.text);
    const products = [
      ['robot', `Robot pâtissier ${tag}`, 'Kaffa', 19900, 3],
      ['phone', `Smartphone 128 Go ${tag}`, 'Nexa', 39900, 5],
      ['phone2', `Smartphone 256 Go ${tag}`, 'Voltix', 59900, 0],
      ['shirt', `T-shirt en coton ${tag}`, 'Brume', 1999, 10],
    ];
    for (const [key, name, brand, price, stock] of products) {
      const r = await srv.post('/api/products/', {
        name, brand, price_cents: price, stock, category_id: cat.json.id, description: 'Électroménager et accessoires',
      }, { token: staff.token });
      assert.equal(r.status, 201, r.text);
      ids[key] = r.json.id;
    }
  });
  after(async () => { await srv?.stop(); });

  test('cold start: no index yet, the SQL fallback answers', async () => {
    const r = await srv.get(`/api/search/?q=${tag}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.engine, 'sql');
    assert.equal(r.json.total, 4);
  });

  test('parameters are validated', async () => {
    assertValidation(await srv.get('/api/search/?page=0'), 'page');
    assertValidation(await srv.get('/api/search/?page_size=1000'), 'page_size');
    assertValidation(await srv.get('/api/search/?sort=cheapest'), 'sort');
    assertValidation(await srv.get('/api/search/?in_stock=maybe'), 'in_stock');
    assertValidation(await srv.get('/api/search/?min_price=-5'), 'min_price');
    assertValidation(await srv.get('/api/search/?min_price=500&max_price=100'), 'min_price');
    assertValidation(await srv.get('/api/search/?page=50&page_size=100'), 'page');
    assertValidation(await srv.get(`/api/search/?q=${'a'.repeat(600)}`), 'q');
    assertValidation(await srv.get('/api/search/?q=%ff%fe'), 'q');
  });

  test('build_ml_indexes builds a version and search uses it', async () => {
    const b = await srv.command(['build_ml_indexes']);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr, /built ML version/);
    let r;
    for (let i = 0; i < 50; i++) { // the server notices within a second
      r = await srv.get(`/api/search/?q=${tag}`);
      if (r.json.engine === 'index') break;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    assert.equal(r.json.engine, 'index', r.text);
    assert.equal(r.json.total, 4);
  });

  test('accents, typos, compounds and highlights', async () => {
    let r = await srv.get(`/api/search/?q=${encodeURIComponent(`electromenager ${tag}`)}`);
    assert.equal(r.json.total, 4, r.text);
    r = await srv.get(`/api/search/?q=${encodeURIComponent(`smarphone ${tag}`)}&sort=price`);
    assert.deepEqual(r.json.items.map((i) => i.id), [ids.phone, ids.phone2]);
    assert.match(r.json.items[0].highlight, /^<em>Smartphone<\/em> 128 Go <em>/);
    r = await srv.get(`/api/search/?q=${encodeURIComponent(`tshirt ${tag}`)}`);
    assert.equal(r.json.items[0].id, ids.shirt);
  });

  test('filters, facets, pages and suggestions', async () => {
    let r = await srv.get(`/api/search/?q=${tag}&in_stock=true&max_price=50000&sort=-price`);
    assert.deepEqual(r.json.items.map((i) => i.id), [ids.phone, ids.robot, ids.shirt]);
    const brands = Object.fromEntries(r.json.facets.brand.map((b) => [b.name, b.count]));
    assert.deepEqual(brands, { Nexa: 1, Kaffa: 1, Brume: 1 });
    assert.equal(r.json.facets.price.reduce((a, b) => a + b.count, 0), 3);
    r = await srv.get(`/api/search/?q=${tag}&page=2&page_size=3`);
    assert.equal(r.json.items.length, 1);
    assert.equal(r.json.pages, 2);
    r = await srv.get('/api/search/?q=smartphonr');
    assert.ok(r.json.total >= 2, r.text); // one typo in 10 letters
    r = await srv.get('/api/search/?q=zzqqxx');
    assert.equal(r.json.total, 0);
    assert.ok(Array.isArray(r.json.suggestions));
  });

  test('from ML_ANN_MIN_DOCS products the build adds the approximate index, served live', async () => {
    const query = `/api/search/?q=${tag}&in_stock=true&max_price=50000&sort=-price`;
    const before = await srv.get(query);
    const b = await srv.command(['build_ml_indexes'], { env: { ML_ANN_MIN_DOCS: '1' } });
    assert.equal(b.code, 0, b.stderr);
    const dir = path.join(srv.dir, 'data', 'ml', 'current');
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    const ann = manifest.parameters.ann;
    assert.equal(ann.kind, 'faiss-ivf-flat', JSON.stringify(ann));
    assert.ok(ann.recall_queries > 0 && ann.recall_queries <= 200);
    assert.ok(ann['recall@10'] >= 0 && ann['recall@10'] <= 1);
    assert.ok(manifest.files['ann.bin'], JSON.stringify(manifest.files));
    let r;
    for (let i = 0; i < 50; i++) { // the server notices within a second
      r = await srv.get(query);
      if (r.json.version === manifest.version) break;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    assert.equal(r.json.version, manifest.version, r.text);
    assert.deepEqual(r.json.items.map((i) => i.id), before.json.items.map((i) => i.id));
    r = await srv.get(`/api/search/?q=${encodeURIComponent(`smarphone ${tag}`)}&sort=price`);
    assert.deepEqual(r.json.items.map((i) => i.id), [ids.phone, ids.phone2]);
  });
});
