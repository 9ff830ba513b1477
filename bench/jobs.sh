#!/usr/bin/env bash
# bench/jobs.sh — the job queue's throughput and idle latency, on SQLite
# (embedded) and PostgreSQL (a throwaway server from scripts/pg.sh).
#
#   bash bench/jobs.sh
#
# Builds bench/jobs_bench.c against the build's objects (like a unit test)
# and, per engine, on a fresh migrated database:
#   throughput  BENCH_JOBS (100000) no-op jobs enqueued in transactions of
#               1000, then a worker with BENCH_CONCURRENCY (64) threads on one
#               queue; jobs/s = jobs / (last finished_at − first attempted_at)
#   latency     BENCH_LATENCY_JOBS (2000) jobs enqueued one at a time with the
#               worker idle (2 ms apart); enqueue call → task start in µs
#               (monotonic clock, same process), p50/p90/p99/max
#   latency_remote  the same with the worker in a child process, woken by
#               LISTEN/NOTIFY (PostgreSQL only: SQLite across processes
#               relies on polling, and its deployment is one process)
# One JSON line per measure. LOG_LEVEL=WARNING: the per-job start/finish
# lines are off, as for any throughput measure (they cost ~20 %).
# Knobs: SM_BUILD=build BENCH_JOBS BENCH_CONCURRENCY BENCH_LATENCY_JOBS
#        BENCH_ENGINES="sqlite postgres"
#        BENCH_MEASURES="throughput latency latency_remote"
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/free-port.sh
. "$ROOT/scripts/free-port.sh"
cd "$ROOT"
SM_BUILD=${SM_BUILD:-build}
BENCH_JOBS=${BENCH_JOBS:-100000}
BENCH_CONCURRENCY=${BENCH_CONCURRENCY:-64}
BENCH_LATENCY_JOBS=${BENCH_LATENCY_JOBS:-2000}
BENCH_ENGINES=${BENCH_ENGINES:-sqlite postgres}
BENCH_MEASURES=${BENCH_MEASURES:-throughput latency latency_remote}

make -s BUILD="$SM_BUILD" "$SM_BUILD/smartmarket"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sm-jobs-bench.XXXXXX")
PG_DIR=""
cleanup() {
    if [ -n "$PG_DIR" ]; then
        sh scripts/pg.sh stop "$PG_DIR" >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# The Makefile's own flags and libraries, without editing it.
mkvar() { make -s --no-print-directory BUILD="$SM_BUILD" --eval "print-$1: ; @echo \$($1)" "print-$1"; }
OBJS=$(find "$SM_BUILD/src" -name '*.o' ! -name main.o | sort)
# shellcheck disable=SC2046,SC2086 # word splitting of the object list and flags is intended
cc $(mkvar CFLAGS) -o "$WORK/jobs_bench" bench/jobs_bench.c $OBJS \
    "$SM_BUILD/gen/migrations_data.o" $(mkvar LDLIBS)

export SECRET_KEY=bench-secret-key-0123456789abcdef0123456789 LOG_LEVEL=WARNING
export SMARTMARKET_DATA_DIR="$WORK/data"
mkdir -p "$SMARTMARKET_DATA_DIR"

fresh_db() { # ENGINE NAME
    if [ "$1" = sqlite ]; then
        rm -f "$WORK/$2.db"*
        echo "sqlite:///$WORK/$2.db"
    else
        sh scripts/pg.sh createdb "$PG_DIR" "$PG_PORT" "$2" | tail -n 1
    fi
}

for engine in $BENCH_ENGINES; do
    if [ "$engine" = postgres ] && [ -z "$PG_DIR" ]; then
        # Its own temp dir: $WORK is 0700 root, which the postgres user
        # (pg.sh runs the server as it when we are root) cannot traverse.
        PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sm-jobs-pg.XXXXXX")
        PG_PORT=$(free_port) || { echo "bench/jobs.sh: no free port" >&2; exit 1; }
        sh scripts/pg.sh start "$PG_DIR" "$PG_PORT" >/dev/null
    fi
    for measure in $BENCH_MEASURES; do
        [ "$measure" = latency_remote ] && [ "$engine" = sqlite ] && continue
        DATABASE_URL=$(fresh_db "$engine" "bench_$measure")
        export DATABASE_URL
        "$SM_BUILD/smartmarket" migrate >/dev/null
        if [ "$measure" = throughput ]; then
            "$WORK/jobs_bench" throughput "$BENCH_JOBS" "$BENCH_CONCURRENCY" | grep '"bench"'
        else
            "$WORK/jobs_bench" "$measure" "$BENCH_LATENCY_JOBS" | grep '"bench"'
        fi
    done
done
