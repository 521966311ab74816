#!/usr/bin/env bash
# Send a file to a TCP server and append console lines to a log file. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
PTYB=${PTYBRIDGE:-"node dist/ptybridge.mjs"}
PORT=${PORT:-17002}
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT

# 1. A file to a TCP server: the file is read to its end, then ptybridge half-closes and
#    exits once the server closes. ?readonly: the server's answer, if any, is discarded.
head -c 1048576 /dev/urandom >"$dir/firmware.bin"
socat -u "TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr" "CREATE:$dir/received.bin" & pids+=($!)
until ss -ltnH "sport = :$PORT" | grep -q .; do sleep 0.05; done   # (a probe connection would be its one client)
$PTYB "file:$dir/firmware.bin?readonly" tcp:127.0.0.1:"$PORT"
cmp "$dir/firmware.bin" "$dir/received.bin" && echo "firmware.bin arrived byte-exact ($(wc -c <"$dir/received.bin") bytes)"

# 2. Lines into a log: ?create makes it, ?append adds at the end, ?writeonly sends nothing back.
printf 'boot: ok\n' | $PTYB - "file:$dir/console.log?create&append&writeonly"
printf 'login: root\n' | $PTYB - "file:$dir/console.log?create&append&writeonly"
cat "$dir/console.log"
