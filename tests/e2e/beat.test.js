// beat.test.js — `smartmarket beat` as a black box: of two beat processes
// exactly one leads; kill -9 of the leader → the standby takes over within
// the lease; SIGTERM releases the lease so a standby takes over at once and
// exits 0; configuration errors name the variable; --list and --help; and
// `smartmarket run` embeds a leading beat and stops it cleanly. The
// per-slot guarantees (each slot once with two beats, missed slots once)
// are unit-tested with an injected clock in tests/unit/jobs/test_beat.c.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  test, runCommand, createDatabase, makeTempDir, freePort, baseEnv, withTimeout, BIN, DB_KIND,
  SCALE, SECRET_KEY,
} from './lib/harness.js';

const LEASE_S = 3;
const live = new Set();

process.on('exit', () => {
  for (const p of live) { try { p.child.kill('SIGKILL'); } catch { /* gone */ } }
});

/** A `smartmarket ARGS` child whose JSON log lines are kept. */
class Proc {
  constructor(args, env, name) {
    this.name = name;
    this.lines = [];
    this.child = spawn(BIN, args, { env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => { live.delete(this); resolve({ code, signal }); });
    });
    live.add(this);
    for (const stream of [this.child.stdout, this.child.stderr]) {
      let buf = '';
      stream.setEncoding('utf8').on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const raw = buf.slice(0, i);
          buf = buf.slice(i + 1);
          let json = null;
          try { json = JSON.parse(raw); } catch { /* human line on stderr */ }
          this.lines.push({ raw, json });
        }
      });
    }
  }

  has(msg) { return this.lines.some((l) => l.json && l.json.msg === msg); }

  count(msg) { return this.lines.filter((l) => l.json && l.json.msg === msg).length; }

  /** Resolves the ms waited once a line with `msg` appears; throws after ms. */
  async waitFor(msg, ms) {
    const t0 = Date.now();
    while (Date.now() - t0 < ms * SCALE) {
      if (this.has(msg)) return Date.now() - t0;
      await sleep(25);
    }
    throw new Error(`${this.name}: no "${msg}" within ${ms * SCALE} ms:\n${this.tail()}`);
  }

  tail(n = 30) { return this.lines.slice(-n).map((l) => `  [${this.name}] ${l.raw}`).join('\n'); }

  /** SIGTERM and a clean exit 0. */
  async stop() {
    this.child.kill('SIGTERM');
    const r = await withTimeout(this.exited, 15000 * SCALE);
    assert.notEqual(r, 'timeout', `${this.name} did not exit after SIGTERM:\n${this.tail()}`);
    assert.deepEqual(r, { code: 0, signal: null }, `${this.name} exit:\n${this.tail()}`);
  }
}

async function freshEnv(extra = {}) {
  const dir = makeTempDir('sm-beat-');
  const dbUrl = await createDatabase(DB_KIND, dir);
  const env = {
    DATABASE_URL: dbUrl,
    SMARTMARKET_DATA_DIR: path.join(dir, 'data'),
    SECRET_KEY,
    BEAT_LEASE_SECONDS: String(LEASE_S),
    ...extra,
  };
  const m = await runCommand(['migrate'], { env });
  assert.equal(m.code, 0, `migrate: ${m.stderr}`);
  return { dir, env };
}

describe('beat', () => {
  const dirs = [];
  after(() => { if (!process.env.SM_E2E_KEEP) for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

  test('two beats: one leads; kill -9 of the leader → the other takes over within the lease', async () => {
    const { dir, env } = await freshEnv();
    dirs.push(dir);
    const a = new Proc(['beat'], env, 'beat-a');
    await a.waitFor('beat: leader acquired', 10000);
    const b = new Proc(['beat'], env, 'beat-b');
    await b.waitFor('beat: started', 10000);
    await sleep(2 * LEASE_S * 1000 / 3); // b polls, a renews, more than once
    assert.equal(b.has('beat: leader acquired'), false, `b must stand by:\n${b.tail()}`);
    assert.equal(a.has('beat: leader lost'), false, `a keeps the lease:\n${a.tail()}`);

    a.child.kill('SIGKILL');
    await a.exited;
    const waited = await b.waitFor('beat: leader acquired', (LEASE_S + 3) * 1000);
    assert.ok(waited <= (LEASE_S + 2) * 1000 * SCALE, `takeover took ${waited} ms`);

    // A clean stop releases the lease: a standby takes over at its next poll,
    // well before the lease would have expired.
    const c = new Proc(['beat'], env, 'beat-c');
    await c.waitFor('beat: started', 10000);
    await sleep(300);
    assert.equal(c.has('beat: leader acquired'), false);
    await b.stop();
    assert.ok(b.has('beat: leader released'), b.tail());
    const handover = await c.waitFor('beat: leader acquired', LEASE_S * 1000);
    assert.ok(handover < (LEASE_S * 1000 * 2) / 3 + 500, `handover after release took ${handover} ms`);
    await c.stop();
  });

  test('beat --help and --list describe the schedule; bad configuration names the variable', async () => {
    const h = await runCommand(['beat', '--help']);
    assert.equal(h.code, 0, h.stderr);
    for (const t of ['rebuild_ml_indexes', 'purge_cache', 'generate_daily_report', 'cleanup_old_data']) {
      assert.match(h.stdout, new RegExp(t));
    }
    assert.match(h.stdout, /BEAT_SCHEDULE/);

    const { dir, env } = await freshEnv();
    dirs.push(dir);
    const l = await runCommand(['beat', '--list'], {
      env: { ...env, BEAT_TIMEZONE: 'Europe/Paris', BEAT_SCHEDULE: 'purge_cache=*/30 * * * *;generate_daily_report=@midnight' },
    });
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, /purge_cache\s+\*\/30 \* \* \* \*/);
    assert.match(l.stdout, /generate_daily_report\s+@midnight\s+\d{4}-\d\d-\d\dT(22|23):00:00Z\s+\d{4}-\d\d-\d\d 00:00 CES?T/);
    assert.doesNotMatch(l.stdout, /rebuild_ml_indexes/);

    const bad = [
      [{ BEAT_SCHEDULE: 'purge_cache=61 * * * *' }, /BEAT_SCHEDULE: .*minute/],
      [{ BEAT_SCHEDULE: 'no_such_task=* * * * *' }, /BEAT_SCHEDULE: .*no_such_task/],
      [{ BEAT_SCHEDULE: 'purge_cache' }, /BEAT_SCHEDULE: .*task=cron/],
      [{ BEAT_TIMEZONE: 'Mars/Olympus_Mons' }, /BEAT_TIMEZONE: .*Mars\/Olympus_Mons/],
      [{ BEAT_TIMEZONE: '../../etc/passwd' }, /BEAT_TIMEZONE/],
      [{ BEAT_LEASE_SECONDS: '1' }, /BEAT_LEASE_SECONDS/],
    ];
    for (const [extra, re] of bad) {
      const r = await runCommand(['beat'], { env: { ...env, ...extra }, timeoutMs: 10000 });
      assert.equal(r.code, 1, `${JSON.stringify(extra)}: code ${r.code} ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    const u = await runCommand(['beat', '--bogus'], { env });
    assert.equal(u.code, 2);
  });

  test('beat refuses to start while migrations are pending', async () => {
    const dir = makeTempDir('sm-beat-');
    dirs.push(dir);
    const dbUrl = await createDatabase(DB_KIND, dir);
    const r = await runCommand(['beat'], { env: { DATABASE_URL: dbUrl, SMARTMARKET_DATA_DIR: path.join(dir, 'data') }, timeoutMs: 10000 });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /migrations/);
  });

  test('run embeds the worker and a leading beat, and SIGTERM stops all three with exit 0', async () => {
    const dir = makeTempDir('sm-beat-');
    dirs.push(dir);
    const dbUrl = await createDatabase(DB_KIND, dir);
    const port = await freePort();
    const env = {
      DATABASE_URL: dbUrl,
      SMARTMARKET_DATA_DIR: path.join(dir, 'data'),
      SMARTMARKET_STATIC_DIR: path.join(dir, 'static'),
      SMARTMARKET_LISTEN: `127.0.0.1:${port}`,
      SMARTMARKET_WORKERS: '1',
      BEAT_LEASE_SECONDS: String(LEASE_S),
      SHUTDOWN_TIMEOUT_MS: '3000',
    };
    const p = new Proc(['run'], env, 'run');
    await p.waitFor('beat: leader acquired', 20000);
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i += 1) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/health/live/`);
        status = r.status;
        await r.arrayBuffer();
      } catch { await sleep(50); }
    }
    assert.equal(status, 200, p.tail());
    // A standalone beat stands by while run's beat leads.
    const standby = new Proc(['beat'], env, 'standby');
    await standby.waitFor('beat: started', 10000);
    await sleep(500);
    assert.equal(standby.has('beat: leader acquired'), false);
    await p.stop();
    assert.ok(p.has('beat: leader released'), p.tail());
    await standby.waitFor('beat: leader acquired', LEASE_S * 1000);
    await standby.stop();
  });
});
