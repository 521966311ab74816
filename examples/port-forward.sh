#!/usr/bin/env bash
# Forward a local port to a TCP service, one fresh upstream connection per client
# (socat TCP-LISTEN:…,fork TCP:…). Runs on loopback only: a tiny upper-casing service made
# with socat, ptybridge forwarding to it, and a client talking through the forward.
set -euo pipefail
cd "$(dirname "$0")/.."
PTYB=${PTYBRIDGE:-"node dist/ptybridge.mjs"}
UP=${UP:-17001}    # the service
FWD=${FWD:-17000}  # the forward
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

socat "TCP-LISTEN:$UP,bind=127.0.0.1,reuseaddr,fork" SYSTEM:'tr a-z A-Z' & pids+=($!)
$PTYB tcp-listen:"$FWD" tcp:127.0.0.1:"$UP" & pids+=($!)   # a bare port binds 127.0.0.1 only
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$FWD") 2>/dev/null && break; sleep 0.05; done

# Two clients, each with its own upstream connection; stdin's end half-closes, the reply still comes.
printf 'hello through the forward\n' | $PTYB - tcp:127.0.0.1:"$FWD"
printf 'and again\n' | $PTYB - tcp:127.0.0.1:"$FWD"
