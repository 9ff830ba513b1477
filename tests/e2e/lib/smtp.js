// smtp.js — a real SMTP server for the e2e tests: Debian's aiosmtpd, run by
// lib/smtp_sink.py under /usr/bin/python3 on a free 127.0.0.1 port. Every
// accepted message lands in a folder as NNNN.eml (+ NNNN.json envelope);
// messages() reads them back, parsed enough for assertions (headers and
// the decoded MIME parts).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, makeTempDir, SCALE } from './harness.js';

const SINK = path.join(path.dirname(fileURLToPath(import.meta.url)), 'smtp_sink.py');
export const SMTP_AVAILABLE = fs.existsSync('/usr/bin/python3');

/** Splits a raw message into {headers: {lower-name: value}, body}. */
function splitMessage(raw) {
  const i = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, i).replace(/\r\n[ \t]+/g, ' '); // unfold
  const headers = {};
  for (const line of head.split('\r\n')) {
    const c = line.indexOf(':');
    headers[line.slice(0, c).toLowerCase()] = line.slice(c + 1).trim();
  }
  return { headers, body: raw.slice(i + 4) };
}

/** Decodes RFC 2047 B encoded-words in a header value. */
export function decodeWords(v) {
  // whitespace between two adjacent encoded-words is not part of the text (RFC 2047 6.2)
  return v.replace(/(\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?UTF-8\?B\?([^?]*)\?=/gi, (_, b) => Buffer.from(b, 'base64').toString('utf8'));
}

/** {headers, text, html, envelope} of one raw message. */
export function parseMessage(raw, envelope = null) {
  const { headers, body } = splitMessage(raw);
  const out = { headers, raw, envelope, text: null, html: null };
  const m = /boundary="([^"]+)"/.exec(headers['content-type'] || '');
  const parts = m ? body.split(`--${m[1]}`).slice(1, -1) : [raw];
  for (const p of parts) {
    const { headers: h, body: b } = splitMessage(p.replace(/^\r\n/, ''));
    const decoded = /base64/i.test(h['content-transfer-encoding'] || '')
      ? Buffer.from(b.replace(/\s+/g, ''), 'base64').toString('utf8') : b;
    if (/text\/plain/i.test(h['content-type'] || '')) out.text = decoded;
    if (/text\/html/i.test(h['content-type'] || '')) out.html = decoded;
  }
  return out;
}

/** Spawns the sink on PORT; resolves the child once it prints READY. */
function spawnSink(dir, port) {
  const child = spawn('/usr/bin/python3', [SINK, dir, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`smtp sink did not start: ${err}`));
    }, 15000 * SCALE);
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      if (out.includes('READY')) { clearTimeout(timer); resolve(child); }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const e = new Error(`smtp sink exited ${code}: ${err}`);
      e.inUse = /address already in use|EADDRINUSE|Errno 98/i.test(err);
      reject(e);
    });
  });
}

export async function startSmtp() {
  const dir = makeTempDir('sm-smtp-');
  let child;
  let port;
  // freePort() releases its port before the sink binds it; another process
  // may take it in between, so a bind failure is retried on a new port.
  for (let attempt = 0; ; attempt += 1) {
    port = await freePort();
    try {
      child = await spawnSink(dir, port);
      break;
    } catch (e) {
      if (!e.inUse || attempt >= 2) throw e;
    }
  }
  return {
    url: `smtp://127.0.0.1:${port}`,
    dir,
    messages() {
      return fs.readdirSync(dir).filter((f) => /^\d+\.eml$/.test(f)).sort().map((f) => parseMessage(
        fs.readFileSync(path.join(dir, f), 'utf8'),
        JSON.parse(fs.readFileSync(path.join(dir, f.replace('.eml', '.json')), 'utf8')),
      ));
    },
    async stop() {
      if (child.exitCode === null) {
        const done = new Promise((r) => child.on('close', r));
        child.kill('SIGTERM');
        await done;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
