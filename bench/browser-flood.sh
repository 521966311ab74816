#!/bin/sh
# The shell side of bench/browser-output.mjs: says ready, waits for Enter, runs one workload on
# its terminal (onlcr on, as a user's shell has it), then sets the title "bench-done" and waits.
#   browser-flood.sh cat FILE | yes BYTES
stty -echo
printf 'ready\r\n'
IFS= read -r _go
case "$1" in
  cat) cat "$2" ;;
  yes) yes | head -c "$2" ;;
esac
printf '\033]0;bench-done\007'
exec cat >/dev/null
