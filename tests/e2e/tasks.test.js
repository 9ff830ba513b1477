// tasks.test.js — the five tasks through the real binary: an order placed
// over HTTP is confirmed by e-mail over SMTP to a real server (aiosmtpd,
// lib/smtp.js) exactly once even when the job is enqueued again; without
// SMTP_URL the message lands in the .eml outbox; the daily report writes
// the same JSON/CSV files when run twice; the ML rebuild, cache purge and
// cleanup run to completion in a worker. Runs on SQLite and PostgreSQL
// (SM_TEST_DB).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, before, after } from 'node:test';
import { test, startServer, baseEnv, BIN, until } from './lib/harness.js';
import { startSmtp, decodeWords, SMTP_AVAILABLE } from './lib/smtp.js';

const live = new Set();
process.on('exit', () => { for (const c of live) { try { c.kill('SIGKILL'); } catch { /* gone */ } } });

/** `smartmarket worker` against srv's database; JSON log lines kept. */
function startWorker(srv, env = {}, queues = 'ml,emails,maintenance,reports') {
  const child = spawn(BIN, ['worker', '--queues', queues, '--concurrency', '2'], {
    env: baseEnv(srv.env(env)), stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const w = { child, lines: [], exited: new Promise((r) => child.on('close', (code, signal) => { live.delete(child); r({ code, signal }); })) };
  for (const s of [child.stdout, child.stderr]) {
    let buf = '';
    s.setEncoding('utf8').on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const raw = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let json = null;
        try { json = JSON.parse(raw); } catch { /* not JSON */ }
        w.lines.push({ raw, json });
      }
    });
  }
  w.finished = (task) => w.lines.filter((l) => l.json && l.json.msg === 'job.finish' && l.json.task === task).length;
  w.failed = (task) => w.lines.filter((l) => l.json && l.json.msg === 'job.fail' && l.json.task === task);
  w.stop = async () => { child.kill('SIGTERM'); const r = await w.exited; assert.equal(r.code, 0, w.lines.map((l) => l.raw).join('\n')); };
  return w;
}

async function enqueue(srv, task, args) {
  const r = await srv.command(['tasks', 'enqueue', task, JSON.stringify(args)]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
}

describe('tasks', { skip: !SMTP_AVAILABLE && 'no /usr/bin/python3 for the SMTP server' }, () => {
  let smtp;
  let srv;
  before(async () => {
    smtp = await startSmtp();
    srv = await startServer({ env: { SMTP_URL: smtp.url, SMTP_FROM: 'SmartMarket Boutique <shop@e2e.test>' } });
  });
  after(async () => { await srv?.stop(); await smtp?.stop(); });

  test('send_order_email: an order is confirmed over SMTP once, even when enqueued again', async () => {
    const zoe = await srv.createUser({ name: 'Zoé Client' });
    const p = await srv.createProduct({ name: 'Théière <fonte>', price_cents: 1234, stock: 10 });
    const q = await srv.createProduct({ name: 'Tasse', price_cents: 450, stock: 10 });
    const o = await srv.post('/api/orders/', { items: [{ product_id: p.id, quantity: 2 }, { product_id: q.id, quantity: 1 }] }, { token: zoe.token });
    assert.equal(o.status, 201, o.text);
    const id = o.json.id;

    const w = startWorker(srv, {}, 'emails');
    try {
      await until('the message', () => smtp.messages().length >= 1 || w.failed('send_order_email').length > 1);
      const msgs = smtp.messages();
      assert.equal(msgs.length, 1, JSON.stringify(w.failed('send_order_email')));
      const m = msgs[0];
      assert.deepEqual(m.envelope.rcpt_tos, [zoe.email]);
      assert.equal(m.envelope.mail_from, 'shop@e2e.test');
      assert.equal(decodeWords(m.headers.subject), `Your SmartMarket order #${id}`);
      assert.match(m.headers.to, new RegExp(`<${zoe.email.replace('.', '\\.')}>$`));
      assert.match(decodeWords(m.headers.to), /^Zoé Client </);
      assert.match(m.headers.from, /<shop@e2e\.test>$/);
      assert.match(m.headers['message-id'], /^<[0-9a-f]+\.\d+@e2e\.test>$/);
      assert.match(m.headers.date, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
      assert.match(m.headers['content-type'], /^multipart\/alternative; boundary=/);
      assert.ok(m.text.includes('2 x Théière <fonte> @ EUR 12.34 = EUR 24.68\r\n'), m.text);
      assert.ok(m.text.includes('1 x Tasse @ EUR 4.50 = EUR 4.50\r\n'), m.text);
      assert.ok(m.text.includes('Total: EUR 29.18'), m.text);
      assert.ok(m.html.includes('Théière &lt;fonte&gt;'), m.html);
      assert.ok(m.html.includes('EUR 29.18'), m.html);

      // The replay: a new job for the same order sends nothing.
      const before = w.finished('send_order_email');
      await enqueue(srv, 'send_order_email', { order_id: id });
      await until('the replayed job', () => w.finished('send_order_email') > before);
      assert.equal(smtp.messages().length, 1);
    } finally {
      await w.stop();
    }
  });

  test('rebuild_ml_indexes, purge_cache and cleanup_old_data finish in a worker', async () => {
    const w = startWorker(srv);
    try {
      for (const t of ['rebuild_ml_indexes', 'purge_cache', 'cleanup_old_data']) await enqueue(srv, t, {});
      await until('three jobs', () => ['rebuild_ml_indexes', 'purge_cache', 'cleanup_old_data'].every((t) => w.finished(t) >= 1));
      const rebuilt = w.lines.find((l) => l.json && l.json.msg === 'ml index rebuilt');
      assert.ok(rebuilt && rebuilt.json.products >= 2, JSON.stringify(rebuilt?.json));
    } finally {
      await w.stop();
    }
  });
});

describe('tasks without SMTP_URL', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  test('send_order_email writes one .eml to the outbox; the daily report is idempotent', async () => {
    const u = await srv.createUser({ name: 'Outbox Reader' });
    const p = await srv.createProduct({ name: 'Lamp', price_cents: 4000, stock: 5 });
    const o = await srv.post('/api/orders/', { items: [{ product_id: p.id, quantity: 1 }] }, { token: u.token });
    assert.equal(o.status, 201, o.text);
    const outbox = path.join(srv.dir, 'data', 'outbox');
    const reports = path.join(srv.dir, 'data', 'reports');
    const today = new Date().toISOString().slice(0, 10);

    const w = startWorker(srv);
    try {
      await until('the .eml', () => fs.existsSync(outbox) && fs.readdirSync(outbox).some((f) => f.endsWith('.eml')));
      const files = fs.readdirSync(outbox);
      assert.equal(files.length, 1, files.join(','));
      const eml = fs.readFileSync(path.join(outbox, files[0]), 'utf8');
      assert.match(eml, new RegExp(`^To: "Outbox Reader" <${u.email.replace('.', '\\.')}>\\r$`, 'm'));
      assert.ok(eml.includes(`Message-ID: <${files[0].replace(/\.eml$/, '')}>`));

      await enqueue(srv, 'generate_daily_report', { date: today });
      await until('the report', () => w.finished('generate_daily_report') >= 1);
      const json1 = fs.readFileSync(path.join(reports, `daily-${today}.json`), 'utf8');
      const csv1 = fs.readFileSync(path.join(reports, `daily-${today}.csv`), 'utf8');
      const r = JSON.parse(json1);
      assert.equal(r.date, today);
      assert.equal(r.orders, 1);
      assert.deepEqual(r.revenue, [{ currency: 'EUR', orders: 1, total_cents: 4000 }]);
      assert.ok(r.new_users >= 2); // the admin and this customer
      assert.ok(csv1.startsWith('section,key,name,currency,count,amount_cents\r\n'));

      await enqueue(srv, 'generate_daily_report', { date: today });
      await until('the second report', () => w.finished('generate_daily_report') >= 2);
      assert.equal(fs.readFileSync(path.join(reports, `daily-${today}.json`), 'utf8'), json1);
      assert.equal(fs.readFileSync(path.join(reports, `daily-${today}.csv`), 'utf8'), csv1);
      assert.deepEqual(fs.readdirSync(reports).sort(), [`daily-${today}.csv`, `daily-${today}.json`]);
    } finally {
      await w.stop();
    }
  });
});
