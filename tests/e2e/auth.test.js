// auth.test.js — registration, login (token and cookie session), CSRF,
// logout, deactivation, login rate limits, and the admin user endpoints.
import assert from 'node:assert/strict';
import { describe, before, after } from 'node:test';
import {
  test, startServer, assertError, assertValidation, uid, ISO_TIME, ADMIN_EMAIL,
} from './lib/harness.js';

const USER_KEYS = ['created_at', 'email', 'id', 'is_active', 'name', 'role'];
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

describe('auth', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  test('register creates a customer and returns exactly the public user fields', async () => {
    const email = `new-${uid()}@e2e.test`;
    const r = await srv.post('/api/auth/register/', { email, password: 'correct-horse', name: 'Zoë Brûlé' });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(Object.keys(r.json.user).sort(), USER_KEYS);
    assert.equal(r.json.user.email, email);
    assert.equal(r.json.user.name, 'Zoë Brûlé');
    assert.equal(r.json.user.role, 'customer');
    assert.equal(r.json.user.is_active, true);
    assert.ok(Number.isInteger(r.json.user.id) && r.json.user.id > 0);
    assert.match(r.json.user.created_at, ISO_TIME);
    assert.ok(!/password|hash/i.test(r.text), 'no password or hash in the response');
  });

  test('register without a name works (name is optional)', async () => {
    const r = await srv.post('/api/auth/register/', { email: `noname-${uid()}@e2e.test`, password: 'password-123' });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.user.role, 'customer');
  });

  test('register rejects an email taken in another case with 409 conflict', async () => {
    const email = `dup-${uid()}@e2e.test`;
    assert.equal((await srv.post('/api/auth/register/', { email, password: 'password-123' })).status, 201);
    assertError(await srv.post('/api/auth/register/', { email: email.toUpperCase(), password: 'password-123' }), 409, 'conflict');
  });

  test('register validates password length 8..128', async () => {
    assertValidation(await srv.post('/api/auth/register/', { email: `a-${uid()}@e2e.test`, password: 'short12' }), 'password');
    assertValidation(await srv.post('/api/auth/register/', { email: `a-${uid()}@e2e.test`, password: 'x'.repeat(129) }), 'password');
    const ok = await srv.post('/api/auth/register/', { email: `a-${uid()}@e2e.test`, password: 'x'.repeat(128) });
    assert.equal(ok.status, 201, ok.text);
  });

  test('register validates the email (needs @, at most 254)', async () => {
    assertValidation(await srv.post('/api/auth/register/', { email: 'no-at-sign.example', password: 'password-123' }), 'email');
    const long = `${'a'.repeat(250)}@e.st`; // 255 characters
    assertValidation(await srv.post('/api/auth/register/', { email: long, password: 'password-123' }), 'email');
    assertValidation(await srv.post('/api/auth/register/', { password: 'password-123' }), 'email');
  });

  test('register rejects wrong types naming each field', async () => {
    const r = await srv.post('/api/auth/register/', { email: 42, password: 12345678, name: ['x'] });
    assertValidation(r, ['email', 'password', 'name']);
  });

  test('malformed JSON is 400 invalid_json', async () => {
    assertError(await srv.request('POST', '/api/auth/register/', { body: '{"email": "x@y.z", ' }), 400, 'invalid_json');
  });

  test('a JSON array body is 400 invalid_json (an object is required)', async () => {
    assertError(await srv.request('POST', '/api/auth/register/', { body: '[1,2]' }), 400, 'invalid_json');
  });

  test('an empty body is 400 invalid_json', async () => {
    assertError(await srv.request('POST', '/api/auth/login/', { body: '' }), 400, 'invalid_json');
  });

  test('a non-JSON content type is 415 unsupported_media_type', async () => {
    const r = await srv.request('POST', '/api/auth/login/', {
      body: 'email=a@b.c&password=x', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assertError(r, 415, 'unsupported_media_type');
  });

  test('application/json with a charset is accepted', async () => {
    const r = await srv.request('POST', '/api/auth/register/', {
      body: JSON.stringify({ email: `cs-${uid()}@e2e.test`, password: 'password-123' }),
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
    });
    assert.equal(r.status, 201, r.text);
  });

  test('login returns a 43-char token, expiry, user and the session + CSRF cookies', async () => {
    const u = await srv.createUser();
    const before = Date.now();
    const r = await srv.post('/api/auth/login/', { email: u.email, password: u.password });
    assert.equal(r.status, 200, r.text);
    assert.match(r.json.token, TOKEN_RE);
    assert.match(r.json.expires_at, ISO_TIME);
    const ttl = Date.parse(r.json.expires_at) - before;
    assert.ok(ttl > 86400000 - 120000 && ttl < 86400000 + 120000, `expires in TOKEN_TTL_SECONDS (86400 s), got ${ttl} ms`);
    assert.equal(r.json.user.id, u.id);
    assert.equal(r.json.user.email, u.email);
    assert.deepEqual(Object.keys(r.json.user).sort(), USER_KEYS);
    const s = r.cookies.sm_session;
    const c = r.cookies.sm_csrf;
    assert.ok(s && s.value.length >= 32, `sm_session cookie: ${r.setCookie}`);
    assert.ok(c && c.value.length >= 16, `sm_csrf cookie: ${r.setCookie}`);
    assert.equal(s.attrs.httponly, true);
    assert.equal(String(s.attrs.samesite).toLowerCase(), 'lax');
    assert.equal(s.attrs.path, '/');
    assert.equal(s.attrs.secure, undefined, 'no Secure flag over plain HTTP');
    assert.equal(c.attrs.httponly, undefined, 'sm_csrf must be readable by scripts');
    assert.notEqual(s.value, r.json.token, 'the cookie session is its own token');
  });

  test('login emails are case-insensitive', async () => {
    const u = await srv.createUser();
    const r = await srv.post('/api/auth/login/', { email: u.email.toUpperCase(), password: u.password });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.user.id, u.id);
  });

  test('bad credentials are 401 with the same message whether the email exists or not', async () => {
    const u = await srv.createUser();
    const a = await srv.post('/api/auth/login/', { email: u.email, password: 'wrong-password' });
    const b = await srv.post('/api/auth/login/', { email: `ghost-${uid()}@e2e.test`, password: 'wrong-password' });
    assertError(a, 401, 'unauthorized');
    assertError(b, 401, 'unauthorized');
    assert.equal(a.json.error.message, b.json.error.message);
  });

  test('login validates its body', async () => {
    assertValidation(await srv.post('/api/auth/login/', { email: 'a@b.c' }), 'password');
    assertValidation(await srv.post('/api/auth/login/', { email: true, password: 'x' }), 'email');
  });

  test('me returns the user for a bearer token', async () => {
    const u = await srv.createUser({ name: 'Mé Myself' });
    const r = await srv.get('/api/auth/me/', { token: u.token });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.user.id, u.id);
    assert.equal(r.json.user.name, 'Mé Myself');
    assert.deepEqual(Object.keys(r.json.user).sort(), USER_KEYS);
  });

  test('me without credentials is 401', async () => {
    assertError(await srv.get('/api/auth/me/'), 401, 'unauthorized');
  });

  test('an invalid or malformed token is 401', async () => {
    assertError(await srv.get('/api/auth/me/', { token: 'A'.repeat(43) }), 401, 'unauthorized');
    assertError(await srv.get('/api/auth/me/', { token: 'not a token' }), 401, 'unauthorized');
    assertError(await srv.get('/api/auth/me/', { headers: { Authorization: 'Basic YWRtaW46YWRtaW4=' } }), 401, 'unauthorized');
    assertError(await srv.get('/api/auth/me/', { headers: { Authorization: 'Bearer' } }), 401, 'unauthorized');
  });

  test('logout revokes the bearer token (204, then 401)', async () => {
    const u = await srv.createUser();
    const other = await srv.login(u.email, u.password); // a second token stays valid
    const r = await srv.request('POST', '/api/auth/logout/', { token: u.token });
    assert.equal(r.status, 204, r.text);
    assert.equal(r.body.length, 0);
    assertError(await srv.get('/api/auth/me/', { token: u.token }), 401, 'unauthorized');
    assert.equal((await srv.get('/api/auth/me/', { token: other.token })).status, 200);
  });

  test('logout without credentials is 401', async () => {
    assertError(await srv.request('POST', '/api/auth/logout/'), 401, 'unauthorized');
  });

  test('the session cookie authenticates safe requests without CSRF', async () => {
    const u = await srv.createUser();
    const { cookies } = await srv.login(u.email, u.password);
    const r = await srv.get('/api/auth/me/', { cookie: `sm_session=${cookies.sm_session.value}` });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.user.id, u.id);
  });

  test('a cookie-authenticated POST without X-CSRF-Token is 403 csrf_failed', async () => {
    const u = await srv.createUser();
    const { cookies } = await srv.login(u.email, u.password);
    const cookie = `sm_session=${cookies.sm_session.value}; sm_csrf=${cookies.sm_csrf.value}`;
    assertError(await srv.request('POST', '/api/auth/logout/', { cookie }), 403, 'csrf_failed');
    // a wrong token is refused too
    assertError(await srv.request('POST', '/api/auth/logout/', { cookie, headers: { 'X-CSRF-Token': 'x'.repeat(cookies.sm_csrf.value.length) } }), 403, 'csrf_failed');
    // the session survived the refused attempts
    assert.equal((await srv.get('/api/auth/me/', { cookie })).status, 200);
  });

  test('a cookie-authenticated POST with the CSRF token succeeds; logout revokes the session and clears cookies', async () => {
    const u = await srv.createUser();
    const { cookies } = await srv.login(u.email, u.password);
    const cookie = `sm_session=${cookies.sm_session.value}; sm_csrf=${cookies.sm_csrf.value}`;
    const r = await srv.request('POST', '/api/auth/logout/', { cookie, headers: { 'X-CSRF-Token': cookies.sm_csrf.value } });
    assert.equal(r.status, 204, r.text);
    const cleared = r.cookies.sm_session;
    assert.ok(cleared, `logout clears sm_session: ${r.setCookie}`);
    assert.ok(cleared.value === '' || cleared.attrs['max-age'] === '0' || /1970/.test(cleared.attrs.expires || ''), `cleared: ${r.setCookie}`);
    assertError(await srv.get('/api/auth/me/', { cookie }), 401, 'unauthorized');
  });

  test('the CSRF token of one session does not work for another', async () => {
    const u = await srv.createUser();
    const a = await srv.login(u.email, u.password);
    const b = await srv.login(u.email, u.password);
    assert.notEqual(a.cookies.sm_csrf.value, b.cookies.sm_csrf.value);
    const cookie = `sm_session=${a.cookies.sm_session.value}; sm_csrf=${b.cookies.sm_csrf.value}`;
    assertError(await srv.request('POST', '/api/auth/logout/', { cookie, headers: { 'X-CSRF-Token': b.cookies.sm_csrf.value } }), 403, 'csrf_failed');
  });

  test('a bearer-authenticated POST needs no CSRF token', async () => {
    const u = await srv.createUser();
    assert.equal((await srv.request('POST', '/api/auth/logout/', { token: u.token })).status, 204);
  });

  test('deactivating a user stops their tokens at once and blocks login', async () => {
    const u = await srv.createUser();
    assert.equal((await srv.get('/api/auth/me/', { token: u.token })).status, 200);
    const p = await srv.patch(`/api/users/${u.id}/`, { is_active: false }, { token: srv.adminToken });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.user.is_active, false);
    assertError(await srv.get('/api/auth/me/', { token: u.token }), 401, 'unauthorized');
    assertError(await srv.post('/api/auth/login/', { email: u.email, password: u.password }), 401, 'unauthorized');
  });

  test('users list: anonymous 401, customer and staff 403, admin 200', async () => {
    const cust = await srv.createUser();
    const staff = await srv.createUser({ role: 'staff' });
    assertError(await srv.get('/api/users/'), 401, 'unauthorized');
    assertError(await srv.get('/api/users/', { token: cust.token }), 403, 'forbidden');
    assertError(await srv.get('/api/users/', { token: staff.token }), 403, 'forbidden');
    const r = await srv.get('/api/users/?page_size=100', { token: srv.adminToken });
    assert.equal(r.status, 200, r.text);
    assert.ok(Array.isArray(r.json.items));
    assert.ok(r.json.items.some((x) => x.email === ADMIN_EMAIL && x.role === 'admin'));
    assert.ok(r.json.items.some((x) => x.id === staff.id && x.role === 'staff'));
    assert.equal(r.json.page, 1);
    assert.equal(r.json.page_size, 100);
    assert.ok(r.json.total >= 3);
    for (const x of r.json.items) assert.deepEqual(Object.keys(x).sort(), USER_KEYS);
  });

  test('users list filters by role and paginates', async () => {
    await srv.createUser({ role: 'staff' });
    const r = await srv.get('/api/users/?role=staff&page_size=100', { token: srv.adminToken });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.items.length >= 1);
    assert.ok(r.json.items.every((x) => x.role === 'staff'));
    assert.equal(r.json.total, r.json.items.length);
    const p = await srv.get('/api/users/?page_size=1&page=2', { token: srv.adminToken });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.items.length, 1);
    assert.equal(p.json.page, 2);
    assert.equal(p.json.pages, p.json.total);
  });

  test('users list rejects bad query parameters', async () => {
    assertValidation(await srv.get('/api/users/?page=0', { token: srv.adminToken }), 'page');
    assertValidation(await srv.get('/api/users/?page_size=101', { token: srv.adminToken }), 'page_size');
    assertValidation(await srv.get('/api/users/?role=superhero', { token: srv.adminToken }), 'role');
  });

  test('PATCH users: admin changes role and name; staff and customers get 403', async () => {
    const u = await srv.createUser();
    const staff = await srv.createUser({ role: 'staff' });
    assertError(await srv.patch(`/api/users/${u.id}/`, { role: 'admin' }, { token: u.token }), 403, 'forbidden');
    assertError(await srv.patch(`/api/users/${u.id}/`, { role: 'admin' }, { token: staff.token }), 403, 'forbidden');
    assertError(await srv.patch(`/api/users/${u.id}/`, { role: 'staff' }), 401, 'unauthorized');
    const r = await srv.patch(`/api/users/${u.id}/`, { role: 'staff', name: 'Promoted' }, { token: srv.adminToken });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.user.role, 'staff');
    assert.equal(r.json.user.name, 'Promoted');
    assert.equal(r.json.user.email, u.email);
    const me = await srv.get('/api/auth/me/', { token: u.token });
    assert.equal(me.json.user.role, 'staff');
  });

  test('PATCH users validates and 404s an unknown id', async () => {
    const u = await srv.createUser();
    assertValidation(await srv.patch(`/api/users/${u.id}/`, { role: 'god' }, { token: srv.adminToken }), 'role');
    assertValidation(await srv.patch(`/api/users/${u.id}/`, { is_active: 'no' }, { token: srv.adminToken }), 'is_active');
    assertError(await srv.patch('/api/users/99999999/', { name: 'x' }, { token: srv.adminToken }), 404, 'not_found');
  });
});

describe('login rate limits', () => {
  test('LOGIN_MAX_FAILURES=3: the 4th attempt is 429 with Retry-After, even with the right password', async () => {
    const srv = await startServer({ env: { LOGIN_MAX_FAILURES: '3', LOGIN_WINDOW_SECONDS: '600' } });
    try {
      const u = await srv.createUser();
      const other = await srv.createUser();
      for (let i = 0; i < 3; i += 1) {
        assertError(await srv.post('/api/auth/login/', { email: u.email, password: `wrong-${i}-pass` }), 401, 'unauthorized', `attempt ${i + 1}`);
      }
      const r = await srv.post('/api/auth/login/', { email: u.email, password: u.password });
      assertError(r, 429, 'rate_limited');
      const retry = Number(r.headers.get('retry-after'));
      assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 600, `Retry-After in seconds: ${r.headers.get('retry-after')}`);
      // the limit is per account: another account still logs in
      const ok = await srv.post('/api/auth/login/', { email: other.email, password: other.password });
      assert.equal(ok.status, 200, ok.text);
      // and the earlier token keeps working: the limit blocks logins, not sessions
      assert.equal((await srv.get('/api/auth/me/', { token: u.token })).status, 200);
    } finally {
      await srv.stop();
    }
  });

  test('LOGIN_MAX_FAILURES=3: of 12 parallel wrong guesses exactly 3 are tried, 9 are 429', async () => {
    const srv = await startServer({ env: { LOGIN_MAX_FAILURES: '3', LOGIN_WINDOW_SECONDS: '600' } });
    try {
      const u = await srv.createUser();
      const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => srv.post('/api/auth/login/', { email: u.email, password: `guess-${i}-pass` })));
      const statuses = rs.map((r) => r.status).sort();
      assert.deepEqual(statuses, [401, 401, 401, 429, 429, 429, 429, 429, 429, 429, 429, 429], JSON.stringify(rs.map((r) => r.text)));
      // and the right password is refused too while the lock lasts
      assertError(await srv.post('/api/auth/login/', { email: u.email, password: u.password }), 429, 'rate_limited');
    } finally {
      await srv.stop();
    }
  });

  test('LOGIN_MAX_PER_IP=5: attempts from one IP beyond the limit are 429', async () => {
    const srv = await startServer({ env: { LOGIN_MAX_PER_IP: '5', LOGIN_MAX_FAILURES: '100' }, admin: false });
    try {
      const reg = await srv.post('/api/auth/register/', { email: `ip-${uid()}@e2e.test`, password: 'password-123' });
      assert.equal(reg.status, 201, reg.text);
      for (let i = 0; i < 5; i += 1) {
        assertError(await srv.post('/api/auth/login/', { email: `nobody-${i}-${uid()}@e2e.test`, password: 'password-123' }), 401, 'unauthorized', `attempt ${i + 1}`);
      }
      const r = await srv.post('/api/auth/login/', { email: reg.json.user.email, password: 'password-123' });
      assertError(r, 429, 'rate_limited');
      assert.ok(Number(r.headers.get('retry-after')) >= 1, `Retry-After: ${r.headers.get('retry-after')}`);
    } finally {
      await srv.stop();
    }
  });
});
