#!/bin/sh
# Installs the Debian packages SmartMarket needs to build, run and test.
# Idempotent and quiet when everything is present. Needs root (or sudo).
set -eu
BUILD_PKGS="build-essential pkg-config libuv1-dev libhttp-parser-dev libjansson-dev \
libsodium-dev libsqlite3-dev libpq-dev zlib1g-dev sqlite3 libwslay-dev libhiredis-dev \
libcurl4-openssl-dev libutf8proc-dev libstemmer-dev libopenblas-dev liblapacke-dev libssl-dev \
g++ libfaiss-dev"
TEST_PKGS="libcmocka-dev postgresql redis-server python3-aiosmtpd nodejs npm clang-format \
clang-tidy curl"
BENCH_PKGS="wrk nginx-light"
COVERAGE_PKGS="gcovr"

case "${1:-build}" in
    build) PKGS="$BUILD_PKGS" ;;
    test) PKGS="$BUILD_PKGS $TEST_PKGS" ;;
    bench) PKGS="$BUILD_PKGS $BENCH_PKGS" ;;
    coverage) PKGS="$BUILD_PKGS $TEST_PKGS $COVERAGE_PKGS" ;;
    all) PKGS="$BUILD_PKGS $TEST_PKGS $BENCH_PKGS $COVERAGE_PKGS" ;;
    *) echo "usage: scripts/deps.sh [build|test|bench|coverage|all]" >&2; exit 2 ;;
esac

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node and npm may come from elsewhere than Debian's packages: accept any working ones.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    missing=$(echo "$missing" | tr ' ' '\n' | grep -v -x -e nodejs -e npm | tr '\n' ' ')
fi
missing=$(echo "$missing" | xargs)
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps: installing $missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
