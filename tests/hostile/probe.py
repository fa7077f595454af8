#!/usr/bin/env python3
"""probe.py - the kubelet of tests/hostile: GET /healthz every 0.25 s, 1 s budget per probe.

    python3 tests/hostile/probe.py PORT OUTFILE [HEAD_DELAY_S]

Its own small process (quick to start), so that a flood served by a case's Python threads cannot
delay a probe through the GIL and have that blamed on the controller. One JSON line per probe:
[start (CLOCK_MONOTONIC, shared by every process), seconds or null, HTTP status or why not].
Runs until SIGTERM; the probe in flight completes first. HEAD_DELAY_S (default 0): the request head
goes out that long after the connection is made, as from a kubelet on a busy node or across a real
network, where the head does not always arrive together with the connection (it counts against
the 1 s budget).
"""
import json
import re
import signal
import socket
import sys
import time

TIMEOUT_S = 1.0   # kubelet's default timeoutSeconds
EVERY_S = 0.25


def probe_once(port, head_delay):
    t0 = time.monotonic()
    s = socket.socket()
    s.settimeout(TIMEOUT_S)
    try:
        s.connect(("127.0.0.1", port))
        if head_delay:
            time.sleep(head_delay)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: kube-probe/1.20\r\n"
                  b"Accept: */*\r\nConnection: close\r\n\r\n")
        data = b""
        while b"\r\n" not in data:
            left = TIMEOUT_S - (time.monotonic() - t0)
            if left <= 0:
                raise socket.timeout()
            s.settimeout(left)
            d = s.recv(4096)
            if not d:
                break
            data += d
        dt = time.monotonic() - t0
        m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
        if m and dt <= TIMEOUT_S:
            return [t0, dt, int(m.group(1))]
        return [t0, None, "no status line (%r)" % data[:60]]
    except socket.timeout:
        return [t0, None, "timed out after %.2f s" % (time.monotonic() - t0)]
    except OSError as e:
        return [t0, None, "error %s" % e]
    finally:
        s.close()


def main(port, out, head_delay):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(out, "a") as f:
        while not stop:
            t0 = time.monotonic()
            f.write(json.dumps(probe_once(port, head_delay)) + "\n")
            f.flush()
            time.sleep(max(0.0, EVERY_S - (time.monotonic() - t0)))
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 0.0))
