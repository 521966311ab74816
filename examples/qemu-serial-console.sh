#!/usr/bin/env bash
# A QEMU guest's serial console in the browser and on telnet (not run in CI: needs qemu and
# a disk image).  Usage: examples/qemu-serial-console.sh disk.qcow2 [http-port] [telnet-port]
set -euo pipefail
cd "$(dirname "$0")/.."
PTYB=${PTYBRIDGE:-"node dist/ptybridge.mjs"}
IMG=${1:?usage: $0 disk.qcow2 [http-port] [telnet-port]}
HTTP=${2:-8080}
TELNET=${3:-7000}
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

# QEMU prints "char device redirected to /dev/pts/N (label serial0)" on stderr.
log=$(mktemp)
qemu-system-x86_64 -m 1024 -nographic -display none -serial pty -monitor none -drive "file=$IMG,if=virtio" 2>"$log" & pids+=($!)
for _ in $(seq 100); do grep -q 'redirected to /dev/pts/' "$log" && break; sleep 0.1; done
PTS=$(grep -o '/dev/pts/[0-9]*' "$log" | head -1)
echo "guest serial console on $PTS"

# One shared console: the browser page and telnet peers see the same screen (the hub);
# a second ptybridge would open the pty twice, so both listeners live in one config.
cfg=$(mktemp --suffix=.yaml)
cat >"$cfg" <<YAML
version: 1
routes:
  - name: guest-web
    left: pty:$PTS
    right: ws-listen:127.0.0.1:$HTTP
    options: { log: /tmp/qemu-guest.log }
YAML
echo "open the http://127.0.0.1:$HTTP/?token=… URL ptybridge prints (ssh -L $HTTP:127.0.0.1:$HTTP this-host from elsewhere)"
$PTYB --config "$cfg"
