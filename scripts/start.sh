#!/bin/sh
# start.sh — build SmartMarket and start everything on SQLite with demo data.
#
#   ./scripts/start.sh
#
# Installs the build dependencies (Debian packages, via scripts/deps.sh),
# builds build/smartmarket, applies the migrations, seeds demo data when the
# database is empty, creates the admin account admin@example.com with a
# random password printed once (it is stored nowhere but as an argon2id hash
# in the database), queues the first index build when none exists, then runs
# `smartmarket run` in the foreground (Ctrl-C stops it). Safe to run again:
# data and the admin are kept.
#
# Environment: DATABASE_URL (default sqlite:///var/smartmarket.db),
# SMARTMARKET_LISTEN (default 127.0.0.1:8000), and every variable of
# env.example; SEED_PRODUCTS, SEED_USERS, SEED_ORDERS size the demo data
# (default 2000, 500, 5000); BUILD the build directory (default build).
set -eu
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
BIN=$BUILD/smartmarket
ADMIN_EMAIL=admin@example.com
export DATABASE_URL="${DATABASE_URL:-sqlite:///var/smartmarket.db}"
export SMARTMARKET_LISTEN="${SMARTMARKET_LISTEN:-127.0.0.1:8000}"

step() { printf '==> %s\n' "$*" >&2; }

step "build dependencies (scripts/deps.sh build)"
sh scripts/deps.sh build
step "building $BIN"
make -j2 BUILD="$BUILD" >/dev/null
mkdir -p "${SMARTMARKET_DATA_DIR:-var}"

step "migrating $DATABASE_URL"
"$BIN" migrate

step "demo data (only into an empty database)"
"$BIN" seed --if-empty --products "${SEED_PRODUCTS:-2000}" --users "${SEED_USERS:-500}" \
    --orders "${SEED_ORDERS:-5000}"

step "admin account"
# 18 random bytes as 24 URL-safe characters; never written to disk.
password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
if out=$(printf '%s\n' "$password" |
    "$BIN" createsuperuser --email "$ADMIN_EMAIL" --name Administrator --password-stdin 2>&1); then
    admin="$ADMIN_EMAIL / $password   (shown only now: note it)"
else
    case $out in
    *"already exists"*)
        admin="$ADMIN_EMAIL already exists. To reset its password:
           $BIN createsuperuser --email $ADMIN_EMAIL --update" ;;
    *)
        printf '%s\n' "$out" >&2
        exit 1 ;;
    esac
fi
password=

# Search, recommendations and the sales figures come from an index built
# hourly; on a first start the embedded worker builds it at once.
if [ ! -e "${SMARTMARKET_DATA_DIR:-var}/ml/current" ]; then
    step "first index build: queued (search, recommendations, sales figures)"
    "$BIN" tasks enqueue rebuild_ml_indexes >/dev/null
fi

host=${SMARTMARKET_LISTEN%:*}
port=${SMARTMARKET_LISTEN##*:}
case $host in 0.0.0.0 | "*") host=127.0.0.1 ;; "[::]") host="[::1]" ;; esac
url="http://$host:$port"
cat >&2 <<BANNER

  SmartMarket is starting on $url
    API docs     $url/api/docs/
    health       $url/health/ready/
    admin login  $admin
    customers    every seeded customer's password is 'demo-password'

BANNER
exec "$BIN" run
