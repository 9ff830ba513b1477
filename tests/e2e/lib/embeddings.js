// embeddings.js — a stand-in for an OpenAI-compatible embeddings service
// (POST /v1/embeddings), the one outside dependency the tests may replace:
// a real HTTP server on 127.0.0.1 speaking the same API, with deterministic
// vectors so that related texts are close.
//
// A text's vector is a hashed bag of words: each distinct word (lower-cased,
// accents kept, a few synonyms mapped to one word so that "casque" and
// "headphones" mean the same) adds ±1 at a hashed coordinate of DIM, plus a
// small constant so no vector is zero. `mode` switches the answers to the
// failures a real service shows: 'http500', 'malformed' (not JSON),
// 'wrongdim' (one vector shorter), 'missing' (one vector short), 'slow'
// (answers after `slowMs`), 'shuffled' (data in reverse order, with index).
// stats counts requests and inputs and keeps the last request's headers.
import http from 'node:http';

export const DIM = 64;

const SYNONYMS = {
  casque: 'headphones',
  headphone: 'headphones',
  earphones: 'headphones',
  écouteurs: 'headphones',
  bouilloire: 'kettle',
  carnet: 'notebook',
};

function hash(s) {
  let h = 2166136261;
  for (const ch of Buffer.from(s, 'utf8')) {
    h ^= ch;
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h;
}

export function embed(text) {
  const v = new Array(DIM).fill(0);
  v[0] = 0.05;
  const words = new Set((text.toLowerCase().match(/[\p{L}\p{N}]+/gu) || []).map((w) => SYNONYMS[w] || w));
  for (const w of words) {
    const h = hash(w);
    v[1 + (h % (DIM - 1))] += (h >>> 31) ? -1 : 1;
  }
  return v;
}

export async function startEmbeddings() {
  const state = {
    mode: 'ok',
    slowMs: 3000,
    stats: { requests: 0, inputs: 0, models: new Set(), maxBatch: 0, authorization: null },
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      state.stats.requests += 1;
      state.stats.authorization = req.headers.authorization || null;
      if (req.method !== 'POST' || req.url !== '/v1/embeddings') {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
        return;
      }
      let input;
      let model;
      try {
        ({ input, model } = JSON.parse(body));
      } catch {
        res.writeHead(400);
        res.end('{"error":{"message":"bad JSON"}}');
        return;
      }
      const texts = Array.isArray(input) ? input : [input];
      state.stats.inputs += texts.length;
      state.stats.maxBatch = Math.max(state.stats.maxBatch, texts.length);
      state.stats.models.add(model);
      const send = (status, text) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(text);
      };
      let data = texts.map((t, i) => ({ object: 'embedding', index: i, embedding: embed(t) }));
      switch (state.mode) {
        case 'http500': send(500, '{"error":{"message":"stand-in is down"}}'); return;
        case 'malformed': send(200, '{"data": [{"index": 0, "embedding": [0.1, 0.2'); return;
        case 'wrongdim': data[data.length - 1].embedding.pop(); break;
        case 'missing': data = data.slice(1); break;
        case 'shuffled': data.reverse(); break;
        case 'slow': setTimeout(() => send(200, JSON.stringify({ object: 'list', data, model })), state.slowMs); return;
        default: break;
      }
      send(200, JSON.stringify({ object: 'list', data, model, usage: { prompt_tokens: 0, total_tokens: 0 } }));
    });
  });
  await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    setMode(mode) { state.mode = mode; },
    resetStats() { Object.assign(state.stats, { requests: 0, inputs: 0, maxBatch: 0, models: new Set() }); },
    close() {
      server.closeAllConnections?.();
      return new Promise((resolve) => { server.close(() => resolve()); });
    },
  };
}
