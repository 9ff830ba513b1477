// commands.test.js — the operator contract of the binary: --help and exit
// statuses, configuration errors naming the variable, migrate,
// createsuperuser, seed, healthcheck, version.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, after } from 'node:test';
import {
  test, startServer, runCommand, createDatabase, makeTempDir, freePort, DB_KIND, VERSION, SECRET_KEY, uid,
} from './lib/harness.js';

const COMMANDS = ['run', 'serve', 'migrate', 'createsuperuser', 'seed', 'healthcheck', 'version'];

/** A fresh database and data dir, with an env for commands against it. */
async function freshEnv(extra = {}) {
  const dir = makeTempDir();
  const dbUrl = await createDatabase(DB_KIND, dir);
  const env = { DATABASE_URL: dbUrl, SMARTMARKET_DATA_DIR: path.join(dir, 'data'), SECRET_KEY, ...extra };
  return { dir, dbUrl, env };
}

describe('commands', () => {
  const dirs = [];
  after(() => { if (!process.env.SM_E2E_KEEP) for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

  test('smartmarket --help lists every command and exits 0', async () => {
    const r = await runCommand(['--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`\\b${c}\\b`), `--help mentions ${c}`);
  });

  for (const c of COMMANDS) {
    test(`smartmarket ${c} --help exits 0 with usage on stdout`, async () => {
      const r = await runCommand([c, '--help'], { timeoutMs: 10000 });
      assert.equal(r.code, 0, `${c} --help: code ${r.code} ${r.stderr}`);
      assert.ok(r.stdout.length > 0, `${c} --help prints usage on stdout`);
      assert.match(r.stdout, new RegExp(c), `${c} --help names the command`);
    });
  }

  test('an unknown command exits 2 naming it', async () => {
    const r = await runCommand(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /frobnicate/);
  });

  test('no command at all exits 2 with usage', async () => {
    const r = await runCommand([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Usage/i);
  });

  test('an unknown option exits 2', async () => {
    const r = await runCommand(['migrate', '--no-such-option']);
    assert.equal(r.code, 2, `${r.code} ${r.stderr}`);
    assert.ok(r.stderr.trim().length > 0);
  });

  test('version prints the version and exits 0', async () => {
    const r = await runCommand(['version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(VERSION.replace(/\./g, '\\.')));
    const r2 = await runCommand(['--version']);
    assert.equal(r2.code, 0);
    assert.match(r2.stdout, new RegExp(VERSION.replace(/\./g, '\\.')));
  });

  test('SMARTMARKET_WORKERS=lots: serve exits non-zero naming the variable', async () => {
    const { dir, env } = await freshEnv({ SMARTMARKET_WORKERS: 'lots', SMARTMARKET_LISTEN: `127.0.0.1:${await freePort()}` });
    dirs.push(dir);
    const r = await runCommand(['serve'], { env, timeoutMs: 10000 });
    assert.notEqual(r.signal, 'SIGKILL', 'serve did not exit on a bad configuration');
    assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, /SMARTMARKET_WORKERS/);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line on stderr: ${r.stderr}`);
  });

  test('other invalid values name their variable', async () => {
    const cases = [
      ['LOG_LEVEL', 'LOUD'],
      ['DATABASE_URL', 'mysql://localhost/x'],
      ['HTTP_MAX_BODY_BYTES', '-5'],
      ['SMARTMARKET_LISTEN', 'nowhere'],
      ['SECRET_KEY', 'too-short'],
    ];
    for (const [name, value] of cases) {
      const { dir, env } = await freshEnv({ [name]: value });
      dirs.push(dir);
      const r = await runCommand(['migrate'], { env, timeoutMs: 10000 });
      assert.equal(r.code, 1, `${name}=${value}: exit ${r.code} ${r.stderr}`);
      assert.match(r.stderr, new RegExp(name), `${name}=${value}: ${r.stderr}`);
    }
  });

  test('migrate is idempotent', async () => {
    const { dir, env } = await freshEnv();
    dirs.push(dir);
    const a = await runCommand(['migrate'], { env });
    assert.equal(a.code, 0, a.stderr);
    const b = await runCommand(['migrate'], { env });
    assert.equal(b.code, 0, b.stderr);
  });

  test('serve refuses an unmigrated database', async () => {
    const { dir, env } = await freshEnv({ SMARTMARKET_LISTEN: `127.0.0.1:${await freePort()}` });
    dirs.push(dir);
    const r = await runCommand(['serve'], { env, timeoutMs: 15000 });
    assert.notEqual(r.signal, 'SIGKILL', 'serve kept running on an unmigrated database');
    assert.equal(r.code, 1, `${r.code} ${r.stderr}`);
    assert.match(r.stderr + r.stdout, /migrat/i);
  });

  test('createsuperuser: usage errors exit 2, bad input exits 1, success logs in', async () => {
    const srv = await startServer({ admin: false });
    try {
      const noEmail = await srv.command(['createsuperuser', '--password-stdin'], { input: 'password-123\n' });
      assert.equal(noEmail.code, 2, noEmail.stderr);
      const short = await srv.command(['createsuperuser', '--email', 'x@e2e.test', '--password-stdin'], { input: 'short\n' });
      assert.equal(short.code, 1, short.stderr);
      assert.ok(short.stderr.trim().length > 0);
      const empty = await srv.command(['createsuperuser', '--email', 'y@e2e.test', '--password-stdin'], { input: '' });
      assert.equal(empty.code, 1, empty.stderr);
      const email = `root-${uid()}@e2e.test`;
      const ok = await srv.command(['createsuperuser', '--email', email, '--password-stdin'], { input: 'root-password-1\n' });
      assert.equal(ok.code, 0, ok.stderr);
      const dup = await srv.command(['createsuperuser', '--email', email, '--password-stdin'], { input: 'root-password-1\n' });
      assert.equal(dup.code, 1, dup.stderr);
      const { user, token } = await srv.login(email, 'root-password-1');
      assert.equal(user.role, 'admin');
      assert.equal((await srv.get('/api/users/', { token })).status, 200);
      // the trailing newline was not part of the password
      assert.equal((await srv.post('/api/auth/login/', { email, password: 'root-password-1\n' })).status, 401);
    } finally {
      await srv.stop();
    }
  });

  test('seed creates the requested counts and the server reports them', async () => {
    const { dir, dbUrl, env } = await freshEnv();
    dirs.push(dir);
    assert.equal((await runCommand(['migrate'], { env })).code, 0);
    const s = await runCommand(['seed', '--products', '50', '--users', '5', '--orders', '10', '--random-seed', '42'], { env, timeoutMs: 120000 });
    assert.equal(s.code, 0, s.stderr);
    const srv = await startServer({ dbUrl, migrate: true, admin: true });
    try {
      const list = await srv.get('/api/products/?page_size=1&active=all', { token: srv.adminToken });
      assert.equal(list.json.total, 50);
      const d = await srv.get('/health/detailed/', { token: srv.adminToken });
      assert.equal(d.json.counts.products, 50);
      assert.equal(d.json.counts.orders, 10);
      assert.equal(d.json.counts.users, 6, 'five seeded users and the admin');
      const orders = await srv.get('/api/orders/?page_size=100', { token: srv.adminToken });
      assert.equal(orders.json.total, 10);
      for (const o of orders.json.items) {
        assert.ok(o.items.length >= 1);
        assert.equal(o.total_cents, o.items.reduce((n, l) => n + l.line_total_cents, 0));
      }
    } finally {
      await srv.stop();
    }
  });

  test('seed is deterministic for a given --random-seed', async () => {
    const names = [];
    for (let i = 0; i < 2; i += 1) {
      const { dir, dbUrl, env } = await freshEnv();
      dirs.push(dir);
      assert.equal((await runCommand(['migrate'], { env })).code, 0);
      const s = await runCommand(['seed', '--products', '20', '--users', '2', '--orders', '0', '--random-seed', '7'], { env });
      assert.equal(s.code, 0, s.stderr);
      const srv = await startServer({ dbUrl });
      try {
        const r = await srv.get('/api/products/?page_size=100&sort=name&active=all', { token: srv.adminToken });
        names.push(r.json.items.map((p) => `${p.name}|${p.price_cents}|${p.stock}`));
      } finally {
        await srv.stop();
      }
    }
    assert.equal(names[0].length, 20);
    assert.deepEqual(names[0], names[1]);
  });

  test('seed rejects bad arguments with exit 2', async () => {
    const { dir, env } = await freshEnv();
    dirs.push(dir);
    const r = await runCommand(['seed', '--products', 'many'], { env });
    assert.equal(r.code, 2, `${r.code} ${r.stderr}`);
    const r2 = await runCommand(['seed', '--products', '-3'], { env });
    assert.equal(r2.code, 2, `${r2.code} ${r2.stderr}`);
  });

  test('seed prints JSON progress lines when stdout is not a terminal', async () => {
    const { dir, env } = await freshEnv();
    dirs.push(dir);
    assert.equal((await runCommand(['migrate'], { env })).code, 0);
    const s = await runCommand(['seed', '--products', '10', '--users', '1', '--orders', '1', '--random-seed', '1'], { env });
    assert.equal(s.code, 0, s.stderr);
    const lines = s.stdout.split('\n').filter(Boolean);
    assert.ok(lines.length >= 1, 'some progress output');
    for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `JSON line: ${l}`);
    assert.ok(!/\r/.test(s.stdout), 'no terminal progress bar');
  });

  test('healthcheck exits 0 against a running server and 1 when nothing listens', async () => {
    const srv = await startServer({ admin: false });
    try {
      const ok = await srv.command(['healthcheck'], { env: { SMARTMARKET_LISTEN: `127.0.0.1:${srv.port}` }, timeoutMs: 15000 });
      assert.equal(ok.code, 0, ok.stderr);
    } finally {
      await srv.stop();
    }
    const port = await freePort();
    const dataDir = makeTempDir();
    dirs.push(dataDir);
    const bad = await runCommand(['healthcheck'], { env: { SMARTMARKET_LISTEN: `127.0.0.1:${port}`, DATABASE_URL: 'sqlite:///nonexistent/x.db', SMARTMARKET_DATA_DIR: dataDir }, timeoutMs: 15000 });
    assert.equal(bad.code, 1, `${bad.code} ${bad.stderr}`);
    assert.ok(bad.stderr.trim().length > 0);
  });
});
