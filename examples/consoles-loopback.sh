#!/usr/bin/env bash
# Runs examples/consoles-loopback.yaml: three stand-in consoles (socat upper-casing services),
# ptybridge serving them on three ports, and a client on each; then prints alpha's transcript.
set -euo pipefail
cd "$(dirname "$0")/.."
PTYB=${PTYBRIDGE:-"node dist/ptybridge.mjs"}
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
rm -f /tmp/ptybridge-alpha.log /tmp/ptybridge-bravo.log

for i in 1 2 3; do
  socat "TCP-LISTEN:1710$i,bind=127.0.0.1,reuseaddr,fork" SYSTEM:'tr a-z A-Z' & pids+=($!)
done
$PTYB --config examples/consoles-loopback.yaml & pids+=($!)
for port in 17001 17002 17003; do
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
done

# charlie is plain TCP; alpha and bravo speak telnet, so a raw client sees the negotiation
# bytes first: strip them with tr for this demo (a telnet client would not show them).
for port in 17001 17002 17003; do
  printf 'hello console %s\n' "$port" | socat -t 2 - "TCP:127.0.0.1:$port" | tr -cd '[:print:]\n'
done
sleep 0.3
echo '--- alpha transcript ---'
cat /tmp/ptybridge-alpha.log
