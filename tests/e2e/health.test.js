// health.test.js — /health/live/, /health/ready/ (and its 503 when the
// database goes away), /health/detailed/ (admin only).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, before, after } from 'node:test';
import {
  test, startServer, assertError, DB_KIND, VERSION, ISO_TIME, pgAvailable, psqlAdmin, createDatabase, makeTempDir, until,
} from './lib/harness.js';
import { startWorker } from './lib/jobs.js';

describe('health', () => {
  let srv;
  let customer;
  before(async () => {
    srv = await startServer();
    customer = await srv.createUser();
  });
  after(async () => { await srv?.stop(); });

  test('live answers 200 {"status":"ok"} as JSON', async () => {
    const r = await srv.get('/health/live/');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(r.json, { status: 'ok' });
  });

  test('live answers HEAD with headers and no body', async () => {
    const r = await srv.request('HEAD', '/health/live/');
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
  });

  test('ready reports the database and migrations as ok', async () => {
    const r = await srv.get('/health/ready/');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'ok');
    assert.equal(r.json.checks.database.status, 'ok');
    assert.equal(typeof r.json.checks.database.latency_ms, 'number');
    assert.ok(r.json.checks.database.latency_ms >= 0 && r.json.checks.database.latency_ms < 5000);
    assert.equal(typeof r.json.checks.migrations, 'object');
    assert.equal(r.json.checks.migrations.status, 'ok', r.text);
    assert.equal(r.json.checks.events, undefined, 'the in-process bus has nothing to check');
  });

  test('detailed needs credentials (401)', async () => {
    assertError(await srv.get('/health/detailed/'), 401, 'unauthorized');
  });

  test('detailed refuses a customer (403)', async () => {
    assertError(await srv.get('/health/detailed/', { token: customer.token }), 403, 'forbidden');
  });

  test('detailed gives an admin version, uptime, database kind and counts', async () => {
    const r = await srv.get('/health/detailed/', { token: srv.adminToken });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'ok');
    assert.equal(r.json.version, VERSION);
    assert.equal(typeof r.json.uptime_s, 'number');
    assert.ok(r.json.uptime_s >= 0 && r.json.uptime_s < 3600);
    assert.match(r.json.started_at, ISO_TIME);
    assert.ok(Date.now() - Date.parse(r.json.started_at) < 600000, 'started_at is recent');
    assert.equal(r.json.database.kind, DB_KIND);
    assert.equal(typeof r.json.checks, 'object');
    // the admin from createsuperuser and the customer registered above
    assert.deepEqual(r.json.counts, { users: 2, products: 0, orders: 0 });
  });

  test('detailed gives the database size, the job queues, the process and the disk', async () => {
    const r = await srv.get('/health/detailed/', { token: srv.adminToken });
    assert.equal(r.status, 200, r.text);
    const { database, jobs, process: proc, disk } = r.json;
    assert.ok(database.size_bytes > 0 && database.size_bytes < 1e9, JSON.stringify(database));
    if (DB_KIND === 'postgres') assert.ok(database.connections >= 1, JSON.stringify(database));
    else assert.equal(database.connections, undefined);
    assert.deepEqual(jobs.queues.map((q) => q.queue).sort(), ['emails', 'maintenance', 'ml', 'reports']);
    assert.equal(jobs.workers_alive, 0); // serve runs no worker

    // The process figures are this server's, as the kernel sees them.
    assert.equal(proc.pid, srv.proc.pid);
    const status = fs.readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
    assert.ok(Math.abs(proc.rss_bytes - rss) < rss / 2, `rss ${proc.rss_bytes} vs ${rss}`);
    assert.ok(proc.threads >= 2, `threads ${proc.threads}`);
    const fds = fs.readdirSync(`/proc/${srv.proc.pid}/fd`).length;
    assert.ok(proc.open_fds >= 3 && Math.abs(proc.open_fds - fds) <= 10, `fds ${proc.open_fds} vs ${fds}`);
    assert.ok(proc.cpu_user_s >= 0 && proc.cpu_system_s >= 0);
    assert.equal(disk.path, srv.env().SMARTMARKET_DATA_DIR);
    const st = fs.statfsSync(disk.path);
    const total = st.blocks * st.bsize; // statvfs(2) as node sees it
    assert.ok(Math.abs(disk.total_bytes - total) <= total / 100, `${disk.total_bytes} vs ${total}`);
    assert.ok(disk.free_bytes > 0 && disk.free_bytes <= disk.total_bytes);

    // A worker that starts shows up as alive.
    const w = startWorker(srv, ['--queues', 'emails=1']);
    try {
      await until('the worker to be counted alive', async () => {
        const d = await srv.get('/health/detailed/', { token: srv.adminToken });
        return d.json.jobs.workers_alive === 1;
      });
    } finally {
      await w.stop();
    }
  });
});

describe('health when the database goes away', () => {
  // Always on PostgreSQL: dropping the database under a running server is the
  // one dependency failure we can cause reliably (root ignores file modes, and
  // an open SQLite file survives unlink).
  test('ready answers 503 naming the database when it is dropped', { skip: !pgAvailable() && 'needs the test PostgreSQL (scripts/test.sh)' }, async () => {
    const dir = makeTempDir();
    const dbUrl = await createDatabase('postgres', dir);
    const name = new URL(dbUrl).pathname.slice(1);
    const srv = await startServer({ kind: 'postgres', dbUrl, admin: false, env: { DB_TIMEOUT_MS: '1000' } });
    try {
      const ok = await srv.get('/health/ready/');
      assert.equal(ok.status, 200, ok.text);
      await psqlAdmin(`DROP DATABASE "${name}" WITH (FORCE)`);
      const r = await srv.get('/health/ready/');
      assert.equal(r.status, 503, r.text);
      assert.notEqual(r.json.status, 'ok');
      assert.equal(r.json.checks.database.status, 'fail');
      assert.equal(typeof r.json.checks.database.error, 'string');
      assert.ok(r.json.checks.database.error.length > 0);
      // live still answers: it touches nothing
      const live = await srv.get('/health/live/');
      assert.equal(live.status, 200);
    } finally {
      await srv.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
