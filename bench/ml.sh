#!/usr/bin/env bash
# bench/ml.sh — search build time and GET /api/search/ latency under load
# (the recommendation half is bench/ml_rec.sh).
#
#   bash bench/ml.sh                 (SM_BUILD=build by default)
#   SEED_PRODUCTS=1000000 bash bench/ml.sh    (the 1M-product run)
#
# Steps: a fresh SQLite database in a temp dir (or ML_BENCH_DIR, reused when
# it already holds a seeded database), migrate, `smartmarket seed --products
# SEED_PRODUCTS --users SEED_USERS --orders SEED_ORDERS --lines-per-order 4`
# (default 100k / 10k / 250k: one million order lines), `smartmarket
# build_ml_indexes` timed (the manifest's build_ms; the recommendations
# builder's share is in counts.recommendations.seconds), `smartmarket ml
# evaluate --queries tests/ml/queries.json` (nDCG@10 / recall@10, hybrid vs
# BM25), then `smartmarket serve` and wrk (bench/search.lua: 22 rotating
# queries with typos, filters, sorts and pages) at each concurrency of
# BENCH_CONNECTIONS_LIST, printing p50/p95/p99 and req/s.
# Knobs: BENCH_CONNECTIONS_LIST="1 2 4 8" BENCH_DURATION=10s BENCH_THREADS=1.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/${SM_BUILD:-build}/smartmarket"
SEED_PRODUCTS=${SEED_PRODUCTS:-100000}
SEED_USERS=${SEED_USERS:-10000}
SEED_ORDERS=${SEED_ORDERS:-250000}
CONNS_LIST=${BENCH_CONNECTIONS_LIST:-1 2 4 8}
DURATION=${BENCH_DURATION:-10s}
THREADS=${BENCH_THREADS:-1}

command -v wrk >/dev/null || { echo "bench/ml.sh: wrk is needed (sh scripts/deps.sh bench)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "bench/ml.sh: build first: make BUILD=${SM_BUILD:-build}" >&2; exit 1; }

DIR=${ML_BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/sm-ml-bench.XXXXXX")}
mkdir -p "$DIR"
export DATABASE_URL="sqlite://$DIR/db.sqlite" SMARTMARKET_DATA_DIR="$DIR/var" LOG_LEVEL=WARNING
PORT=$((20000 + RANDOM % 20000))
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$BIN" migrate >/dev/null
if [ ! -s "$DIR/.seeded" ]; then
    echo "== seed: $SEED_PRODUCTS products, $SEED_USERS customers, $SEED_ORDERS orders x 4 lines"
    /usr/bin/time -f "seed: %e s, max RSS %M KiB" "$BIN" seed --products "$SEED_PRODUCTS" \
        --users "$SEED_USERS" --orders "$SEED_ORDERS" --lines-per-order 4 >/dev/null
    echo "$SEED_PRODUCTS" > "$DIR/.seeded"
fi

echo "== build_ml_indexes"
/usr/bin/time -f "build: %e s wall, max RSS %M KiB" "$BIN" build_ml_indexes </dev/null >/dev/null
python3 - "$DIR/var/ml/current/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
c = m["counts"]
rec = c.get("recommendations", {}).get("seconds", {})
print(f"manifest: build_ms {m['build_ms']}, products {c['products']}, terms {c['terms']}, "
      f"postings {c['postings']}, recommendations {sum(rec.values()):.2f} s of it")
PY

echo "== ml evaluate (search rows)"
"$BIN" ml evaluate --queries "$ROOT/tests/ml/queries.json" 2>&1 | sed -n '/^Search/,$p'

echo "== GET /api/search/ under load"
"$BIN" serve --listen "127.0.0.1:$PORT" >"$DIR/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/health/live/" >/dev/null 2>&1 && break; sleep 0.1; done
wrk -t1 -c1 -d2s -s "$ROOT/bench/search.lua" "http://127.0.0.1:$PORT" >/dev/null # warm the mapping
for c in $CONNS_LIST; do
    t=$THREADS; [ "$t" -gt "$c" ] && t=$c
    printf 'connections %-3s ' "$c"
    wrk -t"$t" -c"$c" -d"$DURATION" -s "$ROOT/bench/search.lua" "http://127.0.0.1:$PORT" | tail -1
done
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
