#!/usr/bin/env bash
# bench/ml.sh — search build time, ANN recall and GET /api/search/ latency
# under load, at 100k and at 1M products (the recommendation half is
# bench/ml_rec.sh).
#
#   bash bench/ml.sh                                   (both sizes)
#   BENCH_SIZES=100000 bash bench/ml.sh                (100k only)
#   ML_BENCH_DIR=/tmp/sm-ml-bench BENCH_LOCK=.tmp/cpu.lock bash bench/ml.sh
#
# Per size N of BENCH_SIZES (default "100000 1000000"), in ML_BENCH_DIR/N
# (a temp dir by default; reused when it already holds a seeded database,
# so the slow 1M seed runs once): migrate, `smartmarket seed --products N
# --users 10000 --orders O --lines-per-order 4` (O = 250k at 100k products:
# one million order lines; 50k at 1M: the search run needs products, not
# orders), `smartmarket build_ml_indexes` timed (the manifest's build_ms,
# its ANN parameters, build time and recall@10 against the exact scan),
# `smartmarket ml evaluate` (nDCG@10 / recall@10, hybrid vs BM25; 100k
# only), then `smartmarket serve` and wrk (bench/search.lua: 22 rotating
# queries with typos, filters, sorts and pages) BENCH_RUNS times at each
# concurrency (BENCH_CONNECTIONS_100K, default "1 2 4"; BENCH_CONNECTIONS_1M,
# default "1 2"), printing every run and the median p50/p95/p99.
# BENCH_LOCK: a file to hold with flock -x around each measured step (the
# build, each wrk run) and flock -s around seeding, so that benchmarks run
# on a quiet machine without one long exclusive hold.
# Knobs: BENCH_DURATION=10s BENCH_THREADS=1 BENCH_RUNS=3; BENCH_SKIP_BUILD=1 serves
# the version already built in the directory instead of building again.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/free-port.sh
. "$ROOT/scripts/free-port.sh"
BIN="$ROOT/${SM_BUILD:-build}/smartmarket"
SIZES=${BENCH_SIZES:-100000 1000000}
SEED_USERS=${SEED_USERS:-10000}
DURATION=${BENCH_DURATION:-10s}
THREADS=${BENCH_THREADS:-1}
RUNS=${BENCH_RUNS:-3}
LOCK=${BENCH_LOCK:-}

command -v wrk >/dev/null || { echo "bench/ml.sh: wrk is needed (sh scripts/deps.sh bench)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "bench/ml.sh: build first: make BUILD=${SM_BUILD:-build}" >&2; exit 1; }

BASE=${ML_BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/sm-ml-bench.XXXXXX")}
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

exclusive() { if [ -n "$LOCK" ]; then flock -x "$LOCK" "$@"; else "$@"; fi; }
shared() { if [ -n "$LOCK" ]; then flock -s "$LOCK" "$@"; else "$@"; fi; }

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

bench_size() { # N
    local n=$1 dir="$BASE/$1" orders conns
    if [ "$n" -ge 1000000 ]; then
        orders=${SEED_ORDERS_1M:-50000}
        conns=${BENCH_CONNECTIONS_1M:-1 2}
    else
        orders=${SEED_ORDERS:-250000}
        conns=${BENCH_CONNECTIONS_100K:-1 2 4}
    fi
    mkdir -p "$dir"
    export DATABASE_URL="sqlite:///$dir/db.sqlite" SMARTMARKET_DATA_DIR="$dir/var" LOG_LEVEL=WARNING
    "$BIN" migrate >/dev/null
    if [ ! -s "$dir/.seeded" ]; then
        echo "== $n: seed $n products, $SEED_USERS customers, $orders orders x 4 lines"
        shared /usr/bin/time -f "seed: %e s, max RSS %M KiB" "$BIN" seed --products "$n" \
            --users "$SEED_USERS" --orders "$orders" --lines-per-order 4 >/dev/null
        echo "$n" > "$dir/.seeded"
    fi

    if [ "${BENCH_SKIP_BUILD:-0}" = 1 ] && [ -e "$dir/var/ml/current" ]; then
        echo "== $n: build_ml_indexes skipped (BENCH_SKIP_BUILD=1): the active version"
    else
        echo "== $n: build_ml_indexes"
        exclusive /usr/bin/time -f "build: %e s wall, max RSS %M KiB" "$BIN" build_ml_indexes \
            </dev/null >/dev/null
    fi
    python3 - "$dir/var/ml/current/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
c, p = m["counts"], m.get("parameters", {})
rec = c.get("recommendations", {}).get("seconds", {})
print(f"manifest: build_ms {m['build_ms']}, products {c['products']}, terms {c['terms']}, "
      f"postings {c['postings']}, recommendations {sum(rec.values()):.2f} s of it")
a = p.get("ann", {})
if a.get("kind") == "exact":
    print(f"ann: exact only (below min_docs {a.get('min_docs')})")
elif a:
    print(f"ann: {a['kind']}, nlist {a['nlist']}, nprobe {a['nprobe']}, build {a['build_ms']} ms, "
          f"recall@10 {a['recall@10']:.3f} over {a['recall_queries']} queries, "
          f"query {a['ann_query_us']} us vs exact {a['exact_query_us']} us")
PY

    if [ "$n" -lt 1000000 ]; then
        echo "== $n: ml evaluate (search rows)"
        "$BIN" ml evaluate --queries "$ROOT/tests/ml/queries.json" 2>&1 | sed -n '/^Search/,$p'
    fi

    echo "== $n: GET /api/search/ under load ($RUNS runs of $DURATION each)"
    local port
    port=$(free_port) || { echo "bench/ml.sh: no free port" >&2; exit 1; }
    "$BIN" serve --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health/live/" >/dev/null 2>&1 && break; sleep 0.1; done
    # The first search loads the version (SHA-256 of every file, then the
    # ANN index read into memory: ~4 s at 1M); until then requests get the
    # SQL fallback, which is not what is measured. Wait for the index.
    local t0=$SECONDS
    until curl -fs "http://127.0.0.1:$port/api/search/?q=smartphone" | grep -q '"engine": *"index"'; do
        [ $((SECONDS - t0)) -gt 120 ] && { echo "bench/ml.sh: the index did not load" >&2; exit 1; }
        sleep 0.2
    done
    echo "index loaded by the server in about $((SECONDS - t0)) s"
    wrk -t1 -c1 -d2s -s "$ROOT/bench/search.lua" "http://127.0.0.1:$port" >/dev/null # warm the mapping
    for c in $conns; do
        local t=$THREADS out="$dir/wrk-c$c.txt"
        [ "$t" -gt "$c" ] && t=$c
        : >"$out"
        for r in $(seq "$RUNS"); do
            exclusive wrk -t"$t" -c"$c" -d"$DURATION" -s "$ROOT/bench/search.lua" \
                "http://127.0.0.1:$port" | tail -1 | tee -a "$out" | sed "s/^/  c$c run $r: /"
        done
        printf '%s products, connections %-2s median of %s: p50 %s ms, p95 %s ms, p99 %s ms, %s req/s\n' \
            "$n" "$c" "$RUNS" \
            "$(sed -n 's/.*p50 \([0-9.]*\) ms.*/\1/p' "$out" | median)" \
            "$(sed -n 's/.*p95 \([0-9.]*\) ms.*/\1/p' "$out" | median)" \
            "$(sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' "$out" | median)" \
            "$(sed -n 's/.*, \([0-9]*\) req\/s.*/\1/p' "$out" | median)"
    done
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

for n in $SIZES; do
    bench_size "$n"
done
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
