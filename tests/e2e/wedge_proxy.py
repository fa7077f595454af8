#!/usr/bin/env python3
"""wedge_proxy.py - a TLS man in the middle that wedges watches, for the /healthz test.

    python3 wedge_proxy.py LISTEN_PORT UPSTREAM_PORT CERT KEY CA PATTERN

Terminates TLS on 127.0.0.1:LISTEN_PORT with CERT/KEY (the API server's own serving certificate, so
the controller's verification still passes) and forwards every connection to the real API server at
127.0.0.1:UPSTREAM_PORT over TLS verified with CA. A connection whose first request line contains
PATTERN (e.g. "watch=1" on pizzaorders) is forwarded upstream and its answer's first bytes (the
head) come back, then nothing more: the watch is connected and silent, while every other call is
answered. Loopback only; stops when killed.
"""
import socket
import ssl
import sys
import threading

listen_port, up_port, cert, key, ca, pattern = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6].encode()
server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
server_ctx.load_cert_chain(cert, key)
client_ctx = ssl.create_default_context(cafile=ca)
client_ctx.check_hostname = False


def pipe(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def handle(raw):
    try:
        c = server_ctx.wrap_socket(raw, server_side=True)
        first = c.recv(65536)
        u = client_ctx.wrap_socket(socket.create_connection(("127.0.0.1", up_port)))
        u.sendall(first)
        line = first.split(b"\r\n", 1)[0]
        if pattern in line and b"/pizzaorders" in line:
            # wedged: the answer's head is passed on (the watch is connected), nothing after it
            c.sendall(u.recv(65536))
            threading.Event().wait()
        threading.Thread(target=pipe, args=(u, c), daemon=True).start()
        pipe(c, u)
    except (OSError, ssl.SSLError):
        pass


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", listen_port))
ls.listen(64)
while True:
    conn, _ = ls.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
