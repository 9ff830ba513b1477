// catalogue.test.js — categories and products: roles, validation, verbatim
// storage of hostile strings and UTF-8, deactivation, and the list's
// filters, sorting and pagination.
import assert from 'node:assert/strict';
import { describe, before, after } from 'node:test';
import {
  test, startServer, assertError, assertValidation, uid, ISO_TIME,
} from './lib/harness.js';

const PRODUCT_KEYS = ['active', 'attributes', 'brand', 'category', 'category_id', 'created_at', 'currency', 'description',
  'id', 'image_url', 'name', 'price_cents', 'stock', 'updated_at'];

describe('catalogue', () => {
  let srv;
  let staff;
  let customer;
  before(async () => {
    srv = await startServer();
    staff = await srv.createUser({ role: 'staff' });
    customer = await srv.createUser();
  });
  after(async () => { await srv?.stop(); });

  // ---- categories ----

  test('categories: anyone lists them', async () => {
    const r = await srv.get('/api/categories/');
    assert.equal(r.status, 200, r.text);
    assert.ok(Array.isArray(r.json.items));
  });

  test('categories: anonymous 401, customer 403 on create', async () => {
    assertError(await srv.post('/api/categories/', { name: 'Nope' }), 401, 'unauthorized');
    assertError(await srv.post('/api/categories/', { name: 'Nope' }, { token: customer.token }), 403, 'forbidden');
  });

  test('categories: staff creates one with an explicit slug and it is listed', async () => {
    const slug = `tools-${uid()}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
    const r = await srv.post('/api/categories/', { name: 'Tools', slug }, { token: staff.token });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(Object.keys(r.json).sort(), ['id', 'name', 'parent_id', 'slug']);
    assert.equal(r.json.name, 'Tools');
    assert.equal(r.json.slug, slug);
    assert.equal(r.json.parent_id, null);
    const list = await srv.get('/api/categories/');
    assert.deepEqual(list.json.items.find((c) => c.id === r.json.id), r.json);
  });

  test('categories: the slug is derived from the name when absent', async () => {
    const r = await srv.post('/api/categories/', { name: `Garden Chairs ${uid()}` }, { token: staff.token });
    assert.equal(r.status, 201, r.text);
    assert.match(r.json.slug, /^[a-z0-9-]{1,100}$/);
    assert.ok(r.json.slug.startsWith('garden-chairs-'), `derived slug: ${r.json.slug}`);
  });

  test('categories: a subcategory keeps its parent', async () => {
    const parent = await srv.createCategory({ name: `Parent ${uid()}` });
    const r = await srv.post('/api/categories/', { name: `Child ${uid()}`, parent_id: parent.id }, { token: staff.token });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.parent_id, parent.id);
  });

  test('categories: a taken slug is 409 conflict', async () => {
    const slug = `taken-${Date.now()}`;
    await srv.createCategory({ name: 'First', slug });
    assertError(await srv.post('/api/categories/', { name: 'Second', slug }, { token: staff.token }), 409, 'conflict');
  });

  test('categories: validation of slug, name and parent', async () => {
    assertValidation(await srv.post('/api/categories/', { name: 'Bad', slug: 'Bad Slug!' }, { token: staff.token }), 'slug');
    assertValidation(await srv.post('/api/categories/', { name: 'Long', slug: 'a'.repeat(101) }, { token: staff.token }), 'slug');
    assertValidation(await srv.post('/api/categories/', { slug: 'no-name' }, { token: staff.token }), 'name');
    assertValidation(await srv.post('/api/categories/', { name: 7 }, { token: staff.token }), 'name');
    assertValidation(await srv.post('/api/categories/', { name: 'Orphan', parent_id: 99999999 }, { token: staff.token }), 'parent_id');
  });

  // ---- products: create/read/update/delete ----

  test('products: staff creates a product; every field comes back', async () => {
    const cat = await srv.createCategory({ name: `Kitchen ${uid()}` });
    const body = {
      name: 'Espresso Machine',
      description: 'Makes coffee.\nTwo lines.',
      price_cents: 24999,
      stock: 7,
      category_id: cat.id,
      brand: 'Brewco',
      attributes: { color: 'red', watts: 1450, tags: ['steel'] },
      image_url: 'https://img.example/espresso.png',
      active: true,
    };
    const r = await srv.post('/api/products/', body, { token: staff.token });
    assert.equal(r.status, 201, r.text);
    const p = r.json;
    assert.deepEqual(Object.keys(p).sort(), PRODUCT_KEYS);
    for (const [k, v] of Object.entries(body)) assert.deepEqual(p[k], v, `field ${k}`);
    assert.equal(p.currency, 'EUR');
    assert.equal(p.category, cat.slug);
    assert.match(p.created_at, ISO_TIME);
    assert.match(p.updated_at, ISO_TIME);
    assert.deepEqual(await srv.product(p.id, customer.token), p);
  });

  test('products: defaults for optional fields', async () => {
    const r = await srv.post('/api/products/', { name: 'Plain', price_cents: 100, stock: 1 }, { token: staff.token });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.description, '');
    assert.equal(r.json.brand, '');
    assert.deepEqual(r.json.attributes, {});
    assert.equal(r.json.category_id, null);
    assert.equal(r.json.category, null);
    assert.equal(r.json.active, true);
    assert.equal(r.json.currency, 'EUR');
  });

  test('products: anonymous 401 and customer 403 on create, update and delete', async () => {
    const p = await srv.createProduct();
    assertError(await srv.post('/api/products/', { name: 'x', price_cents: 1, stock: 1 }), 401, 'unauthorized');
    assertError(await srv.post('/api/products/', { name: 'x', price_cents: 1, stock: 1 }, { token: customer.token }), 403, 'forbidden');
    assertError(await srv.patch(`/api/products/${p.id}/`, { stock: 0 }, { token: customer.token }), 403, 'forbidden');
    assertError(await srv.del(`/api/products/${p.id}/`, { token: customer.token }), 403, 'forbidden');
    assertError(await srv.del(`/api/products/${p.id}/`), 401, 'unauthorized');
    assert.equal((await srv.product(p.id)).stock, p.stock, 'nothing changed');
  });

  test('products: validation names each bad field', async () => {
    const t = { token: staff.token };
    const ok = { name: 'Valid', price_cents: 100, stock: 1 };
    assertValidation(await srv.post('/api/products/', { ...ok, name: '' }, t), 'name');
    assertValidation(await srv.post('/api/products/', { ...ok, name: 'n'.repeat(201) }, t), 'name');
    assertValidation(await srv.post('/api/products/', { price_cents: 100, stock: 1 }, t), 'name');
    assertValidation(await srv.post('/api/products/', { ...ok, description: 'd'.repeat(10001) }, t), 'description');
    assertValidation(await srv.post('/api/products/', { ...ok, price_cents: -1 }, t), 'price_cents');
    assertValidation(await srv.post('/api/products/', { ...ok, price_cents: 10000000001 }, t), 'price_cents');
    assertValidation(await srv.post('/api/products/', { ...ok, price_cents: 12.5 }, t), 'price_cents');
    assertValidation(await srv.post('/api/products/', { ...ok, price_cents: '100' }, t), 'price_cents');
    assertValidation(await srv.post('/api/products/', { ...ok, stock: -1 }, t), 'stock');
    assertValidation(await srv.post('/api/products/', { ...ok, stock: 1000000001 }, t), 'stock');
    assertValidation(await srv.post('/api/products/', { ...ok, currency: 'USD' }, t), 'currency');
    assertValidation(await srv.post('/api/products/', { ...ok, category_id: 99999999 }, t), 'category_id');
    assertValidation(await srv.post('/api/products/', { ...ok, brand: 'b'.repeat(101) }, t), 'brand');
    assertValidation(await srv.post('/api/products/', { ...ok, attributes: [1, 2] }, t), 'attributes');
    assertValidation(await srv.post('/api/products/', { ...ok, attributes: { big: 'x'.repeat(9000) } }, t), 'attributes');
    assertValidation(await srv.post('/api/products/', { ...ok, image_url: 'ftp://example.com/a.png' }, t), 'image_url');
    assertValidation(await srv.post('/api/products/', { ...ok, image_url: `https://e.x/${'a'.repeat(2040)}` }, t), 'image_url');
    assertValidation(await srv.post('/api/products/', { ...ok, active: 'yes' }, t), 'active');
    // several at once: every bad field is named
    assertValidation(await srv.post('/api/products/', { name: 5, price_cents: 'free', stock: null }, t), ['name', 'price_cents', 'stock']);
  });

  test('products: boundary values are accepted', async () => {
    const r = await srv.post('/api/products/', {
      name: 'n'.repeat(200), price_cents: 10000000000, stock: 1000000000, image_url: '/media/a.png', description: 'd'.repeat(10000),
    }, { token: staff.token });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.price_cents, 10000000000);
    assert.equal(r.json.stock, 1000000000);
    assert.equal(r.json.image_url, '/media/a.png');
  });

  test('products: SQL-injection-shaped strings are stored and returned verbatim', async () => {
    const before = (await srv.get('/api/products/?page_size=1')).json.total;
    const name = "Robert'); DROP TABLE products;--";
    const description = '" OR 1=1 -- \\ %_ \' ; SELECT * FROM users';
    const brand = "O'Reilly";
    const p = await srv.createProduct({ name, description, brand, attributes: { q: "' OR ''='" } }, staff.token);
    const got = await srv.product(p.id, customer.token);
    assert.equal(got.name, name);
    assert.equal(got.description, description);
    assert.equal(got.brand, brand);
    assert.deepEqual(got.attributes, { q: "' OR ''='" });
    const list = await srv.get(`/api/products/?q=${encodeURIComponent("'); DROP")}`);
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.items.map((x) => x.id), [p.id]);
    const brandList = await srv.get(`/api/products/?brand=${encodeURIComponent(brand)}`);
    assert.deepEqual(brandList.json.items.map((x) => x.id), [p.id]);
    assert.equal((await srv.get('/api/products/?page_size=1')).json.total, before + 1, 'the table is intact');
  });

  test('products: UTF-8 accents, CJK and emoji round-trip exactly', async () => {
    const name = 'Crème brûlée — 日本語 🍰 Ελληνικά';
    const p = await srv.createProduct({ name, description: 'Déjà vu, naïve façade', brand: 'Ñandú' }, staff.token);
    assert.equal(p.name, name);
    const got = await srv.product(p.id);
    assert.equal(got.name, name);
    assert.equal(got.description, 'Déjà vu, naïve façade');
    assert.equal(got.brand, 'Ñandú');
  });

  test('products: strings with NUL or invalid UTF-8 are rejected with 400', async () => {
    const nul = await srv.request('POST', '/api/products/', { token: staff.token, body: '{"name":"a\\u0000b","price_cents":1,"stock":1}' });
    assert.equal(nul.status, 400, nul.text);
    assert.ok(['invalid_json', 'validation_error'].includes(nul.json.error.code), nul.text);
    const bad = await srv.request('POST', '/api/products/', {
      token: staff.token,
      body: Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('","price_cents":1,"stock":1}')]),
    });
    assert.equal(bad.status, 400, bad.text);
    assert.ok(['invalid_json', 'validation_error'].includes(bad.json.error.code), bad.text);
  });

  test('products: GET of an unknown id is 404 not_found', async () => {
    assertError(await srv.get('/api/products/99999999/'), 404, 'not_found');
    assertError(await srv.get('/api/products/abc/'), 404, 'not_found');
  });

  test('products: PATCH changes only the given fields', async () => {
    const p = await srv.createProduct({ name: 'Before', price_cents: 500, stock: 3, brand: 'Keep' }, staff.token);
    const r = await srv.patch(`/api/products/${p.id}/`, { price_cents: 750, name: 'After' }, { token: staff.token });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.name, 'After');
    assert.equal(r.json.price_cents, 750);
    assert.equal(r.json.stock, 3);
    assert.equal(r.json.brand, 'Keep');
    assert.equal(r.json.created_at, p.created_at);
    assert.ok(Date.parse(r.json.updated_at) >= Date.parse(p.updated_at));
    assert.deepEqual(await srv.product(p.id), r.json);
  });

  test('products: PATCH validates and 404s', async () => {
    const p = await srv.createProduct({}, staff.token);
    assertValidation(await srv.patch(`/api/products/${p.id}/`, { stock: -5 }, { token: staff.token }), 'stock');
    assertValidation(await srv.patch(`/api/products/${p.id}/`, { name: '' }, { token: staff.token }), 'name');
    assertError(await srv.patch('/api/products/99999999/', { stock: 1 }, { token: staff.token }), 404, 'not_found');
    assert.equal((await srv.product(p.id)).stock, p.stock);
  });

  test('products: DELETE deactivates; anonymous 404, staff still sees it inactive', async () => {
    const p = await srv.createProduct({ name: `Doomed ${uid()}` }, staff.token);
    const r = await srv.del(`/api/products/${p.id}/`, { token: staff.token });
    assert.equal(r.status, 204, r.text);
    assert.equal(r.body.length, 0);
    assertError(await srv.get(`/api/products/${p.id}/`), 404, 'not_found');
    assertError(await srv.get(`/api/products/${p.id}/`, { token: customer.token }), 404, 'not_found');
    const s = await srv.get(`/api/products/${p.id}/`, { token: staff.token });
    assert.equal(s.status, 200, s.text);
    assert.equal(s.json.active, false);
    assert.equal(s.json.name, p.name);
    const q = encodeURIComponent(p.name);
    assert.equal((await srv.get(`/api/products/?q=${q}`)).json.total, 0, 'inactive products are not listed');
    const all = await srv.get(`/api/products/?q=${q}&active=all`, { token: staff.token });
    assert.equal(all.status, 200, all.text);
    assert.deepEqual(all.json.items.map((x) => x.id), [p.id]);
  });

  // ---- the list ----

  describe('list', () => {
    const brand = `Brand${Date.now()}`;
    let parent;
    let child;
    let made; // in creation order
    before(async () => {
      parent = await srv.createCategory({ name: `Audio ${uid()}` });
      child = await srv.createCategory({ name: `Headphones ${uid()}`, parent_id: parent.id });
      const other = await srv.createCategory({ name: `Other ${uid()}` });
      const specs = [
        { name: 'Delta speaker', price_cents: 3000, stock: 5, category_id: parent.id },
        { name: 'Alpha headphones', price_cents: 1000, stock: 0, category_id: child.id },
        { name: 'Charlie cable', price_cents: 500, stock: 9, category_id: other.id },
        { name: 'Bravo AMP', price_cents: 8000, stock: 2, category_id: parent.id },
        { name: 'Echo mic', price_cents: 2000, stock: 1, category_id: null },
      ];
      made = [];
      for (const s of specs) made.push(await srv.createProduct({ ...s, brand }, staff.token));
    });
    const ids = (r) => r.json.items.map((x) => x.id);
    const byName = (...names) => names.map((n) => made.find((p) => p.name === n).id);

    test('brand filter isolates exactly the five, default sort -created (newest first)', async () => {
      const r = await srv.get(`/api/products/?brand=${brand}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.total, 5);
      assert.equal(r.json.page, 1);
      assert.equal(r.json.page_size, 20);
      assert.equal(r.json.pages, 1);
      assert.deepEqual(ids(r), made.map((p) => p.id).reverse());
      for (const x of r.json.items) assert.deepEqual(Object.keys(x).sort(), PRODUCT_KEYS);
    });

    test('sort by price, -price, name, -name, created', async () => {
      const q = `/api/products/?brand=${brand}&sort=`;
      assert.deepEqual((await srv.get(`${q}price`)).json.items.map((x) => x.price_cents), [500, 1000, 2000, 3000, 8000]);
      assert.deepEqual((await srv.get(`${q}-price`)).json.items.map((x) => x.price_cents), [8000, 3000, 2000, 1000, 500]);
      assert.deepEqual(ids(await srv.get(`${q}name`)), byName('Alpha headphones', 'Bravo AMP', 'Charlie cable', 'Delta speaker', 'Echo mic'));
      assert.deepEqual(ids(await srv.get(`${q}-name`)), byName('Echo mic', 'Delta speaker', 'Charlie cable', 'Bravo AMP', 'Alpha headphones'));
      assert.deepEqual(ids(await srv.get(`${q}created`)), made.map((p) => p.id));
      assert.deepEqual(ids(await srv.get(`${q}-created`)), made.map((p) => p.id).reverse());
    });

    test('min_price and max_price are inclusive bounds in cents', async () => {
      const r = await srv.get(`/api/products/?brand=${brand}&min_price=1000&max_price=3000&sort=price`);
      assert.deepEqual(r.json.items.map((x) => x.price_cents), [1000, 2000, 3000]);
      assert.equal(r.json.total, 3);
    });

    test('in_stock=true drops the out-of-stock product', async () => {
      const r = await srv.get(`/api/products/?brand=${brand}&in_stock=true&sort=price`);
      assert.deepEqual(r.json.items.map((x) => x.price_cents), [500, 2000, 3000, 8000]);
    });

    test('q is a case-insensitive substring of the name', async () => {
      const r = await srv.get(`/api/products/?brand=${brand}&q=AMP`);
      assert.deepEqual(ids(r), byName('Bravo AMP'));
      const r2 = await srv.get(`/api/products/?brand=${brand}&q=hEaDpHoN`);
      assert.deepEqual(ids(r2), byName('Alpha headphones'));
    });

    test('category by id or slug includes direct subcategories', async () => {
      const want = byName('Delta speaker', 'Alpha headphones', 'Bravo AMP').sort((a, b) => a - b);
      const a = await srv.get(`/api/products/?brand=${brand}&category=${parent.id}`);
      assert.equal(a.status, 200, a.text);
      assert.deepEqual(ids(a).sort((x, y) => x - y), want);
      const b = await srv.get(`/api/products/?brand=${brand}&category=${parent.slug}`);
      assert.deepEqual(ids(b).sort((x, y) => x - y), want);
      const c = await srv.get(`/api/products/?brand=${brand}&category=${child.slug}`);
      assert.deepEqual(ids(c), byName('Alpha headphones'));
    });

    test('pagination: page_size=2 gives 3 pages; pages past the end are empty', async () => {
      const q = `/api/products/?brand=${brand}&sort=price&page_size=2`;
      const p1 = await srv.get(`${q}&page=1`);
      const p2 = await srv.get(`${q}&page=2`);
      const p3 = await srv.get(`${q}&page=3`);
      const p4 = await srv.get(`${q}&page=4`);
      assert.equal(p1.json.pages, 3);
      assert.equal(p1.json.total, 5);
      assert.deepEqual(p1.json.items.map((x) => x.price_cents), [500, 1000]);
      assert.deepEqual(p2.json.items.map((x) => x.price_cents), [2000, 3000]);
      assert.deepEqual(p3.json.items.map((x) => x.price_cents), [8000]);
      assert.equal(p3.json.page, 3);
      assert.equal(p4.status, 200);
      assert.deepEqual(p4.json.items, []);
    });

    test('filters combine', async () => {
      const r = await srv.get(`/api/products/?brand=${brand}&category=${parent.slug}&in_stock=true&max_price=5000&sort=-price`);
      assert.deepEqual(ids(r), byName('Delta speaker'));
    });

    test('bad list parameters are 400 validation_error naming the parameter', async () => {
      assertValidation(await srv.get('/api/products/?page=0'), 'page');
      assertValidation(await srv.get('/api/products/?page=abc'), 'page');
      assertValidation(await srv.get('/api/products/?page_size=0'), 'page_size');
      assertValidation(await srv.get('/api/products/?page_size=101'), 'page_size');
      assertValidation(await srv.get('/api/products/?sort=popularity'), 'sort');
      assertValidation(await srv.get('/api/products/?min_price=cheap'), 'min_price');
      assertValidation(await srv.get('/api/products/?max_price=-1'), 'max_price');
      assertValidation(await srv.get('/api/products/?in_stock=maybe'), 'in_stock');
    });

    test('page_size=100 is the maximum accepted', async () => {
      const r = await srv.get('/api/products/?page_size=100');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.page_size, 100);
    });
  });
});
