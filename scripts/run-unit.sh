#!/bin/sh
# Runs each C unit-test program given as an argument (cmocka binaries built
# by `make unit`) and prints one line per program, the output of the failing
# ones, and a final line exactly "N passed, N failed" counting test cases.
#
# Counting: cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N
# test(s)"; those are summed. A program that dies without cmocka's summary
# (crash, sanitizer abort, timeout) counts as one failure; one that exits 0
# without a summary counts as one pass. Each program gets UNIT_TIMEOUT
# seconds (default 120). Exit status 1 when anything failed.
set -u

timeout_s=${UNIT_TIMEOUT:-120}
passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sm-unit.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

for bin in "$@"; do
    name=${bin#*/tests/}
    out="$tmp/out"
    start=$(date +%s)
    timeout -k 5 "$timeout_s" "$bin" >"$out" 2>&1 </dev/null
    rc=$?
    secs=$(( $(date +%s) - start ))
    p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$out" | tail -n 1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$out" | tail -n 1)
    p=${p:-0}
    f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1 # died without a cmocka verdict: crash, sanitizer report or timeout
    fi
    if [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        p=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -eq 0 ] && [ "$f" -eq 0 ]; then
        echo "PASS $name ($p tests, ${secs}s)"
    else
        reason="exit $rc"
        [ "$rc" -eq 124 ] && reason="timed out after ${timeout_s}s"
        echo "FAIL $name ($p passed, $f failed, $reason, ${secs}s)"
        sed 's/^/    /' "$out"
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
