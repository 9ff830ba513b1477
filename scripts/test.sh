#!/usr/bin/env bash
# test.sh — the whole test suite, as `make test` runs it (and `make asan`
# with SM_BUILD=build-asan). Works on a fresh Debian 12 machine as root:
#
#   1. deps     scripts/deps.sh test (build + test packages, Node if absent)
#   2. lint     make format-check, make tidy           (skipped for build-asan)
#   3. build    make BUILD=$SM_BUILD                   (with SM_SAN for sanitizers)
#   4. pg       a throwaway PostgreSQL on a free 127.0.0.1 port (scripts/pg.sh)
#   5. unit     make unit, with SM_TEST_POSTGRES_URL set
#   6. e2e      npm ci in tests/e2e, then `node --test` once per backend
#               (SM_TEST_DB=sqlite, SM_TEST_DB=postgres)
#
# Everything it starts is stopped on exit. The last line is
# "N passed, N failed" (unit test cases + e2e tests); the exit status is 1 when
# anything failed, a stage could not run, or lint failed.
#
# Knobs (environment):
#   SM_BUILD=build          build directory (build-asan: sanitizer flags by default)
#   SM_SAN=...              sanitizer flags (default: none; the ASan+UBSan set for build-asan)
#   SM_SKIP_DEPS=1          do not run scripts/deps.sh
#   SM_LINT=0|1             run the lint stage (default 1, 0 for build-asan)
#   SM_E2E_DBS="sqlite postgres"   backends for the e2e suite
#   SM_E2E_FILES="auth.test.js …"  a subset of tests/e2e/*.test.js
#   SM_E2E_CONCURRENCY=2    test files run in parallel
#   JOBS=N                  make -j (default: number of CPUs)
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1

SM_BUILD=${SM_BUILD:-build}
ASAN_SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
if [ "$SM_BUILD" = build-asan ]; then
    SM_SAN=${SM_SAN-$ASAN_SAN}
    SM_LINT=${SM_LINT:-0}
    # The Makefile's asan target builds with -O1; keep the same objects.
    export CFLAGS=${CFLAGS:-"-O1 -g"}
else
    SM_SAN=${SM_SAN-}
    SM_LINT=${SM_LINT:-1}
fi
SM_E2E_DBS=${SM_E2E_DBS:-sqlite postgres}
SM_E2E_CONCURRENCY=${SM_E2E_CONCURRENCY:-2}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

if [ -n "$SM_SAN" ]; then
    # Sanitizer errors are fatal; library one-time allocations are suppressed
    # by name in tests/lsan.supp, never by turning leak detection off.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
    export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/lsan.supp:print_suppressions=0}
    export SM_E2E_TIMEOUT_SCALE=${SM_E2E_TIMEOUT_SCALE:-3}
fi

T0=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sm-test.XXXXXX")
PG_DIR=""
PASSED=0
FAILED=0
PROBLEMS=()

# shellcheck disable=SC2317 # called by the trap
cleanup() {
    if [ -n "$PG_DIR" ]; then
        sh scripts/pg.sh stop "$PG_DIR" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK" "$PG_DIR" 2>/dev/null || true
}
trap cleanup EXIT
trap 'echo "test.sh: interrupted" >&2; exit 130' INT TERM

stage() { printf '\n==> %s (%ss)\n' "$1" "$(($(date +%s) - T0))"; }
problem() { PROBLEMS+=("$1"); echo "!! $1" >&2; }

# Reads "N passed, N failed" from the last such line of a log into the totals.
count_from() { # LOG
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
    if [ -z "$line" ]; then
        return 1
    fi
    PASSED=$((PASSED + $(echo "$line" | cut -d' ' -f1)))
    FAILED=$((FAILED + $(echo "$line" | cut -d' ' -f3)))
}

finish() {
    stage "summary"
    for p in "${PROBLEMS[@]+"${PROBLEMS[@]}"}"; do echo "  problem: $p"; done
    echo "  total time $(($(date +%s) - T0))s"
    echo "$PASSED passed, $FAILED failed"
    if [ "$FAILED" -ne 0 ] || [ "${#PROBLEMS[@]}" -ne 0 ]; then exit 1; fi
    exit 0
}

# shellcheck source=scripts/free-port.sh
. "$ROOT/scripts/free-port.sh"

# ---- 1. dependencies ----
if [ "${SM_SKIP_DEPS:-0}" != 1 ]; then
    stage "dependencies (scripts/deps.sh test)"
    if ! sh scripts/deps.sh test; then
        problem "scripts/deps.sh test failed"
        finish
    fi
fi

MAKEVARS=(BUILD="$SM_BUILD")
[ -n "$SM_SAN" ] && MAKEVARS+=(SAN="$SM_SAN")

# ---- 2. lint ----
if [ "$SM_LINT" = 1 ]; then
    stage "lint: make format-check"
    if ! make -s format-check >"$WORK/format.log" 2>&1; then
        grep -o '^[^:]*\.[ch]:' "$WORK/format.log" | sort | uniq -c |
            awk '{ printf "  needs clang-format: %s %d place(s)\n", substr($2, 1, length($2) - 1), $1 }'
        grep -v 'clang-format-violations' "$WORK/format.log" | grep -E 'error|No such' | head -n 5
        problem "make format-check: files differ from clang-format (run make format)"
    fi
    stage "lint: make tidy"
    if ! make -s -j"$JOBS" BUILD="$SM_BUILD" tidy >"$WORK/tidy.log" 2>&1; then
        # the findings with their first context line; the notes are noise here
        grep -E -A2 'error: ' "$WORK/tidy.log" | grep -v -E '^--$|note:' | head -n 150
        problem "make tidy: $(grep -c 'error: ' "$WORK/tidy.log") clang-tidy finding(s)"
    fi
fi

# ---- 3. build ----
stage "build: make ${MAKEVARS[*]} -j$JOBS"
if ! make -j"$JOBS" "${MAKEVARS[@]}"; then
    problem "build failed"
    finish
fi
BIN="$ROOT/$SM_BUILD/smartmarket"

# ---- 4. PostgreSQL ----
stage "postgresql: scripts/pg.sh start"
PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sm-pg.XXXXXX")
PG_URL=""
for attempt in 1 2 3; do
    PG_PORT=$(free_port) || continue
    if PG_URL=$(sh scripts/pg.sh start "$PG_DIR" "$PG_PORT" 2>"$WORK/pg-start.log" | tail -n 1) &&
        [ -n "$PG_URL" ]; then
        break
    fi
    PG_URL=""
    echo "pg.sh start on port $PG_PORT failed (attempt $attempt):" >&2
    sed 's/^/    /' "$WORK/pg-start.log" >&2
    sh scripts/pg.sh stop "$PG_DIR" >/dev/null 2>&1 || true
done
if [ -n "$PG_URL" ]; then
    echo "PostgreSQL at $PG_URL"
    export SM_TEST_POSTGRES_URL=$PG_URL
    export SM_PG_DIR=$PG_DIR SM_PG_PORT=$PG_PORT
    export SM_PG_URL="${PG_URL%/*}/postgres"
else
    problem "could not start PostgreSQL (scripts/pg.sh start, 3 attempts; see above); PostgreSQL tests skipped"
fi

# ---- 5. unit tests ----
stage "unit: make ${MAKEVARS[*]} unit"
make -j"$JOBS" "${MAKEVARS[@]}" unit 2>&1 | tee "$WORK/unit.log"
unit_rc=${PIPESTATUS[0]}
if ! count_from "$WORK/unit.log"; then
    problem "unit tests did not run (make unit exit $unit_rc)"
elif [ "$unit_rc" -ne 0 ] && ! tail -n 1 "$WORK/unit.log" | grep -qE '^[0-9]+ passed, [1-9][0-9]* failed$'; then
    problem "make unit exited $unit_rc"
fi

# ---- 6. end-to-end tests ----
stage "e2e: npm ci"
if ! command -v node >/dev/null || ! (cd tests/e2e && npm ci --no-audit --no-fund --prefer-offline --loglevel=error); then
    problem "npm ci in tests/e2e failed; e2e suite not run"
    finish
fi

cd tests/e2e || exit 1
# Debian 12's own nodejs is 18, which lacks --test-concurrency (Node >= 20.10).
NODE_TEST_FLAGS=()
if node --help 2>/dev/null | grep -q -- '--test-concurrency'; then
    NODE_TEST_FLAGS+=(--test-concurrency="$SM_E2E_CONCURRENCY")
fi
echo "node $(node --version)"
if [ -n "${SM_E2E_FILES:-}" ]; then
    read -r -a FILES <<<"$SM_E2E_FILES"
else
    FILES=(*.test.js)
fi
for db in $SM_E2E_DBS; do
    if [ "$db" = postgres ] && [ -z "$PG_URL" ]; then
        problem "e2e on postgres skipped: no PostgreSQL"
        continue
    fi
    stage "e2e: SM_TEST_DB=$db node --test ${FILES[*]}"
    tap="$WORK/e2e-$db.tap"
    SM_BIN="$BIN" SM_TEST_DB="$db" node --test "${NODE_TEST_FLAGS[@]+"${NODE_TEST_FLAGS[@]}"}" \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$tap" \
        "${FILES[@]}"
    e2e_rc=$?
    p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" | tail -n 1)
    f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" | tail -n 1)
    c=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$tap" | tail -n 1)
    if [ -z "$p" ]; then
        problem "e2e ($db) produced no result (node exit $e2e_rc)"
        continue
    fi
    f=$((${f:-0} + ${c:-0}))
    echo "e2e ($db): $p passed, $f failed"
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    if [ "$e2e_rc" -ne 0 ] && [ "$f" -eq 0 ]; then problem "e2e ($db): node exited $e2e_rc"; fi
done
cd "$ROOT" || exit 1

finish
