// jobs.js — helpers for the job-queue tests: `smartmarket worker` processes
// against a test server's database, and polling a job through the admin API.
import { spawn } from 'node:child_process';
import { BIN, SCALE, baseEnv } from './harness.js';

/** Starts `smartmarket worker ARGS` with the server's configuration. */
export function startWorker(srv, args = [], env = {}) {
  const w = { logs: [], exit: null };
  w.proc = spawn(BIN, ['worker', ...args], {
    env: baseEnv(srv.env({ SMARTMARKET_TEST_TASKS: '1', JOBS_POLL_MS: '100', ...env })),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  w.exited = new Promise((resolve) => {
    w.proc.on('close', (code, signal) => { w.exit = { code, signal }; resolve(w.exit); });
  });
  let buf = '';
  const onData = (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let json = null;
      try { json = JSON.parse(line); } catch { /* not JSON */ }
      w.logs.push({ raw: line, json });
    }
  };
  w.proc.stdout.setEncoding('utf8').on('data', onData);
  w.proc.stderr.setEncoding('utf8').on('data', onData);
  w.lines = (msg, jobId) => w.logs.filter((l) => l.json && l.json.msg === msg
    && (jobId === undefined || l.json.job_id === jobId));
  w.stop = async (signal = 'SIGTERM') => {
    if (!w.exit) w.proc.kill(signal);
    return w.exited;
  };
  return w;
}

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

/** Enqueues through the admin API; returns the job. */
export async function enqueue(srv, task, args = {}, headers = {}) {
  const r = await srv.post('/api/admin/jobs/', { task, args }, { token: srv.adminToken, headers });
  if (r.status !== 201 && r.status !== 200) throw new Error(`enqueue ${task}: ${r.status} ${r.text}`);
  return r.json;
}

export async function job(srv, id) {
  const r = await srv.get(`/api/admin/jobs/${id}/`, { token: srv.adminToken });
  if (r.status !== 200) throw new Error(`job ${id}: ${r.status} ${r.text}`);
  return r.json;
}

/** Polls job `id` until `pred(job)` holds, or fails after `ms`. */
export async function waitJob(srv, id, pred, ms = 15000) {
  const end = Date.now() + ms * SCALE;
  let j;
  while (Date.now() < end) {
    j = await job(srv, id);
    if (pred(j)) return j;
    await sleep(50);
  }
  throw new Error(`job ${id} did not reach the expected state: ${JSON.stringify(j)}`);
}

export { sleep };
