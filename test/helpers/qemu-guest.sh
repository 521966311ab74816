#!/usr/bin/env bash
# Builds (once, cached) a tiny QEMU guest for the console tests: Debian's kernel and a busybox initramfs.
#
#   Usage: qemu-guest.sh [KERNEL]
# Prints two lines: the kernel path and the initramfs path. The guest boots with
# `-append 'console=ttyS0 quiet'` to a root shell on ttyS0 whose prompt is "guest# ".
# Given a KERNEL (a vmlinuz), only the initramfs is built and nothing is downloaded. Else
# Debian's kernel package is downloaded once (said on stderr; unpacked here, never
# installed). Needs: busybox-static; without KERNEL also apt-get and dpkg-deb.
# The cache is keyed by the kernel package's version and this
# script's /init, so a changed script or a kernel update builds a new one; building is
# atomic (temp dir, then rename), so parallel test runs may share it.
set -euo pipefail

CACHE=${PTYB_QEMU_CACHE:-${TMPDIR:-/tmp}/ptybridge-qemu-guest}
BUSYBOX=${BUSYBOX:-/bin/busybox}

# The guest's /init: mount what a shell needs, then a shell on the console (ttyS0).
# setsid + cttyhack give it a controlling tty, so that ^C works as on a real console.
INIT='#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
export PS1="guest# " HOME=/ PATH=/bin
echo "guest: up"
exec setsid cttyhack sh
'

fail() { echo "qemu-guest.sh: $*" >&2; exit 1; }

# The initramfs: busybox and /init, as an uncompressed newc cpio written to $1.
build_initramfs() {
  local root
  root=$(mktemp -d "$CACHE/.root.XXXXXX")
  mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
  cp "$BUSYBOX" "$root/bin/busybox"
  printf '%s' "$INIT" >"$root/init"
  chmod 0755 "$root/init" "$root/bin/busybox"
  # -R: owned by root, as the kernel unpacks it.
  (cd "$root" && find . | "$BUSYBOX" cpio -o -H newc -R 0:0 2>/dev/null) >"$1"
  rm -rf "$root"
}

check_busybox() {
  [ -x "$BUSYBOX" ] || fail "$BUSYBOX not found (apt-get install busybox-static)"
  case $("$BUSYBOX" cpio --help 2>&1 || true) in *'-o'*) ;; *) fail "$BUSYBOX has no 'cpio -o' (use busybox-static)" ;; esac
}

if [ $# -gt 0 ]; then
  # A local kernel: nothing to download, only the initramfs (cached by /init and busybox).
  [ -r "$1" ] && [ -s "$1" ] || fail "$1: not a readable kernel image"
  check_busybox
  mkdir -p "$CACHE"
  bbver=$("$BUSYBOX" 2>&1 || true)
  key=$(printf '%s\n' "$INIT" "${bbver%%$'\n'*}" | sha256sum | cut -c1-12)
  cpio="$CACHE/initramfs-$key.cpio"
  if [ ! -s "$cpio" ]; then
    build_initramfs "$cpio.$$"
    mv -f "$cpio.$$" "$cpio"
  fi
  echo "$1"
  echo "$cpio"
  exit 0
fi

# linux-image-amd64 is a metapackage: its dependency names the real package (linux-image-6.1.0-NN-amd64).
# (Whole outputs are read before picking a line: `| head -1` would kill the writer with SIGPIPE under pipefail.)
deps=$(apt-cache depends linux-image-amd64 2>/dev/null || true)
pkg=$(sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' <<<"$deps" | sed -n 1p)
[ -n "$pkg" ] || fail "apt-cache knows no linux-image-amd64 (run apt-get update)"
show=$(apt-cache show "$pkg" 2>/dev/null || true)
ver=$(sed -n 's/^Version: //p' <<<"$show" | sed -n 1p)
bbver=$("$BUSYBOX" 2>&1 || true)
key=$(printf '%s\n' "$pkg $ver" "$INIT" "${bbver%%$'\n'*}" | sha256sum | cut -c1-12)
dir="$CACHE/$pkg-$key"

if [ ! -s "$dir/vmlinuz" ] || [ ! -s "$dir/initramfs.cpio" ]; then
  check_busybox
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/.build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # apt-get download writes into the current directory; as root its sandbox user _apt must
  # be able to write there too, hence the chmod (the files are ours again right after).
  chmod 0777 "$tmp"
  size=$(sed -n 's/^Size: //p' <<<"$show" | sed -n 1p)
  echo "qemu-guest.sh: downloading Debian's $pkg $ver ($(( ${size:-0} / 1048576 )) MiB, once; unpacked into $CACHE, never installed); give a kernel path to use a local one" >&2
  (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>"$tmp/apt.log") || fail "apt-get download $pkg failed: $(tail -3 "$tmp/apt.log")"
  deb=$(ls "$tmp"/*.deb)
  # Only the kernel image; its modules (most of the package) are not needed: the serial
  # console and initramfs support are built into Debian's kernel.
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*'
  mv "$tmp"/boot/vmlinuz-* "$tmp/vmlinuz"
  rm -rf "$deb" "$tmp/boot"

  build_initramfs "$tmp/initramfs.cpio"
  rm -f "$tmp/apt.log"
  chmod 0755 "$tmp"
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp" # another run finished first: use theirs
  trap - EXIT
fi
echo "$dir/vmlinuz"
echo "$dir/initramfs.cpio"
