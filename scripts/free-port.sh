# shellcheck shell=bash
# free-port.sh — sourced by bash scripts (scripts/test.sh, bench/*.sh):
# defines free_port, which prints a 127.0.0.1 TCP port with no listener.
#
# The port is taken below the kernel's ephemeral range. A port inside it may
# be the local end of a client connection, open or in TIME_WAIT; a connect()
# probe cannot see that, and a server's bind() to it fails with EADDRINUSE
# even with SO_REUSEADDR. Another process may still take the port between
# this check and the server's bind, so callers retry a failed start.
free_port() {
    local port low=32768
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    [ "$low" -gt 11024 ] 2>/dev/null || low=32768
    for _ in $(seq 1 50); do
        port=$((10000 + RANDOM % (low - 10000)))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}
