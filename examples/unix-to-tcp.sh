#!/usr/bin/env bash
# A unix socket (a QEMU -serial unix:…,server or -chardev socket) served on TCP, and a
# unix socket that forwards to TCP. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
PTYB=${PTYBRIDGE:-"node dist/ptybridge.mjs"}
PORT=${PORT:-17003}
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT

# The "VM console": an upper-casing service on a unix socket (socat plays QEMU here).
socat "UNIX-LISTEN:$dir/serial0.sock,fork" SYSTEM:'tr a-z A-Z' & pids+=($!)
# Served on TCP 127.0.0.1:$PORT, one connection to the socket per TCP client.
$PTYB tcp-listen:"$PORT" "unix:$dir/serial0.sock?retry=20&interval=100ms" & pids+=($!)
# And the other way round: a private unix socket (mode 0600) that leads to the TCP port.
$PTYB "unix-listen:$dir/private.sock?mode=0600" tcp:127.0.0.1:"$PORT" & pids+=($!)
for _ in $(seq 100); do [ -S "$dir/private.sock" ] && [ -S "$dir/serial0.sock" ] && break; sleep 0.05; done

printf 'hello over tcp\n' | $PTYB - tcp:127.0.0.1:"$PORT"
printf 'hello over two hops\n' | $PTYB - "unix:$dir/private.sock"
ls -l "$dir/private.sock" | cut -c1-10
