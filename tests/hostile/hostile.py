#!/usr/bin/env python3
"""hostile.py - a hostile fake Kubernetes API server, and the controller run against it.

    python3 tests/hostile/hostile.py [--jobs N] [--case NAME[,NAME...]] [--list] [BINARY]

A fake kube-apiserver over real TLS (Python's ssl; certificates made with the openssl CLI in a
temporary folder) that is sane enough for one order, o1, to get its oven Pod and its status. Each case
starts the server in a hostile mode, starts the controller against it through a kubeconfig, keeps
the hostile behaviour for a few seconds, then turns the server sane and requires convergence. Per
case every one of these is a check: no crash and no sanitizer report; bounded peak RSS; /healthz
answered within 1 s throughout; request counts under the per-resource ceiling; no injected byte on
the wire; every log line parses (tests/logcheck.py); convergence. Some cases add their own checks
(a Retry-After honoured, a TLS refusal named in the log, a token rotation picked up at once, ...).

Cases run in parallel, each in its own process (its own server, controller and ports), so that one
case's flood does not skew another's timings through Python's GIL. The last line printed is
"hostile: N passed, N failed"; the exit status is 1 when anything failed. HOSTILE_KEEP=1 keeps the
work folder (it is kept anyway when a check failed). Python 3 standard library only, plus openssl.
"""
import argparse
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid as uuidlib
from email.utils import formatdate

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LOGCHECK = os.path.join(ROOT, "tests", "logcheck.py")

# The controller's documented limits this suite holds it to (src/watch.h, src/kube.h, README).
RATE_BURST, RATE_PER_S = 40, 5          # per-resource request bucket
RATE_SLACK = 10                         # reconcile, Event and Lease calls ride outside the bucket
RSS_LIMIT_KIB = 4096                    # the product's memory limit
PROBE_TIMEOUT_S = 1.0                   # kubelet's default probe timeout (probe.py has the same)
RETRY_AFTER_MAX_S = 300                 # KUBE_RETRY_AFTER_MAX_MS
HOSTILE_S = 5.0                         # default length of the hostile phase
# Convergence deadline after the switch. A watch that failed for the whole 5 s hostile phase sleeps
# up to 8 s (0.5 s doubling, jittered, src/watch.c) before its next try, and a reconcile up to
# --requeue-failed-max (2 s here): 20 s covers both with room for a loaded 2-core machine. Measured
# on this machine, 5 cases at a time: 7.3 s at most. Cases whose first try after the switch may
# legitimately fail once more (credentials) or whose hostile phase is longer set their own.
CONVERGE_S = 20.0

TOKEN = "hostile-token-0123456789abcdef"
TOKEN2 = "rotated-token-fedcba9876543210"
INJ = b"X-Injected"                      # the header a hostile value tries to smuggle in
PAYLOAD = "\r\nX-Injected: yes"
FORGED = '"\nts=1999-01-01T00:00:00.000Z level=error msg=INJECTED'

SAN_MARKS = (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer", b"runtime error:",
             b"SUMMARY: AddressSanitizer", b"SUMMARY: UndefinedBehaviorSanitizer")

DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?"
# Every request the controller may send, with namespaces and names as Kubernetes allows them: a path
# that does not match was built from a value that should never have reached a URL.
ROUTES = [
    ("list-orders", "GET", r"/apis/pizzeria\.example\.com/v1/pizzaorders"),
    ("list-pods", "GET", r"/api/v1/pods"),
    ("get-order", "GET", r"/apis/pizzeria\.example\.com/v1/namespaces/(?P<ns>%s)/pizzaorders/(?P<name>%s)"
     % (DNS_LABEL, DNS_SUBDOMAIN)),
    ("patch-status", "PATCH", r"/apis/pizzeria\.example\.com/v1/namespaces/(?P<ns>%s)/pizzaorders/(?P<name>%s)/status"
     % (DNS_LABEL, DNS_SUBDOMAIN)),
    ("post-pod", "POST", r"/api/v1/namespaces/(?P<ns>%s)/pods" % DNS_LABEL),
    ("get-pod", "GET", r"/api/v1/namespaces/(?P<ns>%s)/pods/(?P<name>%s)" % (DNS_LABEL, DNS_SUBDOMAIN)),
    ("delete-pod", "DELETE", r"/api/v1/namespaces/(?P<ns>%s)/pods/(?P<name>%s)" % (DNS_LABEL, DNS_SUBDOMAIN)),
    ("post-event", "POST", r"/api/v1/namespaces/(?P<ns>%s)/events" % DNS_LABEL),
    ("patch-event", "PATCH", r"/api/v1/namespaces/(?P<ns>%s)/events/(?P<name>%s)" % (DNS_LABEL, DNS_SUBDOMAIN)),
    ("lease-get", "GET", r"/apis/coordination\.k8s\.io/v1/namespaces/(?P<ns>%s)/leases/(?P<name>%s)"
     % (DNS_LABEL, DNS_SUBDOMAIN)),
    ("lease-put", "PUT", r"/apis/coordination\.k8s\.io/v1/namespaces/(?P<ns>%s)/leases/(?P<name>%s)"
     % (DNS_LABEL, DNS_SUBDOMAIN)),
    ("lease-patch", "PATCH", r"/apis/coordination\.k8s\.io/v1/namespaces/(?P<ns>%s)/leases/(?P<name>%s)"
     % (DNS_LABEL, DNS_SUBDOMAIN)),
    ("lease-post", "POST", r"/apis/coordination\.k8s\.io/v1/namespaces/(?P<ns>%s)/leases" % DNS_LABEL),
]
ROUTES = [(k, m, re.compile(p + r"\Z")) for k, m, p in ROUTES]
# Query strings: only characters a percent-encoder leaves plain, '%XX', '=' and '&'.
QUERY_OK = re.compile(r"(?:[A-Za-z0-9._~=&-]|%[0-9A-F]{2})*\Z")
REQUEST_LINE = re.compile(rb"([A-Z]+) ([!-~]+) HTTP/1\.1\Z")


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def jdump(o):
    return json.dumps(o, separators=(",", ":")).encode()


# ---------------------------------------------------------------- certificates

CA_CNF = """[ ca ]
default_ca = any
[ any ]
database = db/index.txt
new_certs_dir = db
serial = db/serial
policy = policy_any
unique_subject = no
default_md = sha256
copy_extensions = none
[ policy_any ]
commonName = optional
organizationName = optional
"""
CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
SRV_EXT = ("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
           "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")


def make_certs(d):
    """The CA the kubeconfig trusts, a good serving certificate, and one certificate per TLS refusal
    case. `openssl ca` because it is the only openssl 3.0 command that sets arbitrary dates (the
    expired one); keys are EC P-256 (fast), as tests/data/tls/matrix.sh makes them."""
    os.makedirs(os.path.join(d, "db"), exist_ok=True)
    open(os.path.join(d, "db", "index.txt"), "w").close()
    with open(os.path.join(d, "db", "serial"), "w") as f:
        f.write("1000\n")
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write(CA_CNF)
    t = int(time.time())
    stamp = lambda s: time.strftime("%Y%m%d%H%M%SZ", time.gmtime(s))
    start, end = stamp(t - 86400), stamp(t + 30 * 86400)

    def run(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    def cert(name, issuer, subj, ext, s=start, e=end):
        run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name + ".key")
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext)
        run("req", "-new", "-key", name + ".key", "-subj", subj, "-out", name + ".csr")
        signer = ["-selfsign", "-keyfile", name + ".key"] if issuer == "self" else \
            ["-cert", issuer + ".pem", "-keyfile", issuer + ".key"]
        run("ca", "-batch", "-config", "ca.cnf", *signer, "-in", name + ".csr", "-out", name + ".pem", "-notext",
            "-preserveDN", "-startdate", s, "-enddate", e, "-extfile", name + ".ext")

    cert("ca", "self", "/O=pizza-hostile/CN=hostile-ca", CA_EXT)
    cert("other-ca", "self", "/O=pizza-hostile/CN=other-ca", CA_EXT)
    cert("good", "ca", "/CN=kube-apiserver", SRV_EXT)
    cert("eku-client", "ca", "/CN=kube-apiserver",
         "extendedKeyUsage=clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
    cert("cn-only", "ca", "/CN=127.0.0.1", "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n")
    cert("expired", "ca", "/CN=kube-apiserver", SRV_EXT, "20200101000000Z", "20210101000000Z")
    cert("self-signed", "self", "/CN=kube-apiserver", SRV_EXT)
    cert("wrong-ca", "other-ca", "/CN=kube-apiserver", SRV_EXT)


def tls_contexts(d):
    ctxs = {}
    for name in ("good", "eku-client", "cn-only", "expired", "self-signed", "wrong-ca"):
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        c.load_cert_chain(os.path.join(d, name + ".pem"), os.path.join(d, name + ".key"))
        ctxs[name] = c
    # A TLS-1.0-only server: Debian's OpenSSL 3 allows it at security level 0.
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            c.minimum_version = ssl.TLSVersion.TLSv1
            c.maximum_version = ssl.TLSVersion.TLSv1
            c.set_ciphers("DEFAULT:@SECLEVEL=0")
            c.load_cert_chain(os.path.join(d, "good.pem"), os.path.join(d, "good.key"))
            ctxs["tls10"] = c
    except (ValueError, ssl.SSLError):
        pass
    return ctxs


# ---------------------------------------------------------------- HTTP plumbing

class Conn:
    """One accepted connection (TLS or, for a stalled handshake, raw TCP). Only the thread serving
    it closes its descriptor: another thread (the switch, the end of a case) only shuts it down.
    Closing it under a thread still writing would let that thread's TLS object write into whatever
    socket or pipe reuses the number next, such as a new connection of the controller."""
    next_id = 0
    ids = threading.Lock()

    def __init__(self, sock):
        with Conn.ids:
            Conn.next_id += 1
            self.id = Conn.next_id
        self.sock = sock
        self.owner = threading.current_thread()
        self.released = False
        self.buf = b""
        self.closed = False
        self.hostile = False          # touched by a hostile handler: closed at the switch
        self.poisoned_at = None       # unsolicited bytes sent on it at this time
        self.doubled_at = None        # two answers sent for one request at this time
        self.flood = False            # a flood went out on it
        self.sent = 0

    def send(self, data):
        if self.closed:
            return False
        try:
            self.sock.sendall(data)
            self.sent += len(data)
            return True
        except (OSError, ValueError):
            self.close()
            return False

    def close(self):
        self.closed = True
        try:
            # the plain socket's shutdown: SSLSocket's own would drop its TLS state under the owner
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)
        except (OSError, ValueError):
            pass
        if threading.current_thread() is self.owner and not self.released:
            self.released = True
            try:
                self.sock.close()
            except (OSError, ValueError):
                pass


class Req:
    def __init__(self, conn, raw, t):
        self.conn, self.raw, self.t = conn, raw, t
        self.method = self.target = self.path = self.query_s = ""
        self.query = {}
        self.headers = []
        self.body = b""
        self.bad = None
        self.kind = "other"
        self.ns = self.name = None
        self.token = None
        self.status = None            # what the fake server answered (for evidence)

    @property
    def resource(self):
        p = self.path
        for r in ("pizzaorders", "pods", "leases", "events"):
            if "/" + r in p:
                return r
        return "other"

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def short(self):
        return "%s %s -> %s" % (self.method, self.target[:160], self.status)


def parse_head(conn, head, t):
    """The request head as bytes: checked for anything a hostile value could have smuggled in."""
    r = Req(conn, head, t)
    lines = head.split(b"\r\n")
    m = REQUEST_LINE.match(lines[0])
    if not m:
        r.bad = "malformed request line %r" % lines[0][:200]
        return r
    r.method, r.target = m.group(1).decode(), m.group(2).decode()
    r.path, _, r.query_s = r.target.partition("?")
    for kv in r.query_s.split("&") if r.query_s else []:
        k, _, v = kv.partition("=")
        r.query.setdefault(k, []).append(urlunquote(v))
    for ln in lines[1:]:
        if not ln:
            continue
        k, sep, v = ln.partition(b":")
        if not sep or not re.match(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z", k):
            r.bad = "malformed header line %r" % ln[:200]
            continue
        r.headers.append((k.decode("latin-1"), v.strip().decode("latin-1")))
    auth = r.header("Authorization")
    if auth and auth.startswith("Bearer "):
        r.token = auth[7:]
    for kind, method, rx in ROUTES:
        mm = rx.match(r.path)
        if mm and method == r.method:
            r.kind = kind
            r.ns, r.name = mm.groupdict().get("ns"), mm.groupdict().get("name")
            break
    if r.kind in ("list-orders", "list-pods") and r.query.get("watch") == ["1"]:
        r.kind = "watch-" + r.kind[5:]
    return r


def urlunquote(s):
    out = bytearray()
    i = 0
    while i < len(s):
        if s[i] == "%" and i + 2 < len(s) + 0 and re.match(r"[0-9A-Fa-f]{2}", s[i + 1:i + 3]):
            out.append(int(s[i + 1:i + 3], 16))
            i += 3
        else:
            out += s[i].encode()
            i += 1
    return out.decode("utf-8", "replace")


def read_request(api, conn):
    """The next request on conn, or None when it closed (or the server stops)."""
    while b"\r\n\r\n" not in conn.buf:
        if len(conn.buf) > 256 * 1024:
            return None
        d = recv(api, conn)
        if not d:
            return None
        conn.buf += d
    head, _, rest = conn.buf.partition(b"\r\n\r\n")
    t = time.monotonic()
    r = parse_head(conn, head, t)
    n = 0
    cl = r.header("Content-Length")
    if cl and cl.isdigit():
        n = int(cl)
    while len(rest) < n:
        d = recv(api, conn)
        if not d:
            return None
        rest += d
    r.body, conn.buf = rest[:n], rest[n:]
    r.raw = head + b"\r\n\r\n" + r.body
    return r


def recv(api, conn):
    while not api.stopping and not conn.closed:
        try:
            d = conn.sock.recv(65536)
            return d
        except socket.timeout:
            continue
        except (OSError, ValueError):
            return b""
    return b""


REASONS = {100: "Continue", 101: "Switching Protocols", 102: "Processing", 200: "OK", 201: "Created",
           400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
           410: "Gone", 422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
           503: "Service Unavailable"}


def response(status, body=b"", ctype="application/json", extra=()):
    if isinstance(body, (dict, list)):
        body = jdump(body)
    h = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "X")), "Cache-Control: no-cache, private",
         "Content-Type: " + ctype, "Date: " + formatdate(usegmt=True)]
    h += list(extra)
    h.append("Content-Length: %d" % len(body))
    return ("\r\n".join(h) + "\r\n\r\n").encode("latin-1") + body


def stream_head(status=200, extra=()):
    h = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "X")), "Cache-Control: no-cache, private",
         "Content-Type: application/json", "Date: " + formatdate(usegmt=True), "Transfer-Encoding: chunked"]
    h += list(extra)
    return ("\r\n".join(h) + "\r\n\r\n").encode("latin-1")


def chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"


def status_obj(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


def status_resp(code, reason, message, extra=()):
    return response(code, status_obj(code, reason, message), extra=extra)


# ---------------------------------------------------------------- the fake API server

class Api:
    """A kube-apiserver as far as the controller uses one: objects in memory, a resourceVersion
    counter, an event history per resource for watches, and a log of every request. While
    `hostile` is set, the case's handler sees each request first."""

    def __init__(self, case, ctxs, workdir):
        self.case = case
        self.ctxs = ctxs
        self.dir = workdir
        self.cv = threading.Condition()
        self.rv = 100
        self.history = {"orders": [], "pods": []}   # (rv, type, obj)
        self.orders = {}
        self.pods = {}
        self.events = {}
        self.lease = None
        self.requests = []
        self.conns = []
        self.hostile = True
        self.stopping = False
        self.handshakes_failed = 0
        self.tls_data_before_switch = 0
        self.pod_created_at = None
        self.status_patched_at = None
        self.token_ok = {TOKEN}
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(128)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.add_order(order_obj("default", "o1", 1, ["cheese"]))
        threading.Thread(target=self.accept_loop, daemon=True).start()

    # -- state
    def bump(self):
        self.rv += 1
        return str(self.rv)

    def add_order(self, o):
        with self.cv:
            o["metadata"]["resourceVersion"] = self.bump()
            key = (o["metadata"]["namespace"], o["metadata"]["name"])
            typ = "MODIFIED" if key in self.orders else "ADDED"
            self.orders[key] = o
            self.history["orders"].append((self.rv, typ, json.loads(jdump(o))))
            self.cv.notify_all()

    def add_pod(self, p):
        with self.cv:
            p["metadata"]["resourceVersion"] = self.bump()
            key = (p["metadata"]["namespace"], p["metadata"]["name"])
            self.pods[key] = p
            self.history["pods"].append((self.rv, "ADDED", json.loads(jdump(p))))
            self.cv.notify_all()

    def converged(self):
        with self.cv:
            o = self.orders.get(("default", "o1"))
            st = (o or {}).get("status") or {}
            return ("default", "o1-oven") in self.pods and st.get("ovenPod") == "o1-oven" and bool(st.get("phase"))

    def switch_to_sane(self):
        self.case.on_switch(self)
        with self.cv:
            self.hostile = False
            self.cv.notify_all()
        for c in list(self.conns):
            if c.hostile:
                c.close()   # as a restarted API server's sockets would be

    def stop(self):
        self.stopping = True
        with self.cv:
            self.cv.notify_all()
        for c in list(self.conns):
            c.close()

    # -- connections
    def accept_loop(self):
        # This thread alone closes the listening socket (see Conn).
        while not self.stopping:
            try:
                s, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            s.settimeout(None)
            threading.Thread(target=self.serve, args=(s,), daemon=True).start()
        self.lsock.close()

    def serve(self, raw):
        conn = Conn(raw)
        self.conns.append(conn)
        mode = self.case.tls_mode(self) if self.hostile else "good"
        if mode == "stall":
            # TCP accepted, TLS never answered: hold the socket until the switch or the end.
            conn.hostile = True
            while not self.stopping and not conn.closed and self.hostile:
                time.sleep(0.1)
            conn.close()
            return
        raw.settimeout(5)
        try:
            conn.sock = self.ctxs[mode].wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError, ValueError):
            self.handshakes_failed += 1
            conn.close()
            return
        conn.sock.settimeout(0.5)
        if mode != "good":
            conn.hostile = True
        try:
            while not self.stopping and not conn.closed:
                req = read_request(self, conn)
                if req is None:
                    break
                self.requests.append(req)
                if mode != "good":
                    self.tls_data_before_switch += 1
                if req.bad:
                    req.status = "closed (bad request)"
                    break
                if not self.authorized(req, conn):
                    continue
                if self.hostile and self.case.hostile(self, conn, req):
                    conn.hostile = True
                    if req.status is None:
                        req.status = "hostile"
                    continue
                self.sane(conn, req)
        except Exception:
            with open(os.path.join(self.dir, "server-errors.txt"), "a") as f:
                f.write(traceback.format_exc())
        finally:
            conn.close()

    def authorized(self, req, conn):
        if req.token in self.token_ok and not (self.hostile and self.case.unauthorized(self, req)):
            return True
        req.status = 401
        conn.send(status_resp(401, "Unauthorized", "Unauthorized"))
        return False

    # -- sane behaviour
    def sane(self, conn, req):
        k = req.kind
        try:
            body = json.loads(req.body) if req.body else None
        except ValueError:
            body = None
        if k in ("list-orders", "list-pods"):
            req.status = 200
            conn.send(response(200, self.list_body(k[5:])))
        elif k in ("watch-orders", "watch-pods"):
            req.status = 200
            self.watch(conn, req, "orders" if k == "watch-orders" else "pods")
        elif k == "get-order":
            o = self.orders.get((req.ns, req.name))
            req.status = 200 if o else 404
            conn.send(response(200, o) if o else status_resp(404, "NotFound", 'pizzaorders.pizzeria.example.com '
                                                                              '"%s" not found' % req.name))
        elif k == "patch-status":
            with self.cv:
                o = self.orders.get((req.ns, req.name))
                if o is None:
                    req.status = 404
                    conn.send(status_resp(404, "NotFound", "not found"))
                    return
                if not isinstance(body, dict) or not isinstance(body.get("status"), dict):
                    req.status = 400
                    conn.send(status_resp(400, "BadRequest", "no status in the apply configuration"))
                    return
                o = json.loads(jdump(o))
                o["status"] = body["status"]
                self.add_order(o)
                if self.status_patched_at is None and o["status"].get("ovenPod"):
                    self.status_patched_at = time.monotonic()
            req.status = 200
            conn.send(response(200, o))
        elif k == "post-pod":
            if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
                req.status = 400
                conn.send(status_resp(400, "BadRequest", "not a Pod"))
                return
            name = body["metadata"].get("name")
            with self.cv:
                if (req.ns, name) in self.pods:
                    req.status = 409
                    conn.send(status_resp(409, "AlreadyExists", 'pods "%s" already exists' % name))
                    return
                body["metadata"].update(namespace=req.ns, uid=str(uuidlib.uuid4()),
                                        creationTimestamp=now_rfc3339())
                body["status"] = {"phase": "Pending"}
                self.add_pod(body)
                if self.pod_created_at is None:
                    self.pod_created_at = time.monotonic()
            req.status = 201
            conn.send(response(201, body))
        elif k == "get-pod":
            p = self.pods.get((req.ns, req.name))
            req.status = 200 if p else 404
            conn.send(response(200, p) if p else status_resp(404, "NotFound", 'pods "%s" not found' % req.name))
        elif k == "delete-pod":
            with self.cv:
                p = self.pods.pop((req.ns, req.name), None)
                if p:
                    self.bump()
                    p["metadata"]["resourceVersion"] = str(self.rv)
                    self.history["pods"].append((self.rv, "DELETED", p))
                    self.cv.notify_all()
            req.status = 200 if p else 404
            conn.send(response(200, p) if p else status_resp(404, "NotFound", "not found"))
        elif k == "post-event":
            req.status = 201
            if isinstance(body, dict):
                name = (body.get("metadata") or {}).get("name")
                self.events[(req.ns, name)] = body
            conn.send(response(201, body if isinstance(body, dict) else {}))
        elif k == "patch-event":
            e = self.events.get((req.ns, req.name))
            req.status = 200 if e else 404
            if e and isinstance(body, dict):
                e.update(body)
            conn.send(response(200, e) if e else status_resp(404, "NotFound", "not found"))
        elif k.startswith("lease-"):
            self.lease_call(conn, req, body)
        else:
            req.status = 404
            conn.send(status_resp(404, "NotFound", "the server could not find the requested resource"))

    def lease_call(self, conn, req, body):
        with self.cv:
            if req.kind == "lease-get":
                req.status = 200 if self.lease else 404
                conn.send(response(200, self.lease) if self.lease else
                          status_resp(404, "NotFound", 'leases.coordination.k8s.io "%s" not found' % req.name))
                return
            if req.kind == "lease-post":
                if self.lease:
                    req.status = 409
                    conn.send(status_resp(409, "AlreadyExists", "exists"))
                    return
                if not isinstance(body, dict):
                    req.status = 400
                    conn.send(status_resp(400, "BadRequest", "not a Lease"))
                    return
                body.setdefault("metadata", {})["namespace"] = req.ns
                body["metadata"]["resourceVersion"] = self.bump()
                self.lease = body
                req.status = 201
                conn.send(response(201, body))
                return
            if self.lease is None:
                req.status = 404
                conn.send(status_resp(404, "NotFound", "not found"))
                return
            if req.kind == "lease-put":
                rv = ((body or {}).get("metadata") or {}).get("resourceVersion")
                if rv != self.lease["metadata"]["resourceVersion"]:
                    req.status = 409
                    conn.send(status_resp(409, "Conflict", "the object has been modified"))
                    return
                body["metadata"]["resourceVersion"] = self.bump()
                self.lease = body
            else:   # merge patch (release)
                self.lease.setdefault("spec", {}).update(((body or {}).get("spec") or {}))
                self.lease["metadata"]["resourceVersion"] = self.bump()
            req.status = 200
            conn.send(response(200, self.lease))

    def list_body(self, res, items=None, meta=None):
        with self.cv:
            if items is None:
                src = self.orders if res == "orders" else self.pods
                items = [json.loads(jdump(v)) for v in src.values()]
            m = {"resourceVersion": str(self.rv)}
            if res == "orders":
                m["continue"] = ""
            if meta:
                m.update(meta)
            kind = "PizzaOrderList" if res == "orders" else "PodList"
            api_version = "pizzeria.example.com/v1" if res == "orders" else "v1"
            return {"apiVersion": api_version, "items": items, "kind": kind, "metadata": m}

    def watch(self, conn, req, res, prefix=()):
        """A watch stream: the history after the asked resourceVersion, then new events as they come,
        and a BOOKMARK every second (a real server sends them less often; more is harmless).
        `prefix`: event lines a hostile case slips in first."""
        try:
            since = int((req.query.get("resourceVersion") or ["0"])[0])
        except ValueError:
            req.status = 400
            conn.send(status_resp(400, "BadRequest", "resourceVersion: invalid value"))
            return
        if not conn.send(stream_head()):
            return
        for line in prefix:
            if not conn.send(chunk(line)):
                return
        sent = since
        last_bm = time.monotonic()
        while not self.stopping and not conn.closed:
            with self.cv:
                new = [(rv, t, o) for rv, t, o in self.history[res] if rv > sent]
                if not new:
                    self.cv.wait(0.5)
                    new = [(rv, t, o) for rv, t, o in self.history[res] if rv > sent]
                cur = self.rv
            for rv, t, o in new:
                if not conn.send(chunk(jdump({"type": t, "object": o}) + b"\n")):
                    return
                sent = rv
            if time.monotonic() - last_bm >= 1.0:
                last_bm = time.monotonic()
                kind = "PizzaOrder" if res == "orders" else "Pod"
                av = "pizzeria.example.com/v1" if res == "orders" else "v1"
                bm = {"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": av,
                                                     "metadata": {"resourceVersion": str(max(cur, sent))}}}
                if not conn.send(chunk(jdump(bm) + b"\n")):
                    return


def order_obj(ns, name, gen, toppings, size="small", uid=None):
    return {"apiVersion": "pizzeria.example.com/v1", "kind": "PizzaOrder",
            "metadata": {"name": name, "namespace": ns, "uid": uid or str(uuidlib.uuid4()), "generation": gen,
                         "creationTimestamp": now_rfc3339()},
            "spec": {"size": size, "toppings": toppings}}


# ---------------------------------------------------------------- cases

class Case:
    """A hostile mode. Subclasses override what they need; the defaults are sane."""
    name = "?"
    klass = 0
    what = ""
    hostile_s = HOSTILE_S
    converge_s = CONVERGE_S
    leader = False
    creds = "token"             # token | tokenfile | incluster
    extra_flags = ()
    payloads = (INJ,)           # bytes that must never appear in a request
    probe_head_delay = 0.0      # see probe.py

    def tls_mode(self, api):
        return "good"

    def available(self, ctxs):
        return True

    def unauthorized(self, api, req):
        return False

    def hostile(self, api, conn, req):
        return False

    def on_switch(self, api):
        """Called at the switch, before the server turns sane."""

    def started(self, run):
        """Called once the controller serves its probe port (attacks on it start here)."""

    def checks(self, run):
        """Case-specific checks: a list of (description, ok, evidence lines)."""
        return []


CASES = []


def case(cls):
    CASES.append(cls())
    return cls


# ---------------------------------------------------------------- running one case

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Prober:
    """The kubelet (probe.py, its own process). Starting returns once the first probe is written,
    so that the hostile phase is probed from its first second."""

    def __init__(self, port, out, head_delay=0.0):
        self.out = out
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "probe.py"), str(port), out,
                                      str(head_delay)], preexec_fn=set_pdeathsig)
        end = time.monotonic() + 5
        while time.monotonic() < end and self.proc.poll() is None:
            if os.path.exists(out) and os.path.getsize(out) > 0:
                break
            time.sleep(0.02)

    def finish(self):
        """Stops the prober (its probe in flight completes first) and returns its results."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(PROBE_TIMEOUT_S + 2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            with open(self.out) as f:
                return [tuple(json.loads(ln)) for ln in f if ln.endswith("\n")]
        except (OSError, ValueError):
            return []


def is_sanitizer_build(binary):
    if os.environ.get("PIZZA_SANITIZER") == "1":
        return True
    try:
        with open(binary, "rb") as f:
            data = f.read()
        return b"__asan_init" in data or b"AddressSanitizer" in data
    except OSError:
        return False


def set_pdeathsig():
    # The controller dies with its case process, whatever kills the latter.
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except Exception:
        pass


class Run:
    """One case against one controller."""

    def __init__(self, c, binary, certdir, workdir):
        self.case, self.binary, self.certdir, self.dir = c, binary, certdir, workdir
        self.san = is_sanitizer_build(binary)
        self.checks = []

    def check(self, desc, ok, evidence=()):
        self.checks.append({"desc": desc, "ok": bool(ok), "evidence": [str(e) for e in evidence]})

    def skip(self, desc, why):
        self.checks.append({"desc": desc, "ok": None, "evidence": [why]})

    def kubeconfig(self, port):
        c = self.case
        ca = os.path.join(self.certdir, "ca.pem")
        if c.creds == "tokenfile":
            self.token_file = os.path.join(self.dir, "token")
            with open(self.token_file, "w") as f:
                f.write(TOKEN + "\n")
            user = "    tokenFile: %s\n" % self.token_file
        else:
            user = "    token: %s\n" % TOKEN
        k = os.path.join(self.dir, "kubeconfig")
        with open(k, "w") as f:
            f.write("apiVersion: v1\nkind: Config\nclusters:\n- name: hostile\n  cluster:\n"
                    "    server: https://127.0.0.1:%d\n    certificate-authority: %s\n"
                    "users:\n- name: u\n  user:\n%scontexts:\n- name: c\n  context:\n    cluster: hostile\n"
                    "    user: u\ncurrent-context: c\n" % (port, ca, user))
        return k

    def start_controller(self, api):
        c = self.case
        self.mport, self.pport = free_port(), free_port()
        env = dict(os.environ)
        env.pop("KUBECONFIG", None)
        env["HOME"] = self.dir    # no ~/.kube/config to fall back on
        if self.san:
            env.setdefault("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        args = [self.binary]
        if c.creds == "incluster":
            sa = os.path.join(self.dir, "sa")
            os.makedirs(sa, exist_ok=True)
            shutil.copy(os.path.join(self.certdir, "ca.pem"), os.path.join(sa, "ca.crt"))
            self.token_file = os.path.join(sa, "token")
            with open(self.token_file, "w") as f:
                f.write(TOKEN)
            with open(os.path.join(sa, "namespace"), "w") as f:
                f.write("default\n")
            env["KUBERNETES_SERVICE_HOST"] = "127.0.0.1"
            env["KUBERNETES_SERVICE_PORT"] = str(api.port)
            args += ["--service-account-dir", sa]
        else:
            env.pop("KUBERNETES_SERVICE_HOST", None)
            args += ["--kubeconfig", self.kubeconfig(api.port)]
        args += ["--metrics-bind-address", "127.0.0.1:%d" % self.mport,
                 "--health-probe-bind-address", "127.0.0.1:%d" % self.pport,
                 "--log-level", "debug", "--requeue-failed-max", "2s"]
        if c.leader:
            args += ["--leader-elect", "--leader-elect-namespace", "default"]
        args += list(c.extra_flags)
        self.log_path = os.path.join(self.dir, "controller.log")
        self.log_f = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log_f, stderr=self.log_f, env=env,
                                     preexec_fn=set_pdeathsig)
        self.t_start = time.monotonic()

    def wait_port(self, port, secs):
        end = time.monotonic() + secs
        while time.monotonic() < end and self.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def vm_hwm(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for ln in f:
                    if ln.startswith("VmHWM:"):
                        return int(ln.split()[1])
        except OSError:
            pass
        return None

    def log_bytes(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()
        except OSError:
            return b""

    def log_lines(self, pattern):
        rx = re.compile(pattern)
        return [ln for ln in self.log_bytes().decode("utf-8", "replace").splitlines() if rx.search(ln)]

    def execute(self):
        c = self.case
        ctxs = tls_contexts(self.certdir)
        self.api = api = Api(c, ctxs, self.dir)
        self.prober = None
        try:
            self.start_controller(api)
            if not self.wait_port(self.pport, 5):
                self.check("controller starts and opens its probe port", False,
                           ["exit status %s" % self.proc.poll()] + self.log_lines(".")[-10:])
                return
            self.prober = Prober(self.pport, os.path.join(self.dir, "probes.jsonl"), c.probe_head_delay)
            c.started(self)
            time.sleep(c.hostile_s)
            self.t_switch = time.monotonic()
            self.alive_hostile = self.proc.poll() is None
            self.hwm_hostile = self.vm_hwm()
            api.switch_to_sane()
            end = self.t_switch + c.converge_s
            while time.monotonic() < end and not api.converged() and self.proc.poll() is None:
                time.sleep(0.1)
            self.t_converged = time.monotonic() if api.converged() else None
            time.sleep(0.3)   # a last look at what follows convergence (no hot loop after it)
            self.t_end = time.monotonic()
            self.alive_end = self.proc.poll() is None
            self.hwm = self.vm_hwm()
        finally:
            self.probes = self.prober.finish() if self.prober else []
            self.stop_controller()
            api.stop()
            self.dump_requests()
        self.evaluate()

    def dump_requests(self):
        # Every request as the wire carried it (token elided), for the evidence of a failure.
        with open(os.path.join(self.dir, "requests.txt"), "w") as f:
            for r in self.api.requests:
                raw = r.raw.replace(TOKEN.encode(), b"<token>").replace(TOKEN2.encode(), b"<token2>")
                f.write("+%.3f conn %d %s -> %s\n  %r\n" % (r.t - self.t_start, r.conn.id, r.kind, r.status, raw[:3000]))

    def stop_controller(self):
        p = getattr(self, "proc", None)
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.log_f.close()

    # -- the checks every case makes
    def evaluate(self):
        c, api = self.case, self.api
        log = self.log_bytes()
        tail = lambda n=6: [ln for ln in log.decode("utf-8", "replace").splitlines()[-n:]]
        # 1. no crash, no sanitizer report
        san = [ln for ln in log.splitlines() if any(m in ln for m in SAN_MARKS)]
        # No case here is one where exiting is documented (a lost Lease, a refusing proxy before the
        # first list, a bad configuration): the hostile server never touches the Lease once held.
        ok = self.alive_hostile and self.alive_end
        self.check("no crash: alive after the hostile phase and at the end, no sanitizer report",
                   ok and not san, (["exited with status %s" % self.proc.returncode] if not ok else []) +
                   [s.decode("utf-8", "replace")[:300] for s in san[:5]] + (tail() if not ok or san else []))
        # 2. bounded RSS
        if self.san:
            self.skip("peak RSS (VmHWM) <= %d KiB" % RSS_LIMIT_KIB, "skipped: sanitizer build (ASan shadow memory)")
        else:
            seen = [h for h in (self.hwm_hostile, self.hwm) if h is not None]
            hwm = max(seen) if seen else None
            self.check("peak RSS (VmHWM %s KiB) <= %d KiB" % (hwm, RSS_LIMIT_KIB),
                       hwm is not None and hwm <= RSS_LIMIT_KIB,
                       [] if hwm is not None else ["VmHWM unreadable (process gone?)"])
        # 3. probes
        res = self.probes
        bad = [r for r in res if r[1] is None]
        worst = max([r[1] for r in res if r[1] is not None] or [0])
        self.check("/healthz answered within %.0f s: %d probes, %d late or unanswered, slowest %.3f s"
                   % (PROBE_TIMEOUT_S, len(res), len(bad), worst), res and not bad,
                   ["probe at +%.2f s: %s" % (r[0] - self.t_start, r[2]) for r in bad[:6]] +
                   ([] if res else ["no probe ran"]))
        # 4. request rate per resource
        span = self.t_end - self.t_start
        ceiling = RATE_BURST + RATE_PER_S * span + RATE_SLACK
        counts = {}
        for r in api.requests:
            counts[r.resource] = counts.get(r.resource, 0) + 1
        over = {k: v for k, v in counts.items() if v > ceiling}
        self.check("request rate under the ceiling (%s in %.1f s; ceiling %d per resource)"
                   % (", ".join("%s %d" % kv for kv in sorted(counts.items())) or "none", span, ceiling),
                   not over, ["%s: %d requests > %d" % (k, v, ceiling) for k, v in over.items()] +
                   self.rate_evidence(over))
        # 5. nothing injected reaches the wire
        inj = []
        for r in api.requests:
            why = None
            if r.bad:
                why = r.bad
            elif any(k.lower() == "x-injected" for k, _ in r.headers):
                why = "header X-Injected"
            elif any(p in r.raw for p in c.payloads):
                why = "payload bytes %r" % [p[:40] for p in c.payloads if p in r.raw]
            elif r.kind == "other":
                why = "a path no route allows (a name or namespace that is not a DNS label?)"
            elif r.query_s and not QUERY_OK.match(r.query_s):
                why = "query holds characters a percent-encoder would not leave plain"
            if why:
                inj.append("%s: %r" % (why, r.raw[:200]))
        self.check("no injected header, payload or non-DNS name on the wire (%d requests)" % len(api.requests),
                   not inj, inj[:5])
        # 6. log lines parse
        p = subprocess.run([sys.executable, LOGCHECK, self.log_path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        out = p.stdout.decode("utf-8", "replace").splitlines()
        self.check("every log line parses (%s)" % (out[-1] if out else "no output"), p.returncode == 0,
                   out[:-1][:5])
        # 7. convergence
        if self.t_converged:
            self.check("converges once sane: o1-oven created and o1 status applied (%.1f s after the switch)"
                       % max(0.0, self.t_converged - self.t_switch), True)
        else:
            self.check("converges once sane: o1-oven created and o1 status applied within %.0f s of the switch"
                       % c.converge_s, False,
                       ["pod created: %s, status applied: %s" % (("default", "o1-oven") in api.pods,
                                                                 (api.orders[("default", "o1")].get("status") or {})
                                                                 .get("ovenPod") is not None)] +
                       ["last requests:"] + ["  +%.2f s %s" % (r.t - self.t_start, r.short())
                                             for r in api.requests[-8:]] + ["log tail:"] + tail(8))
        # 8. the suite itself: a fake server that failed internally judged nothing
        errs = os.path.join(self.dir, "server-errors.txt")
        trace = open(errs).read().splitlines()[-6:] if os.path.exists(errs) else []
        self.check("the fake server handled every request without an internal error", not trace, trace)
        # 9. the case's own
        try:
            for desc, ok, ev in c.checks(self):
                self.check(desc, ok, ev)
        except Exception:
            self.check("case-specific checks ran", False, traceback.format_exc().splitlines()[-6:])

    def rate_evidence(self, over):
        out = []
        for res in over:
            rs = [r for r in self.api.requests if r.resource == res]
            out += ["  +%.2f s %s" % (r.t - self.t_start, r.short()) for r in rs[:3] + rs[-3:]]
        return out

    # helpers for case checks
    def reqs(self, kinds=None, before_switch=None):
        out = []
        for r in self.api.requests:
            if kinds and r.kind not in kinds:
                continue
            if before_switch is True and r.t >= self.t_switch:
                continue
            if before_switch is False and r.t < self.t_switch:
                continue
            out.append(r)
        return out


# ---------------------------------------------------------------- main

def run_one(name, binary, certdir, workdir):
    c = next(x for x in CASES if x.name == name)
    os.makedirs(workdir, exist_ok=True)
    r = Run(c, binary, certdir, workdir)
    t0 = time.monotonic()
    try:
        if not c.available(tls_contexts(certdir)):
            r.skip("the case", "this Python's ssl cannot serve it")
        else:
            r.execute()
    except Exception:
        r.check("the case ran", False, traceback.format_exc().splitlines()[-8:])
    return {"name": c.name, "klass": c.klass, "what": c.what, "secs": time.monotonic() - t0, "checks": r.checks,
            "dir": workdir}


CLASS_NAMES = {1: "header/URL injection", 2: "hot loops", 3: "keep-alive desync", 4: "TLS refusals",
               5: "Retry-After", 6: "forged log lines", 7: "starved probes", 8: "floods", 9: "malformed framing",
               10: "write conflicts", 11: "credentials"}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", nargs="?", default=os.path.join(ROOT, "build", "pizza-controller"))
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("HOSTILE_JOBS", "5")))
    ap.add_argument("--case", default="")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--certs", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.list:
        for c in CASES:
            print("%-24s class %2d (%s): %s" % (c.name, c.klass, CLASS_NAMES[c.klass], c.what))
        return 0
    if a.one:
        # The result goes to a file, not a pipe the runner reads only at the end (no deadlock on a
        # large result).
        res = run_one(a.one, a.binary, a.certs, a.dir)
        with open(os.path.join(a.dir, "result.json"), "w") as f:
            json.dump(res, f)
        return 0
    binary = os.path.abspath(a.binary)
    if not os.access(binary, os.X_OK):
        print("hostile: %s is not an executable" % binary)
        print("hostile: 0 passed, 1 failed")
        return 1
    names = [c.name for c in CASES]
    if a.case:
        want = a.case.split(",")
        unknown = [w for w in want if w not in names]
        if unknown:
            print("hostile: unknown case(s) %s (see --list)" % ", ".join(unknown))
            print("hostile: 0 passed, 1 failed")
            return 2
        names = [n for n in names if n in want]
    work = tempfile.mkdtemp(prefix="pizza-hostile.")
    certdir = os.path.join(work, "certs")
    os.makedirs(certdir)
    try:
        make_certs(certdir)
    except subprocess.CalledProcessError as e:
        print("hostile: openssl failed: %s" % (e.stderr or b"").decode("utf-8", "replace")[-500:])
        print("hostile: 0 passed, 1 failed")
        return 1
    san = is_sanitizer_build(binary)
    print("hostile: %d cases against %s%s, %d at a time; work folder %s"
          % (len(names), binary, " (sanitizer build: RSS checks skipped)" if san else "", a.jobs, work))
    procs = {}
    passed = failed = skipped = 0

    def interrupted(*_):
        # Killing a case process kills its controller, prober and attackers too (PR_SET_PDEATHSIG).
        for p in procs.values():
            if p.poll() is None:
                p.kill()
        print("hostile: interrupted; work folder kept: %s" % work)
        print("hostile: %d passed, %d failed" % (passed, failed + 1))
        sys.exit(130)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    pending = list(names)
    t0 = time.monotonic()
    while pending or procs:
        while pending and len(procs) < max(1, a.jobs):
            n = pending.pop(0)
            d = os.path.join(work, n)
            os.makedirs(d)
            with open(os.path.join(d, "case-stderr.txt"), "wb") as errf:
                procs[n] = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--one", n, "--certs",
                                             certdir, "--dir", d, binary], stdout=errf, stderr=errf)
        time.sleep(0.2)
        for n, p in list(procs.items()):
            if p.poll() is None:
                continue
            del procs[n]
            d = os.path.join(work, n)
            try:
                with open(os.path.join(d, "result.json")) as f:
                    res = json.load(f)
            except (OSError, ValueError):
                with open(os.path.join(d, "case-stderr.txt"), "rb") as f:
                    err = f.read().decode("utf-8", "replace").splitlines()[-8:]
                res = {"name": n, "klass": 0, "what": "", "secs": 0, "dir": d,
                       "checks": [{"desc": "the case process reported (exit status %s)" % p.returncode,
                                   "ok": False, "evidence": err}]}
            c = next(x for x in CASES if x.name == n)
            print("== %s (class %d, %s; %.1f s): %s" % (n, c.klass, CLASS_NAMES[c.klass], res["secs"], c.what))
            for ch in res["checks"]:
                if ch["ok"] is None:
                    skipped += 1
                    print("  skip  %s: %s (%s)" % (n, ch["desc"], "; ".join(ch["evidence"])))
                    continue
                if ch["ok"]:
                    passed += 1
                    print("  ok    %s: %s" % (n, ch["desc"]))
                else:
                    failed += 1
                    print("  FAIL  %s: %s" % (n, ch["desc"]))
                    for e in ch["evidence"]:
                        print("          | %s" % e)
            if any(ch["ok"] is False for ch in res["checks"]):
                print("          (logs: %s)" % res["dir"])
            sys.stdout.flush()
    dt = time.monotonic() - t0
    per_class = {}
    for n in names:
        k = next(x for x in CASES if x.name == n).klass
        per_class[k] = per_class.get(k, 0) + 1
    print("hostile: classes x cases: %s" % ", ".join("%d:%d" % kv for kv in sorted(per_class.items())))
    print("hostile: ran in %.0f s%s" % (dt, "; %d skipped" % skipped if skipped else ""))
    if failed or os.environ.get("HOSTILE_KEEP") == "1":
        print("hostile: work folder kept: %s" % work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    print("hostile: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


# ================================================================ the cases
# Helpers the hostile handlers share.

def hold(api, conn):
    """Keep a connection open and silent until the switch (which closes it) or the end."""
    conn.hostile = True
    while api.hostile and not api.stopping and not conn.closed:
        time.sleep(0.05)


def reply(conn, req, status, data):
    req.status = status
    conn.hostile = True
    conn.send(data)
    return True


def flood(api, conn, make):
    """Send make(i) over and over as fast as the socket takes it, until the switch."""
    conn.hostile = True
    conn.flood = True
    i = 0
    while api.hostile and not api.stopping and not conn.closed:
        if not conn.send(make(i)):
            return
        i += 1


def flood_ran(run):
    n = sum(c.sent for c in run.api.conns if c.flood)
    return ("the flood ran: %.1f MiB pushed in the hostile phase" % (n / 1048576.0), n >= 1048576, [])


def order_item(api, ns="default", name="o2", **kw):
    o = order_obj(ns, name, 1, ["cheese"], uid=kw.pop("uid", None))
    o["metadata"]["resourceVersion"] = str(api.rv)
    o["metadata"].update(kw)
    return o


def gaps(run, kinds, answered, want_s, tol=0.1):
    """For every request of `kinds` answered `answered`, the next request of `kinds` must come at
    least want_s later. Returns (number checked, evidence of the short ones)."""
    rs = run.reqs(kinds)
    n, bad = 0, []
    for a, b in zip(rs, rs[1:]):
        if a.status == answered:
            n += 1
            if b.t - a.t < want_s - tol:
                bad.append("+%.2f s %s, then +%.2f s %s: %.2f s later, Retry-After asked %.1f s"
                           % (a.t - run.t_start, a.short(), b.t - run.t_start, b.short(), b.t - a.t, want_s))
    return n, bad


def logged(run, pattern, desc):
    lines = run.log_lines(pattern)
    return (desc, bool(lines), [] if lines else ["no log line matches /%s/; log tail:" % pattern] +
            run.log_lines(".")[-6:])


def no_reuse_after(run, attr):
    """No request arrived on a connection after the time stored in conn.<attr> (+50 ms: bytes the
    controller sent before it could see ours)."""
    bad = []
    for r in run.api.requests:
        t = getattr(r.conn, attr)
        if t is not None and r.t > t + 0.05:
            bad.append("conn %d: %s arrived %.2f s after the stray bytes" % (r.conn.id, r.short(), r.t - t))
    return bad


# ---- class 0: the baseline

@case
class Sane(Case):
    name = "sane"
    klass = 0
    what = "no hostility at all: the baseline every other case is measured against"
    hostile_s = 2.0


CLASS_NAMES[0] = "baseline"


@case
class SaneLeader(Case):
    name = "sane-leader"
    klass = 0
    what = "no hostility, --leader-elect: the Lease path of the fake server works"
    hostile_s = 3.0
    leader = True

    def checks(self, run):
        puts = run.reqs(("lease-post", "lease-put"))
        return [("the Lease was taken and renewed (%d writes)" % len(puts), len(puts) >= 2,
                 [r.short() for r in run.api.requests if r.resource == "leases"][:6])]


# ---- class 1: header/URL injection

@case
class InjListRV(Case):
    name = "inj-list-rv"
    klass = 1
    what = "a list's metadata.resourceVersion holds CRLF + X-Injected"

    def hostile(self, api, conn, req):
        if req.kind == "list-orders":
            return reply(conn, req, 200, response(200, api.list_body("orders", meta={"resourceVersion": "5" + PAYLOAD})))
        return False

    def checks(self, run):
        return [logged(run, r"resourceVersion is missing or not a plain printable token",
                       "the refusal is logged (resourceVersion not a plain token)")]


@case
class InjContinueCRLF(Case):
    name = "inj-continue-crlf"
    klass = 1
    what = "a list's continue token holds CRLF + X-Injected"

    def hostile(self, api, conn, req):
        if req.kind == "list-orders":
            return reply(conn, req, 200, response(200, api.list_body("orders", meta={"continue": "c1" + PAYLOAD})))
        return False

    def checks(self, run):
        return [logged(run, r"continue token is not a plain printable token", "the refusal is logged")]


@case
class InjContinueLong(Case):
    name = "inj-continue-long"
    klass = 1
    what = "a list's continue token is 10,000 printable bytes"
    LONG = "A" * 10000
    payloads = (INJ, b"A" * 200)

    def hostile(self, api, conn, req):
        if req.kind == "list-orders":
            return reply(conn, req, 200, response(200, api.list_body("orders", meta={"continue": self.LONG})))
        return False

    def checks(self, run):
        return [logged(run, r"continue token is not a plain printable token", "the refusal is logged")]


@case
class InjContinueOdd(Case):
    name = "inj-continue-odd"
    klass = 1
    what = "continue tokens with a space, a control byte, DEL, and a percent-encoded CRLF payload"
    TOKENS = ["abc def", "abc\x01def", "abc\x7fdef", "abc%0D%0AX-Injected:%20yes"]
    payloads = (INJ + b":", b"%0D%0AX", b"%0d%0aX")

    def hostile(self, api, conn, req):
        if req.kind == "list-orders":
            if req.query.get("continue"):
                # a continuation: the last page, sane
                return reply(conn, req, 200, response(200, api.list_body("orders")))
            tok = self.TOKENS[sum(1 for r in api.requests if r.kind == "list-orders") % len(self.TOKENS)]
            return reply(conn, req, 200, response(200, api.list_body("orders", meta={"continue": tok})))
        return False

    def checks(self, run):
        used = [r for r in run.reqs(("list-orders",)) if r.query.get("continue")]
        bad = [r.short() for r in used if r.query["continue"][0] not in self.TOKENS[3:]]
        return [("only the printable token is followed, and it round-trips exactly (%d continuations)" % len(used),
                 not bad, bad[:4])]


@case
class InjBookmark(Case):
    name = "inj-bookmark-rv"
    klass = 1
    what = "watch BOOKMARKs carry resourceVersions: CRLF + X-Injected, 10,000 digits, a space, a control byte"
    leader = True
    RVS = ["7" + PAYLOAD, "9" * 10000, "7 8", "7\x0b8"]
    payloads = (INJ, b"9" * 100)

    def hostile(self, api, conn, req):
        if req.kind == "watch-orders":
            conn.hostile = True
            req.status = 200
            i = sum(1 for r in api.requests if r.kind == "watch-orders")
            bm = {"type": "BOOKMARK", "object": {"kind": "PizzaOrder", "apiVersion": "pizzeria.example.com/v1",
                                                 "metadata": {"resourceVersion": self.RVS[i % len(self.RVS)]}}}
            conn.send(stream_head() + chunk(jdump(bm) + b"\n"))
            hold(api, conn)
            return True
        return False

    def checks(self, run):
        bad = [r.short() for r in run.reqs(("watch-orders", "watch-pods"))
               if not re.match(r"[0-9]+\Z", (r.query.get("resourceVersion") or [""])[0])]
        return [("every watch resumes from a resourceVersion the server really gave", not bad, bad[:4]),
                logged(run, r"resourceVersion is missing or not a plain printable token", "the refusal is logged")]


@case
class InjEventRV(Case):
    name = "inj-event-rv"
    klass = 1
    what = "a watch ADDED event's object has resourceVersion CRLF + X-Injected (and a new order o2)"

    def hostile(self, api, conn, req):
        if req.kind == "watch-orders":
            conn.hostile = True
            ev = {"type": "ADDED", "object": order_item(api, name="o2", resourceVersion="8" + PAYLOAD)}
            api.watch(conn, req, "orders", prefix=[jdump(ev) + b"\n"])
            return True
        return False

    def checks(self, run):
        o2 = [r.short() for r in run.api.requests if b"o2" in r.raw.split(b"\r\n")[0] or b'"o2' in r.body]
        return [("the refused event is not acted on (no call about o2)", not o2, o2[:4]),
                logged(run, r"resourceVersion is missing or not a plain printable token", "the refusal is logged")]


@case
class InjNames(Case):
    name = "inj-names"
    klass = 1
    what = "listed orders whose names/namespaces are not DNS labels: CRLF, '../', space, '?', '#', '%2F', upper case"
    BAD = [("default", "o2" + PAYLOAD), ("default", "../../../api/v1/namespaces/kube-system/secrets/x"),
           ("default", "a b"), ("default", "o3?dryRun=All"), ("default", "o4#frag"), ("default", "o5%2Fx"),
           ("default/../kube-system", "o6"), ("Default", "O7"), ("default", "o8\x00nul")]
    payloads = (INJ, b"..", b"dryRun", b"#frag", b"%2Fx", b"kube-system", b"O7")

    def hostile(self, api, conn, req):
        if req.kind == "list-orders":
            items = [json.loads(jdump(o)) for o in api.orders.values()]
            items += [order_item(api, ns, n) for ns, n in self.BAD]
            return reply(conn, req, 200, response(200, api.list_body("orders", items=items)))
        return False

    def checks(self, run):
        evil = [r.short() for r in run.api.requests if r.kind not in ("list-orders", "watch-orders",
                                                                      "list-pods", "watch-pods")
                and not re.search(rb"/o1(-oven)?[/? ]|/(pods|events|leases) ", r.raw.split(b"\r\n")[0])]
        return [("no call is made for an order whose name or namespace is not a DNS label", not evil, evil[:6])]


# ---- class 2: hot loops

@case
class Loop410(Case):
    name = "loop-410-watch"
    klass = 2
    what = "every watch answers an ERROR 410 Gone event at once (re-list, watch, 410, ...)"
    leader = True

    def hostile(self, api, conn, req):
        if req.kind in ("watch-orders", "watch-pods"):
            ev = {"type": "ERROR", "object": status_obj(410, "Expired", "too old resource version: 1 (999)")}
            return reply(conn, req, 200, stream_head() + chunk(jdump(ev) + b"\n") + b"0\r\n\r\n")
        return False

    def checks(self, run):
        n = len([r for r in run.reqs(before_switch=True) if r.resource == "pizzaorders"])
        cap = RATE_BURST + RATE_PER_S * self.hostile_s
        return [("a second 410 in a row backs off: %d pizzaorders requests in the %.0f s hostile phase, "
                 "fewer than the bucket alone would allow (%d)" % (n, self.hostile_s, cap), n < cap, [])]


@case
class LoopContinue(Case):
    name = "loop-endless-continue"
    klass = 2
    what = "every list page names a next page: the continue chain never ends"

    def hostile(self, api, conn, req):
        if req.kind == "list-orders":
            k = int((req.query.get("continue") or ["c0"])[0][1:] or 0) + 1
            return reply(conn, req, 200, response(200, api.list_body("orders", meta={"continue": "c%d" % k})))
        return False

    def checks(self, run):
        return [logged(run, r"did not end within its page limit|took longer than its limit",
                       "the endless list is cut and logged")]


@case
class LoopWatchEmpty(Case):
    name = "loop-watch-empty"
    klass = 2
    what = "every watch answers 200 with an empty body (Content-Length: 0)"

    def hostile(self, api, conn, req):
        if req.kind in ("watch-orders", "watch-pods"):
            return reply(conn, req, 200, response(200, b""))
        return False

    def checks(self, run):
        return [logged(run, r"ended as soon as it opened", "a watch that ends at once counts as a failure")]


@case
class LoopWatchEnds(Case):
    name = "loop-watch-ends"
    klass = 2
    what = "every watch answers a chunked 200 whose body ends at once (0-length chunk)"
    leader = True

    def hostile(self, api, conn, req):
        if req.kind in ("watch-orders", "watch-pods"):
            return reply(conn, req, 200, stream_head() + b"0\r\n\r\n")
        return False

    def checks(self, run):
        return [logged(run, r"ended as soon as it opened", "a watch that ends at once counts as a failure")]


@case
class LoopList500(Case):
    name = "loop-list-500"
    klass = 2
    what = "every list answers 500"

    def hostile(self, api, conn, req):
        if req.kind in ("list-orders", "list-pods"):
            return reply(conn, req, 500, status_resp(500, "InternalError", "etcdserver: request timed out"))
        return False

    def checks(self, run):
        rs = run.reqs(("list-orders",), before_switch=True)
        ts = [r.t for r in rs]
        g = [b - a for a, b in zip(ts, ts[1:])]
        return [("the lists back off: %d tries in %.0f s, gaps %s" % (len(rs), self.hostile_s,
                                                                     " ".join("%.2f" % x for x in g)),
                 len(g) >= 2 and g[-1] > g[0], [])]


# ---- class 3: keep-alive desync

INTERIM = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
           b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")


@case
class DesyncInterim(Case):
    name = "desync-interim"
    klass = 3
    what = "every answer is preceded by 100 Continue, 102 Processing and 103 Early Hints"
    leader = True

    def hostile(self, api, conn, req):
        conn.send(INTERIM)
        return False   # then the real answer

    def checks(self, run):
        return [("interim answers are skipped: converged during the hostile phase",
                 run.api.pod_created_at is not None and run.api.pod_created_at < run.t_switch and
                 run.api.status_patched_at is not None and run.api.status_patched_at < run.t_switch, [])]


@case
class DesyncUnsolicited(Case):
    name = "desync-unsolicited"
    klass = 3
    what = "150 ms after each answer, an unsolicited response on the idle kept-alive connection"
    leader = True

    def hostile(self, api, conn, req):
        if req.kind.startswith("watch-"):
            return False
        api.sane(conn, req)
        conn.hostile = True
        # Same thread as the reads (an SSL object is not for two threads): wait for the next
        # request for 150 ms; if none came, the connection is idle and gets the stray answer.
        r, _, _ = select.select([conn.sock], [], [], 0.15)
        if not r and not conn.buf and not conn.closed and conn.sock.pending() == 0:
            if conn.send(response(200, {"kind": "Status", "status": "Success", "stray": True})):
                conn.poisoned_at = time.monotonic()
        return True

    def checks(self, run):
        n = len({r.conn.id for r in run.api.requests if r.conn.poisoned_at})
        bad = no_reuse_after(run, "poisoned_at")
        return [("a connection with unsolicited bytes is never used again (%d poisoned)" % n, n and not bad,
                 bad[:5] or ([] if n else ["no connection was idle long enough to poison: the case did not bite"]))]


@case
class Desync101(Case):
    name = "desync-101"
    klass = 3
    what = "lists and calls answer 101 Switching Protocols, then bytes of another protocol"

    def hostile(self, api, conn, req):
        if req.kind.startswith("watch-") or req.kind.startswith("lease-"):
            return False
        data = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00")
        reply(conn, req, 101, data)
        hold(api, conn)
        return True

    def checks(self, run):
        return [logged(run, r"malformed HTTP response", "the switch is refused as a malformed answer")]


@case
class DesyncDouble(Case):
    name = "desync-double"
    klass = 3
    what = "every call and list answered twice in one write (the second a different answer)"
    leader = True

    def hostile(self, api, conn, req):
        if req.kind.startswith("watch-"):
            return False
        # The real answer is made by the sane handler into a buffer, then sent with a second one.
        cap = Capture(conn)
        api.sane(cap, req)
        extra = response(200, api.list_body("pods", items=[])) if req.kind == "post-pod" else \
            status_resp(409, "Conflict", "a second answer nobody asked for")
        conn.hostile = True
        if conn.send(cap.data + extra):
            conn.doubled_at = time.monotonic()
        return True

    def checks(self, run):
        n = len({r.conn.id for r in run.api.requests if r.conn.doubled_at})
        bad = no_reuse_after(run, "doubled_at")
        return [("a connection that got two answers is never used again (%d such)" % n, n and not bad, bad[:5])]


class Capture:
    """Stands in for a Conn to collect what a handler would send."""

    def __init__(self, conn):
        self.data = b""
        self.closed = False
        self.conn = conn

    def send(self, d):
        self.data += d
        return True


# ---- class 4: TLS refusals

class TLSCase(Case):
    klass = 4
    cert = "?"
    cause = "?"

    def tls_mode(self, api):
        return self.cert

    def checks(self, run):
        api = run.api
        hits = [ln for ln in run.log_lines(r"tls_error=") if re.search(self.cause, ln)]
        other = run.log_lines(r"tls_error=")[:3]
        return [("refused, and the log names the cause (/%s/)" % self.cause, bool(hits),
                 [] if hits else ["no log line names it; the TLS failures logged:"] +
                 (other or run.log_lines(r"TLS")[:4] or run.log_lines(".")[-4:])),
                ("the token is never sent: no request arrived over the refused certificate "
                 "(%d handshakes refused)" % api.handshakes_failed,
                 api.tls_data_before_switch == 0 and api.handshakes_failed > 0,
                 ["%d requests decrypted over a bad certificate" % api.tls_data_before_switch]
                 if api.tls_data_before_switch else [])]


@case
class TLSEku(TLSCase):
    name = "tls-eku-client"
    what = "server certificate with EKU clientAuth only"
    cert = "eku-client"
    cause = "lacks serverAuth"


@case
class TLSCNOnly(TLSCase):
    name = "tls-cn-only"
    what = "server certificate with CN=127.0.0.1 and no SAN"
    cert = "cn-only"
    cause = "no subject alternative name"


@case
class TLSExpired(TLSCase):
    name = "tls-expired"
    what = "server certificate expired in 2021"
    cert = "expired"
    cause = "expired"


@case
class TLSSelf(TLSCase):
    name = "tls-self-signed"
    what = "a self-signed server certificate (right names, right EKU)"
    cert = "self-signed"
    cause = "not signed by the configured CA"


@case
class TLSWrongCA(TLSCase):
    name = "tls-wrong-ca"
    what = "a server certificate signed by another CA"
    cert = "wrong-ca"
    cause = "not signed by the configured CA"


@case
class TLS10(TLSCase):
    name = "tls-v1.0-only"
    what = "a server that speaks TLS 1.0 only (OpenSSL at security level 0)"
    cert = "tls10"
    # BearSSL offers TLS 1.2 suites only; a TLS-1.0-only OpenSSL finds none it may use with 1.0 and
    # answers handshake_failure, so "no common cipher suite" is the cause as the wire shows it.
    cause = "TLS 1\\.2|version|no common cipher suite"

    def available(self, ctxs):
        # Python's ssl may refuse to offer TLS 1.0 at all (a stricter OpenSSL build): then skipped;
        # the class keeps six other cases.
        return "tls10" in ctxs


@case
class TLSExpiredLeader(TLSCase):
    name = "tls-expired-leader"
    what = "server certificate expired in 2021, with --leader-elect (the Lease is the first call)"
    cert = "expired"
    cause = "expired"
    leader = True


# ---- class 5: Retry-After

@case
class RA429(Case):
    name = "ra-429-list"
    klass = 5
    what = "order lists answer 429 with Retry-After: 3"
    hostile_s = 7.0

    def hostile(self, api, conn, req):
        if req.kind == "list-orders":
            return reply(conn, req, 429, status_resp(429, "TooManyRequests", "slow down", extra=["Retry-After: 3"]))
        return False

    def checks(self, run):
        n, bad = gaps(run, ("list-orders", "watch-orders"), 429, 3.0)
        return [("each 429 is followed by >= 3 s of quiet on pizzaorders (%d 429s)" % n, n >= 2 and not bad,
                 bad[:4])]


@case
class RA503Date(Case):
    name = "ra-503-date-create"
    klass = 5
    what = "Pod creation answers 503 with Retry-After as an HTTP-date 4 s ahead"
    hostile_s = 9.0

    def hostile(self, api, conn, req):
        if req.kind == "post-pod":
            when = formatdate(int(time.time()) + 4, usegmt=True)
            return reply(conn, req, 503, status_resp(503, "ServiceUnavailable", "try later",
                                                     extra=["Retry-After: " + when]))
        return False

    def checks(self, run):
        # An HTTP-date has whole seconds: "4 s ahead" is 3-4 s from when it was made.
        n, bad = gaps(run, ("post-pod",), 503, 3.0)
        return [("each 503 is followed by >= 3 s before the next Pod create (%d 503s)" % n, n >= 2 and not bad,
                 bad[:4])]


@case
class RA503Watch(Case):
    name = "ra-503-watch"
    klass = 5
    what = "the Pod watch answers 503 with Retry-After: 3"
    hostile_s = 7.0

    def hostile(self, api, conn, req):
        if req.kind == "watch-pods":
            return reply(conn, req, 503, status_resp(503, "ServiceUnavailable", "watch cache not ready",
                                                     extra=["Retry-After: 3"]))
        return False

    def checks(self, run):
        n, bad = gaps(run, ("list-pods", "watch-pods"), 503, 3.0)
        return [("each 503 is followed by >= 3 s of quiet on pods watches (%d 503s)" % n, n >= 2 and not bad,
                 bad[:4])]


@case
class RAHuge(Case):
    name = "ra-huge"
    klass = 5
    what = ("Pod creation answers 429 with Retry-After: 99999999999 (clamped to 5 min); at the switch the "
            "order's spec changes, which is new work the wait does not cover")
    hostile_s = 8.0

    def hostile(self, api, conn, req):
        if req.kind == "post-pod":
            return reply(conn, req, 429, status_resp(429, "TooManyRequests", "go away",
                                                     extra=["Retry-After: 99999999999"]))
        return False

    def on_switch(self, api):
        # A user edits the order (a new generation): controller-runtime and this controller queue an
        # object at once on a change event, whatever backoff it was in.
        o = json.loads(jdump(api.orders[("default", "o1")]))
        o["metadata"]["generation"] = 2
        o["spec"]["toppings"] = ["cheese", "basil"]
        api.add_order(o)

    def checks(self, run):
        rs = run.reqs(("post-pod",), before_switch=True)
        clamped = run.log_lines(r'msg="reconcile failed".*retry_in_ms=%d\b' % (RETRY_AFTER_MAX_S * 1000))
        return [("after a 429 no Pod create is retried during the hostile phase (%d creates)" % len(rs),
                 len(rs) == 1, ["+%.2f s %s" % (r.t - run.t_start, r.short()) for r in rs[:5]]),
                ("the wait is clamped to 5 min (retry_in_ms=%d logged)" % (RETRY_AFTER_MAX_S * 1000), bool(clamped),
                 run.log_lines(r"retry_in_ms")[:4])]


# ---- class 6: forged log lines

def forged_checks(run, want_message=True):
    out = []
    forged = []
    for ln in run.log_bytes().split(b"\n"):
        if ln.startswith(b"ts=1999") or ln.startswith(b"level=") or re.match(rb"\S*msg=INJECTED", ln):
            forged.append(ln[:200])
    out.append(("no forged record: no line starts with the injected ts= or level=", not forged,
                [repr(f) for f in forged[:4]]))
    if want_message:
        hits = run.log_lines(r"INJECTED")
        out.append(("the hostile message reached the log (escaped, inside one value)", bool(hits),
                    [] if hits else ["INJECTED never logged: the message path was not exercised"] +
                    run.log_lines(".")[-4:]))
    return out


@case
class ForgeList(Case):
    name = "forge-list-message"
    klass = 6
    what = "lists answer 500 with a Status message holding a quote, a newline and a forged log record"

    def hostile(self, api, conn, req):
        if req.kind == "list-orders":
            return reply(conn, req, 500, status_resp(500, "InternalError", FORGED))
        return False

    def checks(self, run):
        return forged_checks(run)


@case
class ForgeWatch(Case):
    name = "forge-watch-error"
    klass = 6
    what = "the watch sends an ERROR event whose message holds a forged record, ESC, DEL, U+2028, U+0085, U+1F355"
    leader = True

    def hostile(self, api, conn, req):
        if req.kind == "watch-orders":
            msg = FORGED + " \u2028 \u0085 \x1b[31m red \x7f \U0001f355"
            ev = {"type": "ERROR", "object": status_obj(500, "InternalError", msg)}
            reply(conn, req, 200, stream_head() + chunk(jdump(ev) + b"\n"))
            hold(api, conn)
            return True
        return False

    def checks(self, run):
        return forged_checks(run)


@case
class ForgeRaw(Case):
    name = "forge-create-raw"
    klass = 6
    what = ("Pod creation answers 403 with raw bytes in the message: invalid UTF-8, an encoded surrogate, "
            "raw U+2028, raw C1, DEL")

    def hostile(self, api, conn, req):
        if req.kind == "post-pod":
            msg = (b'pods is forbidden: \xff\xfe \xc0\xaf \xed\xa0\x80 \xe2\x80\xa8 \xc2\x85 \x7f '
                   + json.dumps(FORGED)[1:-1].encode())
            body = (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"' + msg +
                    b'","reason":"Forbidden","code":403}')
            return reply(conn, req, 403, response(403, body))
        return False

    def checks(self, run):
        return forged_checks(run)


@case
class ForgeEscapes(Case):
    name = "forge-status-escapes"
    klass = 6
    what = (r"status apply answers 422 with a message of JSON escapes: \u001b \b \f \r \t \u007f \u2028 \u0085, "
            r"a surrogate pair, a forged record")

    def hostile(self, api, conn, req):
        if req.kind == "patch-status":
            msg = (b'invalid: \\u001b[2J \\b \\f \\r \\t \\u007f \\u2028 \\u0085 \\ud83c\\udf55 ' +
                   json.dumps(FORGED)[1:-1].encode())
            body = (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"' + msg +
                    b'","reason":"Invalid","code":422}')
            return reply(conn, req, 422, response(422, body))
        return False

    def checks(self, run):
        return forged_checks(run)


@case
class ForgeUndecodable(Case):
    name = "forge-undecodable"
    klass = 6
    what = (r"API messages the controller cannot decode: raw control bytes (list 500), \u0000 (Pod create 403), "
            r"a lone \ud800 (status 422), each around a forged record")

    def body(self, code, reason, msg):
        return (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"' + msg +
                b'","reason":"%s","code":%d}' % (reason, code))

    def hostile(self, api, conn, req):
        forged = json.dumps(FORGED)[1:-1].encode()
        if req.kind == "list-orders":
            return reply(conn, req, 500, response(500, self.body(500, b"InternalError",
                                                                 b"raw \x01\x1b[31m\x08 " + forged + b"\x0d\x0a")))
        if req.kind == "post-pod":
            return reply(conn, req, 403, response(403, self.body(403, b"Forbidden", b"nul \\u0000 " + forged)))
        if req.kind == "patch-status":
            return reply(conn, req, 422, response(422, self.body(422, b"Invalid", b"lone \\ud800 " + forged)))
        return False

    def checks(self, run):
        # These messages are dropped whole by design (json_str refuses them); what matters is
        # that nothing of them forges a record.
        return forged_checks(run, want_message=False)


# ---- class 7: starved probes

@case
class StarveTLS(Case):
    name = "starve-tls-stall"
    klass = 7
    what = "the server accepts TCP and never answers the TLS handshake (12 s: past the 10 s connect deadline)"
    hostile_s = 12.0

    def tls_mode(self, api):
        return "stall"

    def checks(self, run):
        return [logged(run, r"Operation timed out", "the controller gives up on the stalled handshake by itself")]


@case
class StarveHeaders(Case):
    name = "starve-mid-headers"
    klass = 7
    what = "list answers stop in the middle of the headers (12 s: past the 10 s call deadline)"
    hostile_s = 12.0
    leader = True

    def hostile(self, api, conn, req):
        if req.kind in ("list-orders", "list-pods"):
            reply(conn, req, "stalled", b"HTTP/1.1 200 OK\r\nContent-Type: appl")
            hold(api, conn)
            return True
        return False

    def checks(self, run):
        return [logged(run, r"Operation timed out", "the controller gives up on the stalled answer by itself")]


@case
class StarveTrickle(Case):
    name = "starve-trickle"
    klass = 7
    what = "the order list is sent one byte per second; the Lease must still be renewed meanwhile"
    hostile_s = 7.0
    leader = True

    def hostile(self, api, conn, req):
        if req.kind == "list-orders":
            data = response(200, api.list_body("orders"))
            req.status = "trickled"
            conn.hostile = True
            for b in data:
                if not api.hostile or conn.closed or not conn.send(bytes([b])):
                    break
                time.sleep(1.0)
            return True
        return False

    def checks(self, run):
        t_lead = min([r.t for r in run.reqs(("lease-post", "lease-put")) if r.status in (200, 201)] or [1e18])
        renew = [r for r in run.reqs(("lease-put",), before_switch=True) if r.t > t_lead + 0.5]
        return [("the Lease is renewed while the list trickles (%d renewals)" % len(renew), len(renew) >= 2, [])]


class SlowlorisCase(Case):
    """Attackers on the probe port (slowloris.py, in processes of their own) from the moment the
    probe port is open until the switch."""
    klass = 7
    n_silent, n_partial, churn, procs = 6, 6, False, 1
    hostile_s = 6.0

    def started(self, run):
        self.outs = [os.path.join(run.dir, "slowloris-%d.txt" % k) for k in range(self.procs)]
        self.attacks = [subprocess.Popen([sys.executable, os.path.join(HERE, "slowloris.py"), str(run.pport),
                                          str(self.n_silent), str(self.n_partial), "1" if self.churn else "0", out],
                                         preexec_fn=set_pdeathsig) for out in self.outs]

    def on_switch(self, api):
        for p in self.attacks:
            p.send_signal(signal.SIGTERM)
        for p in self.attacks:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def checks(self, run):
        n = 0
        for out in self.outs:
            try:
                with open(out) as f:
                    n += int(f.read().strip() or 0)
            except (OSError, ValueError):
                pass
        return [("the attack ran (%d attacker connections)" % n, n >= 6, [])]


@case
class StarveSlowloris(SlowlorisCase):
    name = "starve-slowloris"
    what = "12 clients hold the probe port (6 silent, 6 sending a byte every 0.5 s) while the kubelet probes"


@case
class StarveSlowlorisChurn(SlowlorisCase):
    name = "starve-slowloris-churn"
    what = ("2 x 40 clients hold the probe port and reconnect the moment they are evicted; the kubelet's "
            "request head follows its connection by 50 ms")
    n_silent, n_partial, churn, procs = 20, 20, True, 2
    # A head that is not there when the connection is accepted is where eviction can hit a probe.
    probe_head_delay = 0.05
    leader = True


# ---- class 8: floods

@case
class FloodBlank(Case):
    name = "flood-blank-lines"
    klass = 8
    what = "the order watch streams nothing but blank lines, 16 KiB chunks, at full speed"

    def hostile(self, api, conn, req):
        if req.kind == "watch-orders":
            reply(conn, req, 200, stream_head())
            blob = chunk(b"\n" * 16384)
            flood(api, conn, lambda i: blob)
            return True
        return False


    def checks(self, run):
        return [flood_ran(run)]

@case
class FloodPadding(Case):
    name = "flood-chunk-padding"
    klass = 8
    what = "the Pod watch streams 1-byte chunks with long chunk extensions, at full speed"
    leader = True

    def hostile(self, api, conn, req):
        if req.kind == "watch-pods":
            reply(conn, req, 200, stream_head())
            blob = (b"1;pad=" + b"x" * 200 + b"\r\n\n\r\n") * 64
            flood(api, conn, lambda i: blob)
            return True
        return False


    def checks(self, run):
        return [flood_ran(run)]

@case
class FloodForeignPods(Case):
    name = "flood-foreign-pods"
    klass = 8
    what = "the Pod watch streams ADDED events of foreign Pods (no order label, or an unknown order's) at full speed"

    def hostile(self, api, conn, req):
        if req.kind == "watch-pods":
            reply(conn, req, 200, stream_head())

            def make(i):
                labels = {"app": "web"} if i % 2 else {"pizzeria.example.com/order": "nobody-%d" % i}
                p = {"apiVersion": "v1", "kind": "Pod", "metadata": {
                    "name": "web-%d" % i, "namespace": "default", "uid": str(uuidlib.uuid4()),
                    "resourceVersion": str(api.rv), "labels": labels}, "status": {"phase": "Running"}}
                return chunk(jdump({"type": "ADDED", "object": p}) + b"\n")
            flood(api, conn, make)
            return True
        return False


    def checks(self, run):
        return [flood_ran(run)]

@case
class FloodWrongKind(Case):
    name = "flood-wrong-kind"
    klass = 8
    what = "the order watch streams ADDED events of another kind (fruit.example.com/v1 Banana) at full speed"

    def hostile(self, api, conn, req):
        if req.kind == "watch-orders":
            reply(conn, req, 200, stream_head())

            def make(i):
                b = {"apiVersion": "fruit.example.com/v1", "kind": "Banana", "metadata": {
                    "name": "banana-%d" % i, "namespace": "default", "uid": str(uuidlib.uuid4()),
                    "resourceVersion": str(api.rv), "generation": 1}, "color": "yellow"}
                return chunk(jdump({"type": "ADDED", "object": b}) + b"\n")
            flood(api, conn, make)
            return True
        return False

    def checks(self, run):
        calls = [r.short() for r in run.api.requests if b"banana" in r.raw.split(b"\r\n")[0]]
        return [flood_ran(run),
                ("no call is made for an object that is not a PizzaOrder (%d made)" % len(calls), not calls, calls[:4])]


@case
class FloodOversized(Case):
    name = "flood-oversized"
    klass = 8
    what = "the list holds a 100 KiB order (> --max-object-bytes) and the watch streams such orders at full speed"

    def big(self, api, i):
        o = order_item(api, name="big-%d" % i)
        o["metadata"]["annotations"] = {"pad": "p" * 100000}
        return o

    def hostile(self, api, conn, req):
        if req.kind == "list-orders":
            items = [json.loads(jdump(o)) for o in api.orders.values()] + [self.big(api, 0)]
            return reply(conn, req, 200, response(200, api.list_body("orders", items=items)))
        if req.kind == "watch-orders":
            reply(conn, req, 200, stream_head())
            blob = chunk(jdump({"type": "ADDED", "object": self.big(api, 1)}) + b"\n")
            flood(api, conn, lambda i: blob)
            return True
        return False

    def checks(self, run):
        calls = [r.short() for r in run.api.requests if b"big-" in r.raw.split(b"\r\n")[0]]
        return [flood_ran(run), logged(run, r"exceeds --max-object-bytes", "the oversized object is skipped and logged"),
                ("no call is made for the oversized order", not calls, calls[:4])]


# ---- class 9: malformed framing

@case
class FrameStatus(Case):
    name = "frame-bad-status"
    klass = 9
    what = "lists answer bad status lines: 2OO, HTTP/2, ICY, no space, 099, 600, a bare LF line"
    LINES = [b"HTTP/1.1 2OO OK", b"HTTP/2 200 OK", b"ICY 200 OK", b"HTTP/1.1 200OK", b"HTTP/1.1 099 Low",
             b"HTTP/1.1 600 High", b"HTTP/1.1 200 OK\x00", b"\n"]

    def hostile(self, api, conn, req):
        if req.kind in ("list-orders", "list-pods"):
            i = sum(1 for r in api.requests if r.kind.startswith("list-"))
            body = jdump(api.list_body(req.kind[5:]))
            return reply(conn, req, "bad status", self.LINES[i % len(self.LINES)] +
                         b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        return False

    def checks(self, run):
        return [logged(run, r"malformed HTTP response", "the bad status lines are refused")]


@case
class FrameHugeHeaders(Case):
    name = "frame-huge-headers"
    klass = 9
    what = "lists answer with 1 MB of headers (1,000 lines of 1 KB, or one line of 1 MB)"

    def hostile(self, api, conn, req):
        if req.kind == "list-orders":
            i = sum(1 for r in api.requests if r.kind == "list-orders")
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            if i % 2:
                head += b"".join(b"X-Pad-%d: %s\r\n" % (k, b"p" * 1000) for k in range(1000))
            else:
                head += b"X-Pad: " + b"p" * 1000000 + b"\r\n"
            body = jdump(api.list_body("orders"))
            return reply(conn, req, "huge head", head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return False

    def checks(self, run):
        return [logged(run, r"exceeds its size bound|malformed HTTP", "the huge head is refused")]


@case
class FrameCL(Case):
    name = "frame-content-length"
    klass = 9
    what = "Content-Length 99999999999999999999, 2^64, -1, and two different Content-Lengths"
    VALUES = [[b"99999999999999999999"], [b"18446744073709551616"], [b"-1"], [b"10", b"20"]]

    def hostile(self, api, conn, req):
        if req.kind in ("list-orders", "post-pod"):
            i = sum(1 for r in api.requests if r.kind in ("list-orders", "post-pod"))
            body = jdump(api.list_body("orders"))
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + b"".join(
                b"Content-Length: %s\r\n" % v for v in self.VALUES[i % len(self.VALUES)])
            reply(conn, req, "bad length", head + b"\r\n" + body)
            hold(api, conn)
            return True
        return False

    def checks(self, run):
        return [logged(run, r"malformed HTTP response", "the bad lengths are refused")]


@case
class FrameChunkSize(Case):
    name = "frame-chunk-size"
    klass = 9
    what = "watch chunk sizes of 20 hex digits, 2^64, a negative one, and one with junk after the digits"
    SIZES = [b"ffffffffffffffffffff", b"10000000000000000", b"-1", b"1g"]
    leader = True

    def hostile(self, api, conn, req):
        if req.kind in ("watch-orders", "watch-pods"):
            i = sum(1 for r in api.requests if r.kind.startswith("watch-"))
            reply(conn, req, 200, stream_head() + self.SIZES[i % len(self.SIZES)] + b"\r\n" + b"{" * 4096)
            hold(api, conn)
            return True
        return False

    def checks(self, run):
        return [logged(run, r"malformed HTTP response|exceeds its size bound", "the bad chunk sizes are refused")]


@case
class FrameChunkEnd(Case):
    name = "frame-chunk-terminator"
    klass = 9
    what = "watch chunks end with XX, CR CR, or run past their size into the next chunk's line"
    ENDS = [b"XX", b"\r\r", b"\n\n\n"]

    def hostile(self, api, conn, req):
        if req.kind == "watch-orders":
            i = sum(1 for r in api.requests if r.kind == "watch-orders")
            bm = jdump({"type": "BOOKMARK", "object": {"kind": "PizzaOrder", "apiVersion": "pizzeria.example.com/v1",
                                                       "metadata": {"resourceVersion": str(api.rv)}}}) + b"\n"
            data = stream_head() + b"%x\r\n" % len(bm) + bm + self.ENDS[i % len(self.ENDS)] + chunk(bm)
            reply(conn, req, 200, data)
            hold(api, conn)
            return True
        return False

    def checks(self, run):
        return [logged(run, r"malformed HTTP response", "the bad chunk terminators are refused")]


@case
class FrameDeep(Case):
    name = "frame-deep-json"
    klass = 9
    what = ("deep JSON: Pod list items of 100,000 '[' or 60,000 '[', order watch events of 60,000 '[' or "
            "8,000 nested arrays closed")

    def hostile(self, api, conn, req):
        # Pods: the order list must succeed for the order watch (and, after it, the Pod list) to run.
        if req.kind == "list-pods":
            i = sum(1 for r in api.requests if r.kind == "list-pods")
            n = 100000 if i % 2 else 60000
            body = b'{"apiVersion":"v1","items":[' + b"[" * n + b"]" * n + \
                   b'],"kind":"PodList","metadata":{"resourceVersion":"%d"}}' % api.rv
            return reply(conn, req, 200, response(200, body))
        if req.kind == "watch-orders":
            i = sum(1 for r in api.requests if r.kind == "watch-orders")
            if i % 2:
                ev = b'{"type":"ADDED","object":' + b"[" * 60000 + b"\n"
            else:
                ev = b'{"type":"ADDED","object":{"metadata":' + b"[" * 8000 + b"]" * 8000 + b"}}\n"
            reply(conn, req, 200, stream_head() + chunk(ev))
            hold(api, conn)
            return True
        return False

    def checks(self, run):
        w = run.log_lines(r'msg="watch restarted" resource=pizzaorders')
        p = run.log_lines(r'msg="watch restarted" resource=pods')
        return [("both deep documents are refused (%d order watch, %d Pod list restarts logged)" % (len(w), len(p)),
                 w and p, [])]


@case
class FrameTypes(Case):
    name = "frame-wrong-types"
    klass = 9
    what = 'wrong JSON types: "items": 5, "resourceVersion": 7, "metadata": [], names of 5 and [], "type": 1'
    leader = True

    # Pod lists (the order list stays sane so that the order watch runs too).
    BODIES = [
        b'{"apiVersion":"v1","items":5,"kind":"PodList","metadata":{"resourceVersion":"9"}}',
        b'{"apiVersion":"v1","items":[],"kind":"PodList","metadata":{"resourceVersion":7}}',
        b'{"apiVersion":"v1","items":[5,"s",null,true],"kind":"PodList","metadata":{"resourceVersion":"9"}}',
        b'{"apiVersion":"v1","items":[],"kind":"PodList","metadata":[]}',
        b'{"apiVersion":"v1","items":[{"metadata":{"name":5,"namespace":[],"labels":7,"uid":{}},"spec":"x"}],'
        b'"kind":"PodList","metadata":{"resourceVersion":"9","continue":false}}',
        b'[]', b'"items"', b'{"items":{"a":1},"metadata":{"resourceVersion":"9"}}',
    ]
    # Order watch events.
    EVENTS = [b'{"type":1,"object":{"metadata":{"resourceVersion":"7"}}}',
              b'{"type":"ADDED","object":[]}',
              b'{"type":"ADDED","object":{"metadata":{"resourceVersion":7,"name":"o9","namespace":"default"}}}',
              b'{"type":"MODIFIED","object":{"metadata":{"name":["o1"],"namespace":"default","uid":5,'
              b'"generation":"1","resourceVersion":"300"},"spec":{"size":5,"toppings":"cheese"}}}',
              b'{"type":"ADDED","object":{"metadata":{"name":"o1","namespace":"default","uid":"%s",'
              b'"generation":1e999,"resourceVersion":"301"},"spec":{"size":"small","toppings":[1,{"a":[]}]}}}']

    def hostile(self, api, conn, req):
        if req.kind == "list-pods":
            i = sum(1 for r in api.requests if r.kind == "list-pods")
            return reply(conn, req, 200, response(200, self.BODIES[i % len(self.BODIES)]))
        if req.kind == "watch-orders":
            i = sum(1 for r in api.requests if r.kind == "watch-orders")
            ev = self.EVENTS[i % len(self.EVENTS)]
            if b"%s" in ev:
                ev = ev % api.orders[("default", "o1")]["metadata"]["uid"].encode()
            reply(conn, req, 200, stream_head() + chunk(ev + b"\n"))
            hold(api, conn)
            return True
        return False

    def checks(self, run):
        w = run.log_lines(r'msg="watch restarted" resource=pizzaorders')
        p = run.log_lines(r'msg="watch restarted" resource=pods')
        return [("the mistyped documents are refused (%d order watch, %d Pod list restarts logged)" % (len(w), len(p)),
                 w and p, [])]


# ---- class 10: write conflicts

def error_status_writes(run):
    """Status applies that show a failure (Ready=False, ReconcileError), by message."""
    by = {}
    for r in run.reqs(("patch-status",)):
        try:
            st = json.loads(r.body).get("status") or {}
        except ValueError:
            continue
        for c in st.get("conditions") or []:
            if c.get("reason") == "ReconcileError":
                by[c.get("message")] = by.get(c.get("message"), 0) + 1
    return by


@case
class Conflict409404(Case):
    name = "conflict-409-then-404"
    klass = 10
    what = "Pod creation answers 409 AlreadyExists, and reading that Pod answers 404"

    def hostile(self, api, conn, req):
        if req.kind == "post-pod":
            return reply(conn, req, 409, status_resp(409, "AlreadyExists", 'pods "o1-oven" already exists'))
        if req.kind == "get-pod":
            return reply(conn, req, 404, status_resp(404, "NotFound", 'pods "o1-oven" not found'))
        return False

    def checks(self, run):
        gets = run.reqs(("get-pod",), before_switch=True)
        return [("after the 409 the Pod is read (%d reads)" % len(gets), len(gets) >= 1, []),
                logged(run, r"existed on create but is gone on read", "the create/read race is logged")]


@case
class Conflict409Status(Case):
    name = "conflict-status-409"
    klass = 10
    what = "status apply answers 409 Conflict"

    def hostile(self, api, conn, req):
        if req.kind == "patch-status":
            return reply(conn, req, 409, status_resp(409, "Conflict", "Operation cannot be fulfilled on "
                                                                      "pizzaorders.pizzeria.example.com \"o1\": the object has been modified"))
        return False

    def checks(self, run):
        return [logged(run, r'msg="reconcile failed".*http=409', "the failed apply is logged with its status")]


@case
class Conflict422(Case):
    name = "conflict-status-422"
    klass = 10
    what = "status apply answers 422 Invalid"
    leader = True

    def hostile(self, api, conn, req):
        if req.kind == "patch-status":
            body = status_obj(422, "Invalid", 'PizzaOrder.pizzeria.example.com "o1" is invalid: status.phase: '
                                              'Unsupported value: "Pending"')
            body["details"] = {"name": "o1", "kind": "PizzaOrder", "causes": [
                {"reason": "FieldValueNotSupported", "message": "Unsupported value", "field": "status.phase"}]}
            return reply(conn, req, 422, response(422, body))
        return False

    def checks(self, run):
        return [logged(run, r'msg="reconcile failed".*http=422', "the failed apply is logged with its status")]


@case
class Conflict403(Case):
    name = "conflict-create-403"
    klass = 10
    what = "Pod creation answers 403 Forbidden (RBAC)"

    def hostile(self, api, conn, req):
        if req.kind == "post-pod":
            return reply(conn, req, 403, status_resp(403, "Forbidden", 'pods is forbidden: User "system:serviceaccount:'
                                                                       'x:y" cannot create resource "pods"'))
        return False

    def checks(self, run):
        by = error_status_writes(run)
        many = {m: n for m, n in by.items() if n > 1}
        return [("Ready=False/ReconcileError is written once per distinct failure (%s)"
                 % (", ".join("%dx" % n for n in by.values()) or "none"), by and not many,
                 ["%dx %r" % (n, m) for m, n in many.items()] or ([] if by else ["no ReconcileError status written"]))]


# ---- class 11: credentials

class CredCase(Case):
    klass = 11
    creds = "tokenfile"
    # The token is re-read at once after a 401, else every minute (client-go's rule), so the first
    # request after the rotation may still carry the old token: one 401 is allowed, and it is one
    # more watch failure. Measured and computed from the backoff (0.5 s doubling, jittered): the
    # first try after the switch comes within 8 s, the 401'd one then waits up to 16 s: 30 s.
    converge_s = 30.0

    def unauthorized(self, api, req):
        return True     # 401 for every request while hostile

    def on_switch(self, api):
        with open(self.token_path(api), "w") as f:
            f.write(TOKEN2 + "\n")
        api.token_ok = {TOKEN2}

    def token_path(self, api):
        return os.path.join(api.dir, "sa", "token") if self.creds == "incluster" else os.path.join(api.dir, "token")

    def checks(self, run):
        after = run.reqs(before_switch=False)
        first401 = next((r for r in after if r.status == 401), None)
        if first401 is None:
            late = []
        else:
            late = [r for r in after if r.t > first401.t + 0.25 and r.token != TOKEN2]
        n401 = len([r for r in after if r.status == 401])
        pre = run.reqs(before_switch=True)
        return [("every request in the hostile phase got 401 (%d)" % len(pre), pre and all(r.status == 401 for r in pre),
                 []),
                ("the rotated token is used from the first 401 on (%d 401s after the rotation)" % n401,
                 not late and any(r.token == TOKEN2 for r in after),
                 ["+%.2f s %s with the old token" % (r.t - run.t_start, r.short()) for r in late[:5]])]


@case
class Cred401(CredCase):
    name = "cred-401-tokenfile"
    what = "401 on everything (kubeconfig tokenFile); then the file is rotated and only the new token works"


@case
class Cred401InCluster(CredCase):
    name = "cred-401-incluster"
    what = "401 on everything (in-cluster service account, --leader-elect); then the token file is rotated"
    creds = "incluster"
    leader = True


@case
class CredBadFile(CredCase):
    name = "cred-token-file-injection"
    what = "401 on everything while the token file holds 'evil CRLF X-Injected: yes'; then a good new token"

    def unauthorized(self, api, req):
        # The first answer carries the start-up token; right after it the file goes bad.
        if not getattr(self, "spoiled", False):
            self.spoiled = True
            with open(self.token_path(api), "w") as f:
                f.write("evil" + PAYLOAD + "\n")
        return True

    def checks(self, run):
        return CredCase.checks(self, run) + [
            logged(run, r"credentials=.*token", "the unusable token file is named in the log")]


@case
class CredMissingFile(CredCase):
    name = "cred-token-file-missing"
    what = "401 on everything while the token file is deleted; then it comes back with a new token"

    def unauthorized(self, api, req):
        if not getattr(self, "spoiled", False):
            self.spoiled = True
            try:
                os.unlink(self.token_path(api))
            except OSError:
                pass
        return True

    def checks(self, run):
        return CredCase.checks(self, run) + [
            logged(run, r"credentials=.*token", "the missing token file is named in the log")]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
