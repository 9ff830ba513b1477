#!/usr/bin/env bash
# bench/ml_rec.sh — recommendation build time and latency under concurrent load.
#
#   bash bench/ml_rec.sh            (SM_BUILD=build by default)
#
# Steps: a fresh SQLite database in a temp dir (or REC_BENCH_DIR, reused when
# it already holds a seeded database), migrate, seed SEED_PRODUCTS products /
# SEED_USERS customers / SEED_ORDERS orders × 4 lines (default 100k / 10k /
# 250k: one million order lines), `smartmarket build_ml_indexes` (the
# "recommendations" timings come from the manifest), `smartmarket ml evaluate`,
# then `smartmarket serve` and wrk (bench/ml_rec.lua) for each target:
#
#   similar       GET /api/products/{random}/similar/      (mostly cache misses)
#   also-bought   GET /api/products/{random}/also-bought/
#   user-cached   GET /api/recommendations/?limit=10 as one customer (cache hits)
#   user-miss     GET /api/recommendations/?limit=1..50 as one customer, with an
#                 order placed first so every key starts cold
#
# and prints p50/p90/p99 (wrk's latency distribution) and req/s.
# Knobs: BENCH_THREADS=2 BENCH_CONNECTIONS=16 BENCH_DURATION=10s.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/${SM_BUILD:-build}/smartmarket"
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-16}
DURATION=${BENCH_DURATION:-10s}
SEED_PRODUCTS=${SEED_PRODUCTS:-100000}
SEED_USERS=${SEED_USERS:-10000}
SEED_ORDERS=${SEED_ORDERS:-250000}
DIR=${REC_BENCH_DIR:-$(mktemp -d /tmp/sm-rec-bench-XXXXXX)}
PORT=${BENCH_PORT:-18431}

export DATABASE_URL="sqlite:///$DIR/sm.db" SMARTMARKET_DATA_DIR="$DIR/var" LOG_LEVEL=WARNING
export SMARTMARKET_LISTEN="127.0.0.1:$PORT" SECRET_KEY=bench-secret-key-0123456789abcdef-0123456789
mkdir -p "$DIR/var"

"$BIN" migrate >/dev/null
if [ "$(sqlite3 "$DIR/sm.db" 'SELECT COUNT(*) FROM order_items')" = 0 ]; then
    echo "seeding $SEED_PRODUCTS products, $SEED_USERS customers, $SEED_ORDERS orders..."
    "$BIN" seed --products "$SEED_PRODUCTS" --users "$SEED_USERS" --orders "$SEED_ORDERS" \
        --lines-per-order 4 >/dev/null
fi

echo "== build_ml_indexes"
/usr/bin/time -f "wall %e s, max RSS %M KiB" "$BIN" build_ml_indexes >/dev/null
python3 - "$DIR/var/ml/current/manifest.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["counts"]["recommendations"]
s = r["seconds"]
print("recommendations share: %.1f s (load %.1f, co-purchase %.1f, popular %.2f, ALS %.1f, "
      "ALS top-50 %.1f, write %.2f); %d items, %d customers, %d lines, %d co-purchase pairs"
      % (sum(s.values()), s["load"], s["copurchase"], s["popular"], s["als"], s["als_top"],
         s["write"], r["items"], r["customers"], r["order_lines"], r["copurchase_pairs"]))
PY

echo "== ml evaluate"
"$BIN" ml evaluate --sample 2000

"$BIN" serve >"$DIR/serve.log" 2>&1 &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health/live/" >/dev/null && break; sleep 0.1; done
EMAIL=$(sqlite3 "$DIR/sm.db" "SELECT u.email FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.id ORDER BY COUNT(*) DESC LIMIT 1")
TOKEN=$(curl -fs -H 'Content-Type: application/json' \
    -d "{\"email\":\"$EMAIL\",\"password\":\"demo-password\"}" \
    "http://127.0.0.1:$PORT/api/auth/login/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

run() { # NAME KIND TOKEN UNCACHED
    local out
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$ROOT/bench/ml_rec.lua" \
        "http://127.0.0.1:$PORT" -- "$2" "$SEED_PRODUCTS" "$3" "$4")
    printf '%-12s %s  p50 %s  p90 %s  p99 %s  non-2xx %s\n' "$1" \
        "$(echo "$out" | awk '/Requests\/sec/ {print $2 " req/s"}')" \
        "$(echo "$out" | awk '$1 == "50%" {print $2}')" \
        "$(echo "$out" | awk '$1 == "90%" {print $2}')" \
        "$(echo "$out" | awk '$1 == "99%" {print $2}')" \
        "$(echo "$out" | awk '/Non-2xx/ {print $NF}' | grep . || echo 0)"
}
echo "== latency ($THREADS threads, $CONNS connections, $DURATION each)"
run similar similar "" 0
run also-bought also-bought "" 0
run user-cached user "$TOKEN" 0
curl -fs -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"items":[{"product_id":1,"quantity":1}]}' "http://127.0.0.1:$PORT/api/orders/" >/dev/null || true
run user-miss user "$TOKEN" 1
echo "(data in $DIR)"
