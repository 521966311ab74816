# Benchmark device: a pty pair whose master writes either tiny chunks (1-5 bytes) or a
# paced stream. Prints the slave path, waits for a line on stdin, writes, prints "done".
#   pty-writer.py tiny TOTAL        TOTAL bytes in writes of 1-5 bytes
#   pty-writer.py paced RATE SECS   RATE bytes/s in 16 KiB writes for SECS seconds
#   pty-writer.py flood WARM TOTAL  WARM bytes as fast as the pty takes them (64 KiB writes),
#                                   then, after another line on stdin, TOTAL bytes the same way
import os, sys, time, tty
m, s = os.openpty()
tty.setraw(s)
print(os.ttyname(s), flush=True)
sys.stdin.readline()
mode = sys.argv[1]
if mode == "tiny":
    total = int(sys.argv[2])
    data = bytes((i * 7 + 1) % 256 for i in range(4096))
    sizes = [1, 3, 5, 2, 4]
    off = 0
    i = 0
    w = os.write
    while off < total:
        n = sizes[i % 5]; i += 1
        if off + n > total: n = total - off
        j = off % 4000
        off += w(m, data[j:j + n])
elif mode == "flood":
    block = memoryview(os.urandom(65536))
    def flood(total):
        while total > 0:
            total -= os.write(m, block[:min(total, len(block))])
    flood(int(sys.argv[2]))
    sys.stdin.readline()
    flood(int(sys.argv[3]))
else:
    rate, secs = int(sys.argv[2]), float(sys.argv[3])
    chunk = b"x" * 16384
    start = time.monotonic(); sent = 0
    while True:
        now = time.monotonic() - start
        if now >= secs: break
        if sent > rate * now: time.sleep(0.001); continue
        sent += os.write(m, chunk)
print("done", flush=True)
sys.stdin.readline()
