#!/usr/bin/env python3
"""A deterministic flood on its terminal, for the browser flow-control tests and bench.

flood.py BYTES [PROGRESS_FILE]: puts the tty in raw mode without echo or output processing
(the bytes written are the bytes the page gets), says "ready", waits for one key, then writes
BYTES // 100 lines of 100 bytes (line i: "%08d " + 89 letters from i % 26, CR LF) and
"END <lines>" CR LF, and then waits on its input without ending (the page keeps its session).
Each key typed during the flood is answered, in the stream, with an OSC title "echo-<n>"
(bench/browser-output.mjs measures the echo's latency with it). PROGRESS_FILE, if given,
holds the bytes written so far (a test sees where a blocked writer stopped).
"""
import os
import select
import sys
import termios
import tty

total = int(sys.argv[1])
progress = sys.argv[2] if len(sys.argv) > 2 else None
tty.setraw(0)
attrs = termios.tcgetattr(1)
attrs[1] &= ~termios.OPOST
attrs[3] &= ~termios.ECHO
termios.tcsetattr(1, termios.TCSANOW, attrs)

ALPHABET = b"abcdefghijklmnopqrstuvwxyz" * 5


def line(i: int) -> bytes:
    return b"%08d " % i + ALPHABET[i % 26 : i % 26 + 89] + b"\r\n"


def write_all(data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(1, view)
        view = view[n:]


echoes = 0


def answer_keys() -> None:
    global echoes
    while select.select([0], [], [], 0)[0]:
        got = os.read(0, 4096)
        if not got:
            sys.exit(0)
        for _ in got:
            echoes += 1
            write_all(b"\x1b]0;echo-%d\x07" % echoes)


write_all(b"ready\r\n")
os.read(0, 1)
lines = total // 100
written = 0
i = 0
CHUNK = 655  # lines per write: 65,500 bytes
while i < lines:
    n = min(CHUNK, lines - i)
    write_all(b"".join(line(j) for j in range(i, i + n)))
    i += n
    written += n * 100
    answer_keys()
    if progress:
        with open(progress + ".tmp", "w") as f:
            f.write(str(written))
        os.replace(progress + ".tmp", progress)
write_all(b"END %d\r\n" % lines)
while True:
    select.select([0], [], [])
    answer_keys()
