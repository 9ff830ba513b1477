// raw.js — HTTP/1.1 over a bare socket, for what fetch cannot express:
// pipelining, malformed requests, header floods, slow clients, and exact
// byte-level control of chunked bodies. parseResponses() reads back-to-back
// responses from the bytes received.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SCALE } from './harness.js';

/**
 * Connects to 127.0.0.1:port, writes each of `chunks` (waiting `delayMs`
 * between them, stopping early if the server closes), and collects what
 * comes back until the server closes or `timeoutMs` passes.
 * Resolves {data: Buffer, closed: bool (by the server), elapsedMs, error}.
 */
export function exchange(port, chunks, { delayMs = 0, timeoutMs = 5000, untilResponses = 0, halfClose = false } = {}) {
  return new Promise((resolve) => {
    const start = Date.now();
    const sock = net.connect(port, '127.0.0.1');
    const parts = [];
    let closed = false;
    let error = null;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(parts), closed, elapsedMs: Date.now() - start, error });
    };
    const timer = setTimeout(finish, timeoutMs * SCALE);
    sock.on('data', (d) => {
      parts.push(d);
      if (untilResponses && parseResponses(Buffer.concat(parts)).complete >= untilResponses) finish();
    });
    sock.on('error', (e) => { error = e; });
    sock.on('close', () => { closed = true; finish(); });
    sock.on('connect', async () => {
      for (let i = 0; i < chunks.length; i += 1) {
        if (closed || done) break;
        if (i > 0 && delayMs) await sleep(delayMs);
        if (closed || done) break;
        sock.write(chunks[i]);
      }
      if (halfClose && !closed && !done) sock.end();
    });
  });
}

/** Convenience: a request's bytes. headers is an array of [name, value]. */
export function requestBytes(method, path, headers = [], body = '') {
  let s = `${method} ${path} HTTP/1.1\r\n`;
  for (const [k, v] of headers) s += `${k}: ${v}\r\n`;
  s += '\r\n';
  return Buffer.concat([Buffer.from(s, 'latin1'), Buffer.from(body)]);
}

/**
 * Parses consecutive HTTP/1.1 responses. Returns {responses, complete, rest}
 * where each response is {status, reason, headers (lower-cased names; repeated
 * ones joined with ", "), rawHeaders ([[name, value]]), body: Buffer}.
 * `headMethods` lists, in order, which responses answer a HEAD (no body).
 */
export function parseResponses(buf, headMethods = []) {
  const responses = [];
  let off = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', off);
    if (end < 0) break;
    const head = buf.subarray(off, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(head[0]);
    if (!m) break;
    const headers = {};
    const rawHeaders = [];
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      const k = line.slice(0, i).trim().toLowerCase();
      const v = line.slice(i + 1).trim();
      rawHeaders.push([k, v]);
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
    const status = Number(m[1]);
    let p = end + 4;
    let body = Buffer.alloc(0);
    const noBody = headMethods[responses.length] || status === 204 || status === 304 || (status >= 100 && status < 200);
    if (noBody) {
      // nothing
    } else if (/chunked/i.test(headers['transfer-encoding'] || '')) {
      const pieces = [];
      let ok = false;
      for (;;) {
        const le = buf.indexOf('\r\n', p);
        if (le < 0) break;
        const size = parseInt(buf.subarray(p, le).toString('latin1'), 16);
        if (Number.isNaN(size)) break;
        if (size === 0) {
          const te = buf.indexOf('\r\n\r\n', le);
          if (te < 0 && buf.length < le + 4) break;
          p = te >= 0 ? te + 4 : le + 4;
          ok = true;
          break;
        }
        if (buf.length < le + 2 + size + 2) break;
        pieces.push(buf.subarray(le + 2, le + 2 + size));
        p = le + 2 + size + 2;
      }
      if (!ok) break;
      body = Buffer.concat(pieces);
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (buf.length < p + n) break;
      body = buf.subarray(p, p + n);
      p += n;
    } else {
      body = buf.subarray(p);
      p = buf.length;
    }
    responses.push({ status, reason: m[2], headers, rawHeaders, body, json: tryJson(body) });
    off = p;
  }
  return { responses, complete: responses.length, rest: buf.subarray(off) };
}

function tryJson(body) {
  try { return JSON.parse(body.toString('utf8')); } catch { return undefined; }
}
