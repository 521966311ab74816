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

# A pty's number is no name: when the guest stops, its /dev/pts/N goes away and the kernel
# gives N to the next terminal anybody opens (an ssh login, another VM). ptybridge never
# reopens a lost /dev/pts/N: the route ends and says so. A name that lasts:
#  - QEMU >= 9: -chardev pty,path=LINK keeps a symlink to the current pty; ptybridge follows
#    it again only once QEMU has re-made it (a stale link to a reused number is not followed);
#  - any QEMU: the console on a unix socket (-serial unix:SOCK,server=on,wait=off), shared
#    with unix:SOCK?share, reconnected when the guest restarts.
link=$(mktemp -u /tmp/qemu-serial0.XXXXXX)
log=$(mktemp)
ver=$(qemu-system-x86_64 --version | grep -o 'version [0-9]*' | grep -o '[0-9]*$')
if [ "${ver:-0}" -ge 9 ]; then
  serial=(-chardev "pty,id=ser0,path=$link" -serial chardev:ser0)
else
  serial=(-serial pty)   # QEMU 7/8: no link; the route ends when the guest stops
fi
qemu-system-x86_64 -m 1024 -nographic -display none "${serial[@]}" -monitor none -drive "file=$IMG,if=virtio" 2>"$log" & pids+=($!)
# QEMU prints "char device redirected to /dev/pts/N (label ser0)" on stderr.
for _ in $(seq 100); do grep -q 'redirected to /dev/pts/' "$log" && break; sleep 0.1; done
if [ -L "$link" ]; then DEV=$link; else DEV=$(grep -o '/dev/pts/[0-9]*' "$log" | head -1); fi
echo "guest serial console on $DEV"

# One shared console: the browser page and telnet peers see the same screen (the hub);
# a second ptybridge would open the pty twice, so both listeners live in one config.
cfg=$(mktemp --suffix=.yaml)
cat >"$cfg" <<YAML
version: 1
routes:
  - name: guest-web
    left: pty:$DEV
    right: ws-listen:127.0.0.1:$HTTP
    options: { log: /tmp/qemu-guest.log }
YAML
echo "open the http://127.0.0.1:$HTTP/?token=… URL ptybridge prints (ssh -L $HTTP:127.0.0.1:$HTTP this-host from elsewhere)"
$PTYB --config "$cfg"
