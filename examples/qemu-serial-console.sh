#!/usr/bin/env bash
# A QEMU guest's serial console through its unix socket, shared: a browser page and a telnet port
# on the same console, both kept across the VM's restarts.
#   Usage: examples/qemu-serial-console.sh [disk.qcow2] [http-port] [telnet-port]
#          KERNEL=/path/to/vmlinuz examples/qemu-serial-console.sh
# Without a disk image it boots the tests' tiny guest: a busybox shell (built and cached by
# test/helpers/qemu-guest.sh) on a kernel: $KERNEL, else the newest readable /boot/vmlinuz-*,
# else Debian's kernel package, DOWNLOADED once with apt-get download (unpacked into
# /tmp/ptybridge-qemu-guest, never installed; the script says so first). Press Enter to
# restart the VM.
# Why a socket and not -serial pty: a pty's number is no name. When the guest stops, its
# /dev/pts/N goes away and the kernel gives N to the next terminal anybody opens; ptybridge
# never reopens a lost /dev/pts/N (the route ends and says so). With a pty, name the symlink
# QEMU >= 9 keeps (-chardev pty,id=ser0,path=LINK; pty:LINK is followed once it is re-made).
set -euo pipefail
cd "$(dirname "$0")/.."
PTYB=${PTYBRIDGE:-"node dist/ptybridge.mjs"}
IMG=${1:-}
HTTP=${2:-8080}
TELNET=${3:-7000}
dir=$(mktemp -d)
SOCK=$dir/vm.serial0
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT

if [ -n "$IMG" ]; then
  boot=(-drive "file=$IMG,if=virtio")
else
  # A local kernel when there is one: nothing is downloaded.
  KERNEL=${KERNEL:-$(for k in $(ls -v /boot/vmlinuz-* 2>/dev/null); do [ -r "$k" ] && echo "$k"; done | tail -n 1)}
  if [ -n "$KERNEL" ]; then
    echo "booting the kernel $KERNEL (KERNEL=path to choose another)"
  else
    echo "no readable /boot/vmlinuz-* and no KERNEL=path: downloading Debian's kernel package once (apt-get download, cached in /tmp/ptybridge-qemu-guest, not installed)"
  fi
  { read -r kernel; read -r initrd; } < <(test/helpers/qemu-guest.sh ${KERNEL:+"$KERNEL"})
  boot=(-kernel "$kernel" -initrd "$initrd" -append 'console=ttyS0 quiet')
fi

# QEMU serves the guest's first serial port (its ttyS0) on a unix socket that takes one
# client at a time, at the same path after every restart (as Proxmox does with
# /var/run/qemu-server/ID.serial0, and libvirt with <serial type='unix'>).
start_vm() {
  qemu-system-x86_64 -m 512 -display none -monitor none "${boot[@]}" -serial "unix:$SOCK,server=on,wait=off" &
  vm=$!
  pids+=("$vm")
}
start_vm

# ptybridge is that one client and shares it (?share): every browser and telnet peer sees the
# same console. When the VM goes away the peers stay, are told, and ptybridge reconnects
# once the socket is back (a socket not there yet at start is waited for the same way).
$PTYB --log "$dir/console.log" "unix:$SOCK?share" \
  "ws-listen:127.0.0.1:$HTTP" "tcp-listen:127.0.0.1:$TELNET?telnet" &
pids+=($!)
echo "open the http://127.0.0.1:$HTTP/?token=… URL ptybridge prints (ssh -L $HTTP:127.0.0.1:$HTTP this-host from elsewhere), or: telnet 127.0.0.1 $TELNET"
echo "Enter: restart the VM (the peers stay connected); ^C: stop"
while read -r _; do
  kill "$vm" 2>/dev/null || true
  wait "$vm" 2>/dev/null || true
  start_vm
done
wait
