#!/usr/bin/env python3
"""slowloris.py - clients that hold a probe port, for tests/hostile's starved-probe cases.

    python3 tests/hostile/slowloris.py PORT SILENT PARTIAL CHURN OUTFILE

SILENT connections send nothing; PARTIAL ones send a request head one byte every 0.5 s that never
ends. Each reconnects as soon as the server drops it; with CHURN=1 the loop does not pause between
rounds, so evicted clients come back at once. Its own process, like probe.py, so that the attack
and the probes do not share a GIL. Runs until SIGTERM, then writes the number of connections made
to OUTFILE.
"""
import signal
import socket
import sys
import time


def main(port, n_silent, n_partial, churn, out):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    part = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4000
    socks, connects, rnd = {}, 0, 0
    while not stop:
        for k in range(n_silent + n_partial):
            s = socks.get(k)
            if s is None:
                try:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=0.5)
                    sock.setblocking(False)
                    socks[k] = [sock, 0]
                    connects += 1
                except OSError:
                    pass
                continue
            sock, pos = s
            try:
                if sock.recv(1024) == b"":
                    raise OSError("closed")
            except BlockingIOError:
                pass
            except OSError:
                sock.close()
                del socks[k]
                continue
            if k >= n_silent and rnd % 5 == 0 and pos < len(part):
                try:
                    sock.send(part[pos:pos + 1])
                    s[1] += 1
                except OSError:
                    pass
        rnd += 1
        time.sleep(0.001 if churn else 0.1)
    for s in socks.values():
        s[0].close()
    with open(out, "w") as f:
        f.write("%d\n" % connects)
    return 0


if __name__ == "__main__":
    a = sys.argv[1:]
    sys.exit(main(int(a[0]), int(a[1]), int(a[2]), a[3] == "1", a[4]))
