#!/bin/sh
# pg.sh — a throwaway PostgreSQL 15 server for tests, on 127.0.0.1 only.
#
#   scripts/pg.sh start DIR PORT          initdb DIR (once), start, create database
#                                         `smartmarket`, print its URL
#   scripts/pg.sh createdb DIR PORT NAME  drop and recreate database NAME, print its URL
#   scripts/pg.sh stop DIR                stop the server (fast shutdown)
#
# The cluster lives in DIR/data, the unix socket and the server log in DIR.
# Authentication is `trust` and durability is off (fsync, full_page_writes,
# synchronous_commit): this server is for tests, never for data. initdb
# refuses to run as root, so under root the server runs as the `postgres`
# OS user and DIR is chowned to it; as any other user it runs as that user.
set -eu

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

usage() {
    echo "usage: scripts/pg.sh start DIR PORT | createdb DIR PORT NAME | stop DIR" >&2
    exit 2
}

# Runs a command as the server's OS user.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

check_port() {
    case "$1" in
        '' | *[!0-9]*) echo "pg.sh: bad port '$1'" >&2; exit 2 ;;
    esac
    [ "$1" -ge 1 ] && [ "$1" -le 65535 ] || { echo "pg.sh: bad port '$1'" >&2; exit 2; }
}

check_name() {
    if ! printf '%s' "$1" | grep -Eq '^[a-z_][a-z0-9_]{0,62}$'; then
        echo "pg.sh: bad database name '$1' (want [a-z_][a-z0-9_]*)" >&2
        exit 2
    fi
}

url() { echo "postgres://postgres@127.0.0.1:$1/$2"; }

psql_admin() { # PORT SQL
    PGOPTIONS="-c client_min_messages=warning" \
        "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres \
        -c "$2" >/dev/null
}

recreate_db() { # PORT NAME
    psql_admin "$1" "DROP DATABASE IF EXISTS \"$2\" WITH (FORCE)"
    psql_admin "$1" "CREATE DATABASE \"$2\" ENCODING 'UTF8' TEMPLATE template0"
}

cmd_start() { # DIR PORT
    dir=$1 port=$2
    check_port "$port"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
            --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
            cat "$dir/initdb.log" >&2
            exit 1
        }
        cat >>"$dir/data/postgresql.conf" <<EOF
# scripts/pg.sh: a test server
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
full_page_writes = off
synchronous_commit = off
max_connections = 200
EOF
    fi
    if ! as_pg "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        # A fresh log per start, so a failure below shows this start's lines.
        rm -f "$dir/server.log"
        as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "-p $port" -w -t 60 \
            start >/dev/null || {
            tail -n 20 "$dir/server.log" >&2
            exit 1
        }
    fi
    # pg_ctl -w waits for the socket; make sure TCP answers before going on.
    i=0
    until "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port"; do
        i=$((i + 1))
        [ "$i" -ge 100 ] && { echo "pg.sh: server not ready on port $port" >&2; exit 1; }
        sleep 0.1
    done
    if ! "$PGBIN/psql" -X -tA -h 127.0.0.1 -p "$port" -U postgres -d postgres \
        -c "SELECT 1 FROM pg_database WHERE datname = 'smartmarket'" | grep -q 1; then
        psql_admin "$port" "CREATE DATABASE smartmarket ENCODING 'UTF8' TEMPLATE template0"
    fi
    url "$port" smartmarket
}

cmd_stop() { # DIR
    dir=$1
    [ -f "$dir/data/PG_VERSION" ] || exit 0
    if as_pg "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    fi
}

[ $# -ge 1 ] || usage
case "$1" in
    start) [ $# -eq 3 ] || usage; cmd_start "$2" "$3" ;;
    createdb)
        [ $# -eq 4 ] || usage
        check_port "$3"
        check_name "$4"
        recreate_db "$3" "$4"
        url "$3" "$4"
        ;;
    stop) [ $# -eq 2 ] || usage; cmd_stop "$2" ;;
    *) usage ;;
esac
