#!/usr/bin/env bash
# bench/http.sh — HTTP throughput and latency of `smartmarket serve`, next to
# nginx serving the same bytes as a static file (the ceiling for this machine).
#
#   make bench            (or: bash bench/http.sh)
#
# Steps: install wrk and nginx (scripts/deps.sh bench), build, create a fresh
# SQLite database in a temp dir, migrate, seed (SEED_PRODUCTS / SEED_USERS /
# SEED_ORDERS), give every product a huge stock (so order placement never
# answers 409), register and log in a customer for a bearer token, start
# `smartmarket serve` (workers: auto), save the exact body of
# GET /api/products/1/, start nginx (bench/nginx.conf.in, generated into the
# temp dir: 2 workers, access_log off) serving that file at the same path with
# the same Content-Type, then run wrk for each target:
#
#   nginx        GET /api/products/1/   (static copy)
#   smartmarket  GET /api/products/1/
#   smartmarket  POST /api/orders/      (bench/order.lua: one random product)
#
# and print req/s, p50, p99 and non-2xx counts, with the GET/nginx ratio.
# Nothing is written to docs/; copy the table into docs/PERFORMANCE.md by hand.
#
# Knobs: BENCH_THREADS=2 BENCH_CONNECTIONS=64 BENCH_ORDER_CONNECTIONS=16 BENCH_DURATION=10s
#        BENCH_WARMUP=2s SEED_PRODUCTS=10000 SEED_USERS=1000 SEED_ORDERS=2000
#        SM_BUILD=build LOG_LEVEL=WARNING (access lines off, like nginx's)
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-64}
# Orders are writes serialised by the database: fewer connections measure
# latency at a realistic queue depth instead of Little's law.
ORDER_CONNS=${BENCH_ORDER_CONNECTIONS:-16}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
SEED_PRODUCTS=${SEED_PRODUCTS:-10000}
SEED_USERS=${SEED_USERS:-1000}
SEED_ORDERS=${SEED_ORDERS:-2000}
SM_BUILD=${SM_BUILD:-build}
BIN="$ROOT/$SM_BUILD/smartmarket"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sm-bench.XXXXXX")
SM_PID=""
NGINX_PID=""
cleanup() {
    [ -n "$SM_PID" ] && kill -TERM "$SM_PID" 2>/dev/null && wait "$SM_PID" 2>/dev/null
    [ -n "$NGINX_PID" ] && kill -QUIT "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# shellcheck source=scripts/free-port.sh
. "$ROOT/scripts/free-port.sh"

# http PORT METHOD PATH [BODY] [TOKEN] > raw response (headers + body).
# A tiny HTTP/1.1 client on bash's /dev/tcp, so the bench needs no curl.
http() {
    local port=$1 method=$2 path=$3 body=${4-} token=${5-}
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    {
        printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n' "$method" "$path"
        [ -n "$token" ] && printf 'Authorization: Bearer %s\r\n' "$token"
        if [ -n "$body" ]; then
            printf 'Content-Type: application/json\r\nContent-Length: %s\r\n' \
                "$(printf '%s' "$body" | wc -c)"
        fi
        printf '\r\n%s' "$body"
    } >&3
    cat <&3
    exec 3<&-
}

status_of() { head -n 1 "$1" | cut -d' ' -f2; }

# Writes the body of the raw response $1 (exact bytes) to $2.
body_of() {
    local len
    len=$(LC_ALL=C awk '{ n += length($0) + 1 } $0 == "\r" { print n; exit }' "$1")
    [ -n "$len" ] || die "no end of headers in $1"
    tail -c +"$((len + 1))" "$1" >"$2"
}

# ---- setup ----
say "dependencies (scripts/deps.sh bench)"
sh scripts/deps.sh bench
command -v wrk >/dev/null || die "wrk not installed"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "nginx not installed"

say "build ($SM_BUILD)"
make -s -j"$(nproc)" BUILD="$SM_BUILD" >/dev/null

export DATABASE_URL="sqlite:///$WORK/bench.db"
export SMARTMARKET_DATA_DIR="$WORK/data"
export SECRET_KEY=${SECRET_KEY:-bench-secret-key-0123456789abcdef0123456789}
export LOG_LEVEL=${LOG_LEVEL:-WARNING}
export LOGIN_MAX_PER_IP=100000
unset SMARTMARKET_WORKERS # auto: one event loop per core

say "migrate + seed ($SEED_PRODUCTS products, $SEED_USERS users, $SEED_ORDERS orders)"
"$BIN" migrate >"$WORK/migrate.log"
"$BIN" seed --products "$SEED_PRODUCTS" --users "$SEED_USERS" --orders "$SEED_ORDERS" \
    --random-seed 1 >"$WORK/seed.log"
# Orders must never fail for stock or an inactive product: measure the happy path.
sqlite3 "$WORK/bench.db" "UPDATE products SET stock = 1000000000, active = 1;"
NPRODUCTS=$(sqlite3 "$WORK/bench.db" "SELECT max(id) FROM products;")
MINPRODUCT=$(sqlite3 "$WORK/bench.db" "SELECT min(id) FROM products;")

SM_PORT=$(free_port) || die "no free port"
NGINX_PORT=$(free_port) || die "no free port"
say "smartmarket serve on 127.0.0.1:$SM_PORT"
SMARTMARKET_LISTEN="127.0.0.1:$SM_PORT" "$BIN" serve >"$WORK/serve.log" 2>&1 &
SM_PID=$!
for _ in $(seq 1 100); do
    if http "$SM_PORT" GET /health/live/ >"$WORK/live" 2>/dev/null && [ "$(status_of "$WORK/live")" = 200 ]; then
        break
    fi
    kill -0 "$SM_PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; die "serve exited"; }
    sleep 0.1
done
[ "$(status_of "$WORK/live")" = 200 ] || die "serve did not answer /health/live/"

say "register + login a customer"
EMAIL="bench-$$@bench.test"
http "$SM_PORT" POST /api/auth/register/ "{\"email\":\"$EMAIL\",\"password\":\"bench-password\"}" >"$WORK/reg"
[ "$(status_of "$WORK/reg")" = 201 ] || { cat "$WORK/reg" >&2; die "register failed"; }
http "$SM_PORT" POST /api/auth/login/ "{\"email\":\"$EMAIL\",\"password\":\"bench-password\"}" >"$WORK/login"
[ "$(status_of "$WORK/login")" = 200 ] || { cat "$WORK/login" >&2; die "login failed"; }
TOKEN=$(sed -n 's/.*"token":"\([^"]*\)".*/\1/p' "$WORK/login")
[ -n "$TOKEN" ] || die "no token in the login response"

say "save GET /api/products/$MINPRODUCT/ for nginx"
PRODUCT_PATH="/api/products/$MINPRODUCT/"
http "$SM_PORT" GET "$PRODUCT_PATH" >"$WORK/product.raw"
[ "$(status_of "$WORK/product.raw")" = 200 ] || { cat "$WORK/product.raw" >&2; die "GET $PRODUCT_PATH failed"; }
mkdir -p "$WORK/www"
body_of "$WORK/product.raw" "$WORK/www/product.json"
CTYPE=$(grep -i '^content-type:' "$WORK/product.raw" | head -n 1 | cut -d' ' -f2- | tr -d '\r')

say "nginx on 127.0.0.1:$NGINX_PORT"
mkdir -p "$WORK/nginx"
USER_LINE=""
[ "$(id -u)" -eq 0 ] && USER_LINE="user root root;" # workers must read $WORK (mode 0700)
sed -e "s|@WORK@|$WORK/nginx|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@PATH@|$PRODUCT_PATH|g" \
    -e "s|@ROOT@|$WORK/www|g" -e "s|@NAME@|product.json|g" -e "s|@CTYPE@|$CTYPE|g" -e "s|@USER@|$USER_LINE|g" \
    bench/nginx.conf.in >"$WORK/nginx/nginx.conf"
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" -g 'daemon off;' &
NGINX_PID=$!
for _ in $(seq 1 50); do
    http "$NGINX_PORT" GET "$PRODUCT_PATH" >"$WORK/nginx.raw" 2>/dev/null && break
    sleep 0.1
done
body_of "$WORK/nginx.raw" "$WORK/nginx.body"
cmp -s "$WORK/nginx.body" "$WORK/www/product.json" || { cat "$WORK/nginx.raw" "$WORK/nginx/error.log" >&2; die "nginx does not serve the same bytes"; }

# ---- runs ----
# run NAME wrk-args... : warm up, measure, keep wrk's report in $WORK/NAME.wrk
run() {
    local name=$1 conns=${RUN_CONNS:-$CONNS}
    shift
    say "wrk: $name ($conns connections)"
    wrk -t"$THREADS" -c"$conns" -d"$WARMUP" "$@" >/dev/null
    wrk -t"$THREADS" -c"$conns" -d"$DURATION" --latency "$@" | tee "$WORK/$name.wrk" >&2
}
run nginx-get "http://127.0.0.1:$NGINX_PORT$PRODUCT_PATH"
run sm-get "http://127.0.0.1:$SM_PORT$PRODUCT_PATH"
RUN_CONNS=$ORDER_CONNS run sm-order -s bench/order.lua "http://127.0.0.1:$SM_PORT/api/orders/" -- "$TOKEN" "$MINPRODUCT" "$NPRODUCTS"

rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$WORK/$1.wrk"; }
pct() { awk -v p="$2%" '$1 == p { print $2 }' "$WORK/$1.wrk"; }
non2xx() {
    local n
    n=$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$WORK/$1.wrk")
    echo "${n:-0}"
}

echo
echo "SmartMarket HTTP bench — $(nproc) CPUs, wrk -t$THREADS -d$DURATION, GET -c$CONNS, POST -c$ORDER_CONNS, $SEED_PRODUCTS products"
printf '%-42s %12s %10s %10s %9s\n' target req/s p50 p99 non-2xx
for row in "nginx-get|nginx GET $PRODUCT_PATH (static copy)" \
    "sm-get|smartmarket GET $PRODUCT_PATH" \
    "sm-order|smartmarket POST /api/orders/"; do
    name=${row%%|*}
    printf '%-42s %12s %10s %10s %9s\n' "${row#*|}" "$(rps "$name")" "$(pct "$name" 50)" \
        "$(pct "$name" 99)" "$(non2xx "$name")"
done
awk -v a="$(rps sm-get)" -v b="$(rps nginx-get)" \
    'BEGIN { if (b > 0) printf "GET smartmarket/nginx ratio: %.2f\n", a / b }'
if grep -q '"level":"ERROR"' "$WORK/serve.log"; then
    echo "warning: the server logged errors during the run:" >&2
    grep '"level":"ERROR"' "$WORK/serve.log" | head -n 5 >&2
fi
