# A stand-in for QEMU's serial pty: opens a pty pair, prints the slave path, then obeys
# commands on stdin and reports what the device side receives on stdout.
#   stdin:  "say HEX" writes bytes to the master; "file PATH" writes a file's bytes;
#           "quit" closes the master (the VM goes away); "hold" stops reading the master
#           (a VM that stopped taking input), "release" reads it again.
#   stdout: "slave PATH" once, then "rx HEX" for every read from the master.
import os, select, sys, tty

link = sys.argv[1] if len(sys.argv) > 1 else None
m, s = os.openpty()
tty.setraw(s)  # QEMU makes its pty raw too
name = os.ttyname(s)
if link:
    try: os.unlink(link)
    except FileNotFoundError: pass
    os.symlink(name, link)
# Keep the slave open ourselves, so that the master never reads EIO between clients.
print("slave", name, flush=True)
os.write(m, b"login: ")
out = sys.stdout
stdin = sys.stdin.buffer
buf = b""
running = True
holding = False
while running:
    r, _, _ = select.select([0] if holding else [m, 0], [], [])
    if m in r:
        try:
            d = os.read(m, 65536)
        except OSError:
            d = b""
        if d:
            out.write("rx " + d.hex() + "\n"); out.flush()
    if 0 in r:
        chunk = os.read(0, 65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            cmd, _, arg = line.decode().partition(" ")
            if cmd == "say":
                os.write(m, bytes.fromhex(arg))
            elif cmd == "file":
                data = open(arg, "rb").read()
                view = memoryview(data)
                while view:
                    # blocking write while still draining what the device side sends us
                    rr, ww, _ = select.select([m], [m], [])
                    if m in rr:
                        try:
                            d = os.read(m, 65536)
                            if d: out.write("rx " + d.hex() + "\n"); out.flush()
                        except OSError: pass
                    if m in ww:
                        n = os.write(m, view[:65536])
                        view = view[n:]
                out.write("sent\n"); out.flush()
            elif cmd == "hold":
                holding = True
            elif cmd == "release":
                holding = False
            elif cmd == "quit":
                running = False
                break
if link:
    try: os.unlink(link)
    except FileNotFoundError: pass
os.close(m)
os.close(s)
