#!/usr/bin/env bash
# ws.sh — realtime fan-out benchmark (docs/REALTIME.md, docs/PERFORMANCE.md).
#
#   bench/ws.sh [CLIENTS] [ROUNDS]        defaults: 1000 clients, 20 rounds
#
# Starts `smartmarket serve` on a fresh SQLite database, connects CLIENTS idle
# WebSocket clients to /ws/admin/orders/, measures the server's RSS growth per
# idle connection, then ROUNDS times: POST /api/orders/ and, from the moment
# the POST returned, the time until every client received that order's event
# (CLOCK_MONOTONIC). Prints p50, p99 and max over all deliveries, and the RSS
# per connection, as one JSON line; exits non-zero when a delivery is missing.
#
# The clients are bench/ws_client.c (native: epoll reader threads, the POSTs
# on one keep-alive socket of the same process; see its header for what it
# checks and prints). SM_WS_CLIENT=node uses the older Node `ws` clients
# (2500 per process), whose JSON parsing dominates the figure at 10k.
# Env: SM_BIN (default build/smartmarket), SM_WORKERS (event loops, default
# auto), SM_WS_READERS (native reader threads, default 1), SM_WS_PERF=FILE
# (record `perf record -g` of the server during the rounds into FILE).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLIENTS=${1:-1000}
ROUNDS=${2:-20}
BIN=${SM_BIN:-$ROOT/build/smartmarket}
ulimit -n $((CLIENTS * 2 + 4096)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sm-wsbench.XXXXXX")
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=scripts/free-port.sh
. "$ROOT/scripts/free-port.sh"
PORT=$(free_port) || { echo "bench/ws.sh: no free port" >&2; exit 1; }
export DATABASE_URL="sqlite:///$WORK/bench.db" SMARTMARKET_DATA_DIR="$WORK/data" \
    SECRET_KEY=bench-secret-key-0123456789abcdef-0123456789 LOG_LEVEL=WARNING \
    SMARTMARKET_LISTEN="127.0.0.1:$PORT" SMARTMARKET_WORKERS="${SM_WORKERS:-auto}" \
    HTTP_MAX_CONNECTIONS=$((CLIENTS + 1000)) WS_MAX_CONNECTIONS_PER_USER=$((CLIENTS + 10)) \
    WS_MAX_CONNECTIONS_PER_IP=$((CLIENTS + 10)) LOGIN_MAX_PER_IP=100000
"$BIN" migrate >/dev/null
echo "bench-admin-password" | "$BIN" createsuperuser --email admin@bench.test --password-stdin >/dev/null
"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PORT/health/live/" >/dev/null 2>&1 && break
    sleep 0.1
done

TOKEN=$(curl -fs -H 'Content-Type: application/json' \
    -d '{"email":"admin@bench.test","password":"bench-admin-password"}' \
    "http://127.0.0.1:$PORT/api/auth/login/" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')

if [ "${SM_WS_CLIENT:-native}" = node ]; then
cat >"$WORK/bench.cjs" <<'JS'
const { fork } = require('node:child_process');
const fs = require('node:fs');
const WebSocket = require('ws');
const [,, role, url, token, countArg, rounds, serverPid] = process.argv;
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms, CLOCK_MONOTONIC

if (role === 'worker') {
  const n = Number(countArg);
  const recv = new Map(); // seq -> array of receive times
  let opened = 0;
  const open = (i) => new Promise((resolve) => {
    const ws = new WebSocket(`${url}/ws/admin/orders/`, ['smartmarket.v1', `bearer.${token}`]);
    ws.on('open', () => { opened += 1; resolve(); });
    ws.on('error', (e) => { process.send({ error: e.message }); resolve(); });
    ws.on('message', (m) => {
      const t = now();
      const s = m.toString();
      if (!s.includes('"order.created"')) return;
      const seq = Number(/"seq":(\d+)/.exec(s)[1]);
      if (!recv.has(seq)) recv.set(seq, []);
      recv.get(seq).push(t);
    });
  });
  (async () => {
    for (let i = 0; i < n; i += 250) await Promise.all(Array.from({ length: Math.min(250, n - i) }, (_, j) => open(i + j)));
    process.send({ ready: opened });
  })();
  process.on('message', async ({ seq, t0 }) => {
    while ((recv.get(seq) || []).length < opened) await new Promise((r) => setTimeout(r, 1));
    process.send({ seq, lat: recv.get(seq).map((t) => Math.max(0, t - t0)) });
    recv.delete(seq);
  });
} else {
  const total = Number(countArg);
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${serverPid}/status`, 'utf8'))[1]);
  (async () => {
    const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` };
    const post = (p, b) => fetch(url + p, { method: 'POST', headers, body: JSON.stringify(b) }).then((r) => r.json());
    const prod = await post('/api/products/', { name: 'Bench product', price_cents: 100, stock: 1000000 });
    await post('/api/orders/', { items: [{ product_id: prod.id, quantity: 1 }] }); // warm-up
    const rss0 = rss();
    const per = 2500;
    const workers = [];
    for (let i = 0; i < total; i += per) {
      const w = fork(__filename, ['worker', url, token, String(Math.min(per, total - i))]);
      workers.push(w);
    }
    let connected = 0;
    await Promise.all(workers.map((w) => new Promise((r) => w.on('message', (m) => { if (m.ready !== undefined) { connected += m.ready; r(); } }))));
    await new Promise((r) => setTimeout(r, 1000));
    const rss1 = rss();
    const lat = [];
    for (let round = 0; round < Number(rounds); round += 1) {
      const o = await fetch(`${url}/api/orders/`, { method: 'POST', headers, body: JSON.stringify({ items: [{ product_id: prod.id, quantity: 1 }] }) });
      const t0 = now();
      await o.arrayBuffer();
      const seq = round + 2; // seq 1 was the warm-up
      await Promise.all(workers.map((w) => new Promise((r) => {
        const h = (m) => { if (m.seq === seq) { w.off('message', h); lat.push(...m.lat); r(); } };
        w.on('message', h);
        w.send({ seq, t0 });
      })));
    }
    lat.sort((a, b) => a - b);
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(2);
    console.log(JSON.stringify({ clients: connected, rounds: Number(rounds), deliveries: lat.length, p50_ms: q(0.5), p99_ms: q(0.99), max_ms: lat[lat.length - 1].toFixed(2), rss_kib_before: rss0, rss_kib_connected: rss1, rss_per_conn_kib: ((rss1 - rss0) / connected).toFixed(2) }));
    for (const w of workers) w.kill();
    process.exit(0);
  })().catch((e) => { console.error(e); process.exit(1); });
}
JS

    NODE_PATH="$ROOT/tests/e2e/node_modules" node "$WORK/bench.cjs" main "http://127.0.0.1:$PORT" "$TOKEN" "$CLIENTS" "$ROUNDS" "$SERVER_PID"
    exit
fi

cc -O2 -std=c17 -D_GNU_SOURCE -pthread -Wall -Wextra -Werror -o "$WORK/ws_client" \
    "$ROOT/bench/ws_client.c" -lcrypto
PRODUCT=$(curl -fs -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
    -d '{"name":"Bench product","price_cents":100,"stock":1000000}' \
    "http://127.0.0.1:$PORT/api/products/" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')
[ -n "$PRODUCT" ] || { echo "ws.sh: could not create the product" >&2; exit 1; }
PERF_PID=""
if [ -n "${SM_WS_PERF:-}" ]; then
    perf record -g -o "$SM_WS_PERF" -p "$SERVER_PID" >/dev/null 2>&1 &
    PERF_PID=$!
fi
"$WORK/ws_client" 127.0.0.1 "$PORT" "$TOKEN" "$CLIENTS" "$ROUNDS" "$PRODUCT" "$SERVER_PID" \
    "${SM_WS_READERS:-1}"
if [ -n "$PERF_PID" ]; then kill -INT "$PERF_PID"; wait "$PERF_PID" || true; fi
