// jobs.test.js — the job queue, black-box: real `smartmarket worker`
// processes on the test database (SQLite or PostgreSQL), the admin jobs API
// and the tasks command. Test-only tasks come from SMARTMARKET_TEST_TASKS=1.
import assert from 'node:assert/strict';
import { describe, before, after } from 'node:test';
import { test, startServer, assertError, until } from './lib/harness.js';
import { startWorker, enqueue, job, waitJob, sleep } from './lib/jobs.js';

describe('jobs', () => {
  let srv;
  const workers = [];
  const worker = (args, env) => { const w = startWorker(srv, args, env); workers.push(w); return w; };

  before(async () => { srv = await startServer({ env: { SMARTMARKET_TEST_TASKS: '1' } }); });
  after(async () => {
    for (const w of workers) await w.stop('SIGKILL');
    if (srv) await srv.stop();
  });

  test('a job runs once, logged with the correlation id of the request that enqueued it', async () => {
    const w = worker(['--queues', 'test=2']);
    const j = await enqueue(srv, 'noop', {}, { 'X-Request-Id': 'e2e-corr-42' });
    assert.equal(j.correlation_id, 'e2e-corr-42');
    await waitJob(srv, j.id, (x) => x.state === 'succeeded');
    await sleep(100);
    const starts = w.lines('job.start', j.id);
    assert.equal(starts.length, 1);
    assert.equal(starts[0].json.correlation_id, 'e2e-corr-42');
    await w.stop();
  });

  test('a job failing twice succeeds on the third attempt; one always failing is discarded, then retried by hand', async () => {
    const w = worker(['--queues', 'test=2'], { JOBS_BACKOFF_BASE_MS: '1' });
    const twice = await enqueue(srv, 'fail_n_times', { n: 2 });
    const never = await enqueue(srv, 'always_fail');
    const a = await waitJob(srv, twice.id, (x) => x.state === 'succeeded');
    assert.equal(a.attempt, 3);
    assert.equal(a.errors.length, 2);
    const b = await waitJob(srv, never.id, (x) => x.state === 'discarded');
    assert.equal(b.attempt, 3);
    assert.equal(b.errors.length, 3);
    const r = await srv.post(`/api/admin/jobs/${never.id}/retry/`, {}, { token: srv.adminToken });
    assert.equal(r.status, 200, r.text);
    const c = await waitJob(srv, never.id, (x) => x.state === 'discarded' && x.attempt === 4);
    assert.equal(c.errors.length, 4);
    await w.stop();
  });

  test('kill -9 of a worker mid-job: the job completes later, exactly once', async () => {
    const env = { JOBS_LEASE_MS: '1500' };
    const a = worker(['--queues', 'test=1'], env);
    const j = await enqueue(srv, 'sleep_until_stopped', { ms: 1500 });
    await waitJob(srv, j.id, (x) => x.state === 'running');
    await a.stop('SIGKILL');
    const b = worker(['--queues', 'test=1'], env);
    const done = await waitJob(srv, j.id, (x) => x.state === 'succeeded', 20000);
    assert.equal(done.attempt, 2);
    assert.match(done.errors[0].error, /lease expired/);
    assert.equal(a.lines('job.finish', j.id).length, 0);
    assert.equal(b.lines('job.finish', j.id).length, 1);
    await b.stop();
  });

  test('the rate limit holds globally across two worker processes', async () => {
    const ids = [];
    for (let i = 0; i < 20; i += 1) ids.push((await enqueue(srv, 'limited_noop', { i })).id);
    const w1 = worker(['--queues', 'test=4']);
    const w2 = worker(['--queues', 'test=4']);
    for (const id of ids) await waitJob(srv, id, (x) => x.state === 'succeeded', 20000);
    const perSecond = new Map();
    for (const id of ids) {
      const s = Math.floor(Date.parse((await job(srv, id)).attempted_at) / 1000);
      perSecond.set(s, (perSecond.get(s) || 0) + 1);
    }
    for (const [s, n] of perSecond) assert.ok(n <= 5, `${n} starts in second ${s}`);
    const starts1 = ids.filter((id) => w1.lines('job.start', id).length).length;
    const starts2 = ids.filter((id) => w2.lines('job.start', id).length).length;
    assert.equal(starts1 + starts2, 20);
    await w1.stop();
    await w2.stop();
  });

  test('a time limit fails the attempt with a timeout error', async () => {
    const w = worker(['--queues', 'test=1'], { JOBS_TIME_LIMIT_MS: '300', JOBS_BACKOFF_BASE_MS: '100000' });
    const j = await enqueue(srv, 'sleep_until_stopped');
    const x = await waitJob(srv, j.id, (y) => y.state === 'retryable');
    assert.match(x.last_error, /time limit/);
    // One job.fail line, when the limit passed; the task, asked to stop, comes
    // back later and its return is logged as discarded, never as job.finish.
    for (let i = 0; i < 100 && w.lines('job.late_return', j.id).length === 0; i++) await sleep(50);
    const fails = w.lines('job.fail', j.id);
    assert.equal(fails.length, 1);
    assert.match(fails[0].json.error, /time limit/);
    assert.equal(w.lines('job.late_return', j.id).length, 1);
    assert.equal(w.lines('job.finish', j.id).length, 0);
    await w.stop();
    await srv.post(`/api/admin/jobs/${j.id}/cancel/`, {}, { token: srv.adminToken });
  });

  test('SIGTERM drains: running jobs past the deadline go back to available, not counted', async () => {
    const w = worker(['--queues', 'test=1'], { SHUTDOWN_TIMEOUT_MS: '300' });
    const j = await enqueue(srv, 'sleep_until_stopped');
    await waitJob(srv, j.id, (x) => x.state === 'running');
    const t0 = Date.now();
    const exit = await w.stop('SIGTERM');
    assert.equal(exit.code, 0);
    assert.ok(Date.now() - t0 < 5000);
    const x = await job(srv, j.id);
    assert.equal(x.state, 'available');
    assert.equal(x.attempt, 0);
    await srv.post(`/api/admin/jobs/${j.id}/cancel/`, {}, { token: srv.adminToken });
  });

  test('admin API: queues, list, workers, purge, errors', async () => {
    const w = worker(['--queues', 'emails=1']);
    // The worker registers once it has started; under ASan that takes a while.
    await until('the worker to register', async () => {
      const r = await srv.get('/api/admin/workers/', { token: srv.adminToken });
      return r.status === 200 && r.json.workers.some((x) => x.alive && x.queues === 'emails=1');
    });
    const q = await srv.get('/api/admin/jobs/queues/', { token: srv.adminToken });
    assert.equal(q.status, 200);
    for (const name of ['ml', 'emails', 'maintenance', 'reports']) {
      assert.ok(q.json.queues.some((x) => x.queue === name), name);
    }
    const l = await srv.get('/api/admin/jobs/?state=succeeded&queue=test', { token: srv.adminToken });
    assert.equal(l.status, 200);
    assert.ok(l.json.items.length > 0);
    assertError(await srv.get('/api/admin/jobs/?state=bogus', { token: srv.adminToken }), 400, 'validation_error');
    assertError(await srv.get('/api/admin/jobs/999999/', { token: srv.adminToken }), 404, 'not_found');
    assertError(await srv.post('/api/admin/jobs/', { task: 'nope' }, { token: srv.adminToken }), 400, 'validation_error');
    assertError(await srv.get('/api/admin/jobs/queues/'), 401, 'unauthorized');
    await enqueue(srv, 'noop');
    const p = await srv.del('/api/admin/jobs/queues/test/', { token: srv.adminToken });
    assert.equal(p.status, 200);
    assert.ok(p.json.deleted >= 1);
    await w.stop();
  });

  test('openapi.json lists the jobs paths', async () => {
    const r = await srv.get('/api/openapi.json');
    assert.equal(r.status, 200);
    for (const p of ['/api/admin/jobs/', '/api/admin/jobs/queues/', '/api/admin/jobs/{id}/',
      '/api/admin/jobs/{id}/retry/', '/api/admin/jobs/{id}/cancel/',
      '/api/admin/jobs/queues/{queue}/', '/api/admin/workers/']) {
      assert.ok(r.json.paths[p], p);
    }
  });

  test('tasks command: enqueue, inspect, cancel, retry, purge', async () => {
    const e = await srv.command(['tasks', 'enqueue', 'noop', '{"x":1}']);
    assert.equal(e.code, 0, e.stderr);
    const { id } = JSON.parse(e.stdout);
    const i = await srv.command(['tasks', 'inspect', 'scheduled']);
    assert.equal(i.code, 0, i.stderr);
    assert.ok(i.stdout.trim().split('\n').map((s) => JSON.parse(s)).some((x) => x.id === id));
    assert.equal((await srv.command(['tasks', 'cancel', String(id)])).code, 0);
    assert.equal((await srv.command(['tasks', 'cancel', String(id)])).code, 1);
    assert.equal((await srv.command(['tasks', 'retry', String(id)])).code, 0);
    const p = await srv.command(['tasks', 'purge', 'test']);
    assert.equal(JSON.parse(p.stdout).deleted, 1);
    assert.equal((await srv.command(['tasks', 'inspect', 'bogus'])).code, 2);
    assert.equal((await srv.command(['tasks', 'enqueue', 'nope'])).code, 2);
  });
});
