// harness.js — starts the real `smartmarket` binary for black-box tests.
//
// Each test file starts one or more servers with startServer(): a fresh
// database (a SQLite file in a temp dir, or a fresh PostgreSQL database made
// with scripts/pg.sh createdb when SM_TEST_DB=postgres), `smartmarket
// migrate`, an admin from `createsuperuser --password-stdin`, then
// `smartmarket serve` as a child process on a free 127.0.0.1 port. Its stdout
// (JSON log lines) is kept in memory for assertions and printed when a test
// fails; stop() sends SIGTERM and insists on a clean exit 0.
//
// Environment read here (scripts/test.sh sets it):
//   SM_BIN                 the binary (default build/smartmarket)
//   SM_TEST_DB             sqlite (default) | postgres
//   SM_PG_DIR, SM_PG_PORT  the throwaway cluster for `pg.sh createdb`
//   SM_PG_URL              a superuser URL to that cluster (maintenance db)
//   SM_E2E_TIMEOUT_SCALE   multiply every timeout (3 under ASan)
//   SM_E2E_KEEP=1          keep temp dirs (logs, database) after the run
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BIN = path.resolve(ROOT, process.env.SM_BIN || 'build/smartmarket');
export const DB_KIND = process.env.SM_TEST_DB || 'sqlite';
export const SCALE = Number(process.env.SM_E2E_TIMEOUT_SCALE || 1) || 1;
export const SECRET_KEY = 'e2e-secret-key-0123456789abcdef-0123456789abcdef';
export const ADMIN_EMAIL = 'admin@e2e.test';
export const ADMIN_PASSWORD = 'admin-password-e2e-1';
export const VERSION = (() => {
  const h = fs.readFileSync(path.join(ROOT, 'src/version.h'), 'utf8');
  return /SM_VERSION\s+"([^"]+)"/.exec(h)[1];
})();

// Every path template of docs/API.md that the tests call; openapi.json must
// list each of them (http-protocol.test.js checks).
export const API_PATHS = [
  '/health/live/',
  '/health/ready/',
  '/health/detailed/',
  '/api/auth/register/',
  '/api/auth/login/',
  '/api/auth/logout/',
  '/api/auth/me/',
  '/api/users/',
  '/api/users/{id}/',
  '/api/categories/',
  '/api/products/',
  '/api/products/{id}/',
  '/api/orders/',
  '/api/orders/{id}/',
  '/api/orders/{id}/status/',
  '/api/admin/stats/products/',
];

const liveServers = new Set();
let seq = 0;

export function uid() {
  seq += 1;
  return `${process.pid}-${Date.now().toString(36)}-${seq}-${Math.random().toString(36).slice(2, 7)}`;
}

/** Resolves to p's value, or to 'timeout' after ms (the timer never outlives the race). */
export async function withTimeout(p, ms) {
  let timer;
  const t = new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), ms); });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls fn() every 50 ms until it returns a truthy value, which it returns;
 * fails naming `what` after ms (times SCALE). For anything another process
 * does in its own time: a worker registering, a log line reaching the pipe.
 */
export async function until(what, fn, ms = 20000) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms * SCALE) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => { setTimeout(r, 50); });
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A free TCP port on 127.0.0.1 (released before returning; the caller retries on a race). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function makeTempDir(prefix = 'sm-e2e-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function execFileP(file, args, opts = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 60000 * SCALE, ...opts }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A fresh, empty database URL of the given kind. */
export async function createDatabase(kind, dir) {
  // sqlite:///ABSOLUTE → "sqlite:////tmp/…" (config.c: three slashes, then the path).
  if (kind === 'sqlite') return `sqlite:///${path.join(dir, 'smartmarket.db')}`;
  if (kind !== 'postgres') throw new Error(`SM_TEST_DB=${kind}: expected sqlite or postgres`);
  const { SM_PG_DIR, SM_PG_PORT } = process.env;
  if (!SM_PG_DIR || !SM_PG_PORT) throw new Error('postgres tests need SM_PG_DIR and SM_PG_PORT (scripts/test.sh sets them)');
  const name = `e2e_${uid().replace(/[^a-z0-9]/gi, '_').toLowerCase()}`;
  const r = await execFileP('sh', [path.join(ROOT, 'scripts/pg.sh'), 'createdb', SM_PG_DIR, SM_PG_PORT, name]);
  const url = r.stdout.trim().split('\n').pop();
  if (r.code !== 0 || !/^postgres(ql)?:\/\//.test(url || '')) {
    throw new Error(`pg.sh createdb failed (${r.code}): ${r.stderr}${r.stdout}`);
  }
  return url;
}

/** Runs psql against the throwaway cluster's maintenance database. */
export async function psqlAdmin(sql) {
  const url = process.env.SM_PG_URL;
  if (!url) throw new Error('SM_PG_URL is not set');
  const r = await execFileP('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql]);
  if (r.code !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return r.stdout.trim();
}

export function pgAvailable() {
  return Boolean(process.env.SM_PG_DIR && process.env.SM_PG_PORT && process.env.SM_PG_URL);
}

/** The environment handed to the binary: nothing inherited but what tools need. */
export function baseEnv(extra = {}) {
  const env = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'TZ']) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  return { ...env, SECRET_KEY, LOG_LEVEL: 'INFO', ...extra };
}

/**
 * Runs `smartmarket ARGS` to completion.
 * Returns {code, signal, stdout, stderr}; never rejects on a non-zero exit.
 */
export function runCommand(args, { env = {}, input, timeoutMs = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { env: baseEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs * SCALE);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // the command may exit without reading stdin
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/** Parses Set-Cookie lines into {name: {value, attrs:{lowercased: value|true}}}. */
export function parseSetCookies(lines) {
  const out = {};
  for (const line of lines || []) {
    const [first, ...rest] = line.split(';');
    const eq = first.indexOf('=');
    const name = first.slice(0, eq).trim();
    const attrs = {};
    for (const a of rest) {
      const i = a.indexOf('=');
      if (i < 0) attrs[a.trim().toLowerCase()] = true;
      else attrs[a.slice(0, i).trim().toLowerCase()] = a.slice(i + 1).trim();
    }
    out[name] = { value: first.slice(eq + 1).trim(), attrs };
  }
  return out;
}

export class Server {
  constructor({ dir, dbUrl, env, kind }) {
    this.dir = dir;
    this.dbUrl = dbUrl;
    this.kind = kind;
    this.extraEnv = env;
    this.logs = []; // {raw, json|null, stream}
    this.proc = null;
    this.exit = null; // {code, signal} once exited
    this.port = 0;
    this.url = '';
    this.adminToken = null;
  }

  env(extra = {}) {
    return {
      DATABASE_URL: this.dbUrl,
      SMARTMARKET_DATA_DIR: path.join(this.dir, 'data'),
      SMARTMARKET_STATIC_DIR: path.join(this.dir, 'static'),
      SMARTMARKET_WORKERS: '2',
      // The suites log in many times from 127.0.0.1; the rate-limit tests lower these.
      LOGIN_MAX_PER_IP: '100000',
      LOGIN_MAX_FAILURES: '1000',
      ...this.extraEnv,
      ...extra,
    };
  }

  /** Runs a command against this server's database and configuration. */
  command(args, opts = {}) {
    return runCommand(args, { ...opts, env: this.env({ SMARTMARKET_LISTEN: `127.0.0.1:${this.port || 1}`, ...(opts.env || {}) }) });
  }

  async spawn() {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      this.port = await freePort();
      this.url = `http://127.0.0.1:${this.port}`;
      this.exit = null;
      const child = spawn(BIN, ['serve'], {
        env: baseEnv(this.env({ SMARTMARKET_LISTEN: `127.0.0.1:${this.port}` })),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.proc = child;
      this.exited = new Promise((resolve) => {
        child.on('close', (code, signal) => {
          this.exit = { code, signal };
          resolve(this.exit);
        });
      });
      child.on('error', (e) => this.pushLog(`spawn error: ${e.message}`, 'stderr'));
      this.capture(child.stdout, 'stdout');
      this.capture(child.stderr, 'stderr');
      liveServers.add(this);
      try {
        await this.waitLive();
        return;
      } catch (e) {
        const text = this.logs.map((l) => l.raw).join('\n');
        if (this.exit && /address already in use|EADDRINUSE|bind/i.test(text) && attempt < 2) continue;
        throw e;
      }
    }
  }

  capture(stream, name) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.pushLog(buf.slice(0, i), name);
        buf = buf.slice(i + 1);
      }
    });
    stream.on('end', () => { if (buf) this.pushLog(buf, name); });
  }

  pushLog(raw, stream) {
    let json = null;
    try { json = JSON.parse(raw); } catch { /* not JSON: kept raw */ }
    this.logs.push({ raw, json, stream });
    fs.appendFileSync(path.join(this.dir, 'server.log'), `${raw}\n`);
  }

  logTail(n = 40) {
    return this.logs.slice(-n).map((l) => `  [${l.stream}] ${l.raw}`).join('\n');
  }

  /** JSON log lines whose correlation id is `id`. */
  logsFor(id) {
    return this.logs.filter((l) => l.json && (l.json.correlation_id === id || l.json.request_id === id));
  }

  async waitLive() {
    const deadline = Date.now() + 20000 * SCALE;
    while (Date.now() < deadline) {
      if (this.exit) {
        throw new Error(`smartmarket serve exited (${JSON.stringify(this.exit)}) before /health/live/ answered:\n${this.logTail()}`);
      }
      try {
        const r = await fetch(`${this.url}/health/live/`, { signal: AbortSignal.timeout(1000 * SCALE) });
        await r.arrayBuffer();
        if (r.status === 200) return;
      } catch { /* not listening yet */ }
      await sleep(50);
    }
    throw new Error(`smartmarket serve did not answer /health/live/ within ${20 * SCALE}s:\n${this.logTail()}`);
  }

  /** SIGTERM, then asserts a clean exit 0 within the drain deadline. */
  /** Sends SIGTERM once (a second one may mean "stop now" to the server). */
  terminate() {
    if (!this.terminated && !this.exit) this.proc.kill('SIGTERM');
    this.terminated = true;
  }

  async stop({ signal = 'SIGTERM' } = {}) {
    if (!this.proc) return;
    if (!this.exit) {
      if (signal === 'SIGTERM') this.terminate();
      else this.proc.kill(signal);
      const r = await withTimeout(this.exited, 15000 * SCALE);
      if (r === 'timeout') {
        this.proc.kill('SIGKILL');
        await this.exited;
        throw new Error(`smartmarket serve did not exit within ${15 * SCALE}s of ${signal}:\n${this.logTail()}`);
      }
    }
    const { code, signal: sig } = this.exit;
    if (code !== 0 || sig !== null) {
      throw new Error(`smartmarket serve exited with code ${code}, signal ${sig} (expected a clean 0):\n${this.logTail()}`);
    }
    liveServers.delete(this);
    if (!process.env.SM_E2E_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * One HTTP request with fetch. opts: json (serialised, Content-Type set),
   * body (string/Buffer, sent as is), token (Bearer), cookie, headers.
   * Resolves {status, headers, text, json, cookies, setCookie}.
   */
  async request(method, urlPath, opts = {}) {
    const headers = { ...(opts.headers || {}) };
    let { body } = opts;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
    } else if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['Content-Type'] = 'application/json';
    }
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    if (opts.cookie) headers.Cookie = opts.cookie;
    const res = await fetch(this.url + urlPath, {
      method,
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout((opts.timeoutMs || 30000) * SCALE),
    });
    const buf = Buffer.from(await res.arrayBuffer());
    const text = buf.toString('utf8');
    let json;
    if ((res.headers.get('content-type') || '').includes('application/json') && text.length) {
      try { json = JSON.parse(text); } catch { json = undefined; }
    }
    // getSetCookie() is Node >= 18.14/20; older fetches join the values.
    const setCookie = typeof res.headers.getSetCookie === 'function'
      ? res.headers.getSetCookie()
      : (res.headers.get('set-cookie') || '').split(/,(?=\s*[A-Za-z0-9_-]+=)/).filter(Boolean);
    return { status: res.status, headers: res.headers, text, body: buf, json, setCookie, cookies: parseSetCookies(setCookie) };
  }

  get(p, o) { return this.request('GET', p, o); }
  post(p, json, o = {}) { return this.request('POST', p, { ...o, json }); }
  patch(p, json, o = {}) { return this.request('PATCH', p, { ...o, json }); }
  del(p, o) { return this.request('DELETE', p, o); }

  async login(email, password) {
    const r = await this.post('/api/auth/login/', { email, password });
    assert.equal(r.status, 200, `login ${email}: ${r.status} ${r.text}`);
    return { token: r.json.token, user: r.json.user, cookies: r.cookies, res: r };
  }

  /** Registers (and logs in) a user; staff/admin roles are granted by the admin. */
  async createUser({ role = 'customer', email, password = 'password-123', name = 'E2E User' } = {}) {
    const mail = email || `user-${uid()}@e2e.test`;
    const r = await this.post('/api/auth/register/', { email: mail, password, name });
    assert.equal(r.status, 201, `register ${mail}: ${r.status} ${r.text}`);
    const { id } = r.json.user;
    if (role !== 'customer') {
      const p = await this.patch(`/api/users/${id}/`, { role }, { token: this.adminToken });
      assert.equal(p.status, 200, `grant ${role}: ${p.status} ${p.text}`);
    }
    const { token, user } = await this.login(mail, password);
    return { id, email: mail, password, name, token, user };
  }

  async createCategory(fields, token = this.adminToken) {
    const r = await this.post('/api/categories/', fields, { token });
    assert.equal(r.status, 201, `create category: ${r.status} ${r.text}`);
    return r.json;
  }

  async createProduct(fields = {}, token = this.adminToken) {
    const body = { name: `Product ${uid()}`, price_cents: 1000, stock: 10, ...fields };
    const r = await this.post('/api/products/', body, { token });
    assert.equal(r.status, 201, `create product: ${r.status} ${r.text}`);
    return r.json;
  }

  async product(id, token = this.adminToken) {
    const r = await this.get(`/api/products/${id}/`, { token });
    assert.equal(r.status, 200, `get product ${id}: ${r.status} ${r.text}`);
    return r.json;
  }
}

/**
 * Starts a server. opts: env (extra variables), kind ('sqlite'|'postgres'),
 * migrate (default true), admin (default true: createsuperuser + login),
 * staticFiles ({name: content}) written into SMARTMARKET_STATIC_DIR.
 */
export async function startServer(opts = {}) {
  const kind = opts.kind || DB_KIND;
  const dir = makeTempDir();
  fs.mkdirSync(path.join(dir, 'data'));
  fs.mkdirSync(path.join(dir, 'static'));
  for (const [name, content] of Object.entries(opts.staticFiles || {})) {
    fs.mkdirSync(path.dirname(path.join(dir, 'static', name)), { recursive: true });
    fs.writeFileSync(path.join(dir, 'static', name), content);
  }
  const dbUrl = opts.dbUrl || (await createDatabase(kind, dir));
  const srv = new Server({ dir, dbUrl, env: opts.env || {}, kind });
  if (opts.migrate !== false) {
    const m = await srv.command(['migrate']);
    if (m.code !== 0) throw new Error(`smartmarket migrate failed (${m.code}):\n${m.stderr}${m.stdout}`);
  }
  if (opts.admin !== false && opts.migrate !== false) {
    const c = await srv.command(['createsuperuser', '--email', ADMIN_EMAIL, '--password-stdin'], { input: `${ADMIN_PASSWORD}\n` });
    if (c.code !== 0) throw new Error(`smartmarket createsuperuser failed (${c.code}):\n${c.stderr}${c.stdout}`);
  }
  await srv.spawn();
  if (opts.admin !== false && opts.migrate !== false) {
    srv.adminToken = (await srv.login(ADMIN_EMAIL, ADMIN_PASSWORD)).token;
  }
  return srv;
}

/** Kills whatever servers a failed file left running (used by the test wrapper). */
export function dumpServerLogs(title) {
  for (const s of liveServers) {
    const state = s.exit ? `EXITED ${JSON.stringify(s.exit)}${s.terminated ? '' : ' without a SIGTERM from the tests'}` : 'running';
    process.stderr.write(`\n--- server log (${s.url}, ${s.dir}, ${state}) after failure of "${title}" ---\n${s.logTail(25)}\n---\n`);
  }
}

/** node:test's test() whose failures print the running servers' recent log lines. */
export function test(name, optsOrFn, maybeFn) {
  const fn = typeof optsOrFn === 'function' ? optsOrFn : maybeFn;
  const opts = typeof optsOrFn === 'function' ? {} : optsOrFn;
  return nodeTest(name, { timeout: 60000 * SCALE, ...opts }, async (t) => {
    try {
      return await fn(t);
    } catch (e) {
      dumpServerLogs(name);
      throw e;
    }
  });
}

process.on('exit', () => {
  for (const s of liveServers) { try { s.proc.kill('SIGKILL'); } catch { /* gone */ } }
});

// ---- assertions ----

/** Asserts the standard error body with `status` and `code`. */
export function assertError(res, status, code, msg = '') {
  assert.equal(res.status, status, `${msg} expected ${status} ${code}, got ${res.status}: ${res.text}`);
  assert.ok(res.json && res.json.error, `${msg} expected an {"error":…} JSON body, got: ${res.text}`);
  assert.equal(res.json.error.code, code, `${msg} error.code: ${res.text}`);
  assert.equal(typeof res.json.error.message, 'string', `${msg} error.message must be a string`);
  assert.ok(res.json.error.message.length > 0, `${msg} error.message must not be empty`);
}

/** Asserts 400 validation_error whose details name each of `fields`. */
export function assertValidation(res, fields, msg = '') {
  assertError(res, 400, 'validation_error', msg);
  const details = res.json.error.details;
  assert.ok(details && typeof details === 'object', `${msg} validation_error needs details: ${res.text}`);
  for (const f of [].concat(fields)) {
    const hit = Object.keys(details).some((k) => k === f || k.startsWith(`${f}.`) || k.startsWith(`${f}[`));
    assert.ok(hit, `${msg} details should name "${f}": ${JSON.stringify(details)}`);
  }
}

export const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
