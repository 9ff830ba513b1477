#!/usr/bin/env bash
# coverage.sh — line and branch coverage of src/ by the whole test suite
# (unit tests, and the e2e suite on SQLite and PostgreSQL), as `make
# coverage` runs it. Not part of CI: an -O0 --coverage build and the suite
# take about twice as long as `make test`.
#
#   1. deps      scripts/deps.sh coverage (the test packages and gcovr)
#   2. build     build-cov/ with CFLAGS="-O0 -g" SAN=--coverage, old counters removed
#   3. tests     scripts/test.sh with SM_BUILD=build-cov (no lint); every
#                process that exits normally adds its counters (libgcov
#                merges concurrent writers under a file lock)
#   4. report    gcovr: a summary on stdout, per-file lines in
#                build-cov/coverage.txt, HTML in build-cov/coverage/index.html
#
# Exit status: test.sh's (the report is written either way).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1

sh scripts/deps.sh coverage || exit 1
export CFLAGS="-O0 -g"
make -s -j"$(nproc)" BUILD=build-cov SAN=--coverage build-cov/smartmarket || exit 1
find build-cov -name '*.gcda' -delete

SM_SKIP_DEPS=1 SM_LINT=0 SM_BUILD=build-cov SM_SAN=--coverage bash scripts/test.sh
rc=$?

mkdir -p build-cov/coverage
gcovr --root "$ROOT" --object-directory build-cov --filter 'src/' \
    --exclude-unreachable-branches --exclude-throw-branches \
    --txt build-cov/coverage.txt --html-details build-cov/coverage/index.html \
    --print-summary >build-cov/gcovr.log 2>&1 || echo "gcovr failed: see build-cov/gcovr.log" >&2
grep -E '^(lines|branches|functions):' build-cov/gcovr.log 2>/dev/null ||
    tail -n 5 build-cov/coverage.txt
exit $rc
