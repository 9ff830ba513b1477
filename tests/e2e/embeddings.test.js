// embeddings.test.js — dense vectors from an OpenAI-compatible embeddings
// service (EMBEDDINGS_URL), against the stand-in of lib/embeddings.js:
// the manifest records the source, search finds by meaning, a rebuild sends
// only changed texts, every failure of the service fails the build with the
// active version kept, a failure at query time degrades to lexical ranking,
// and similar products come from the embeddings without any order.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, before, after } from 'node:test';
import { test, startServer, SCALE } from './lib/harness.js';
import { startEmbeddings, DIM } from './lib/embeddings.js';

describe('external embeddings', () => {
  let srv;
  let svc;
  const p = {};
  const mlDir = () => path.join(srv.dir, 'data', 'ml');
  const current = () => fs.readlinkSync(path.join(mlDir(), 'current'));
  const manifest = () => JSON.parse(fs.readFileSync(path.join(mlDir(), current(), 'manifest.json'), 'utf8'));
  const ids = (r) => r.json.items.map((x) => x.id);
  const waitVersion = async (version) => {
    for (let i = 0; i < 50; i += 1) { // the server looks for a new version every second
      const r = await srv.get('/api/search/?q=zzzz');
      if (r.json.version === version) return;
      await new Promise((res) => { setTimeout(res, 100); });
    }
    assert.fail(`the server did not load ${version}`);
  };

  before(async () => {
    svc = await startEmbeddings();
    srv = await startServer({
      env: {
        EMBEDDINGS_URL: `${svc.url}/`,
        EMBEDDINGS_MODEL: 'stand-in-1',
        EMBEDDINGS_API_KEY: 'sk-test-key',
        EMBEDDINGS_TIMEOUT_MS: '500',
        EMBEDDINGS_BATCH: '2',
      },
    });
    const products = [
      ['phones', 'Wireless headphones', 'Acme', 'Over-ear'],
      ['kettle', 'Stainless kettle', 'Kaffa', 'Boils water fast'],
      ['kettle2', 'Stainless kettle XL', 'Kaffa', 'Boils water fast'],
      ['shirt', 'Cotton shirt', 'Brume', 'Soft and light'],
      ['lamp', 'Desk lamp', 'Lumo', 'LED, dimmable'],
    ];
    for (const [key, name, brand, description] of products) {
      p[key] = (await srv.createProduct({ name, brand, description, stock: 5 })).id;
    }
  });
  after(async () => {
    await srv?.stop();
    await svc?.close();
  });

  test('build with EMBEDDINGS_URL: vectors from the service, recorded in the manifest', async () => {
    const b = await srv.command(['build_ml_indexes']);
    assert.equal(b.code, 0, b.stderr + b.stdout);
    const m = manifest();
    assert.equal(m.parameters.vector_source, 'embeddings');
    assert.equal(m.parameters.vector_model, 'stand-in-1');
    assert.equal(m.parameters.vector_dim, DIM);
    assert.equal(m.counts.vectors_embedded, 5);
    assert.equal(m.counts.vectors_cached, 0);
    assert.equal(svc.state.stats.inputs, 5);
    assert.equal(svc.state.stats.maxBatch, 2);
    assert.deepEqual([...svc.state.stats.models], ['stand-in-1']);
    assert.equal(svc.state.stats.authorization, 'Bearer sk-test-key');
    assert.ok(fs.existsSync(path.join(mlDir(), '.embeddings.cache')));
    await waitVersion(current());
  });

  test('search finds by meaning: a word no product contains', async () => {
    const r = await srv.get('/api/search/?q=casque');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.engine, 'index');
    assert.equal(ids(r)[0], p.phones, r.text);
  });

  test('similar products come from the embeddings, with no order history', async () => {
    const r = await srv.get(`/api/products/${p.kettle}/similar/?limit=3`);
    assert.equal(r.status, 200, r.text);
    assert.equal(ids(r)[0], p.kettle2, r.text);
    assert.ok(r.json.sources.includes('content'), r.text);
    assert.ok(!ids(r).includes(p.kettle));
  });

  test('a rebuild sends only the changed products', async () => {
    const u = await srv.patch(`/api/products/${p.lamp}/`, { description: 'LED, dimmable, USB-C' }, { token: srv.adminToken });
    assert.equal(u.status, 200, u.text);
    svc.resetStats();
    const before = current();
    const b = await srv.command(['build_ml_indexes']);
    assert.equal(b.code, 0, b.stderr + b.stdout);
    assert.notEqual(current(), before);
    assert.equal(svc.state.stats.inputs, 1);
    assert.equal(svc.state.stats.requests, 1);
    assert.equal(manifest().counts.vectors_embedded, 1);
    assert.equal(manifest().counts.vectors_cached, 4);
    // answers in another order are placed by their "index"
    svc.setMode('shuffled');
    await srv.createProduct({ name: 'Paper notebook', description: 'A5' });
    await srv.createProduct({ name: 'Ink pen', description: 'Blue' });
    const c = await srv.command(['build_ml_indexes']);
    svc.setMode('ok');
    assert.equal(c.code, 0, c.stderr + c.stdout);
    await waitVersion(current());
    const r = await srv.get('/api/search/?q=carnet'); // by meaning only: the vector must be the notebook's
    assert.equal(r.json.items[0]?.name, 'Paper notebook', r.text);
  });

  for (const mode of ['http500', 'malformed', 'wrongdim', 'missing', 'slow']) {
    test(`a failing service (${mode}) fails the build; the active version stays`, async () => {
      await srv.createProduct({ name: `Needs a vector ${mode}` }); // something to send
      const before = current();
      const kept = fs.readdirSync(mlDir()).sort();
      svc.setMode(mode);
      const started = Date.now();
      const b = await srv.command(['build_ml_indexes']);
      svc.setMode('ok');
      assert.notEqual(b.code, 0, `${mode}: the build should fail\n${b.stderr}`);
      assert.match(b.stderr + b.stdout, /embeddings/);
      assert.equal(current(), before);
      assert.deepEqual(fs.readdirSync(mlDir()).sort(), kept, 'no half-written version left behind');
      assert.ok(Date.now() - started < 20000 * SCALE, 'retries are bounded');
      const r = await srv.get('/api/search/?q=kettle');
      assert.equal(r.status, 200);
      assert.equal(r.json.engine, 'index');
    });
  }

  test('a failing service at query time: lexical ranking, never a 5xx', async () => {
    svc.setMode('http500');
    const miss = await srv.get(`/api/search/?q=${encodeURIComponent('écouteurs')}`); // meaning only
    assert.equal(miss.status, 200, miss.text);
    assert.equal(miss.json.total, 0);
    const lex = await srv.get('/api/search/?q=wireless');
    assert.equal(lex.status, 200, lex.text);
    assert.equal(ids(lex)[0], p.phones);
    assert.ok(srv.logs.some((l) => /ranking this query lexically/.test(l.raw)), 'a warning is logged');
    svc.setMode('ok');
    const cached = await srv.get('/api/search/?q=casque'); // embedded earlier: from the query cache
    assert.equal(ids(cached)[0], p.phones);
  });
});
