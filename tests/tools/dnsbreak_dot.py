#!/usr/bin/python3
"""A DNS-over-TLS upstream that forwards to the lab's resolver but breaks
chosen queries, as an on-path attacker between a program and its resolver
would: it cannot forge DNSSEC, but it can drop or refuse what it likes.

    dnsbreak_dot.py --listen ADDR:PORT --cert PEM --key KEY --log FILE \
                    [--forward ADDR:PORT] RULE...

RULE is NAME/TYPE/ACTION: NAME the query name (any case, no final dot),
TYPE a type number, ACTION servfail (answers SERVFAIL) or drop (never
answers).  Every other query goes over TCP to --forward (default
127.0.0.53:53) and its answer comes back unchanged.  Writes "ready" to the
log once listening and one line per query: "QNAME TYPE forwarded|ACTION".
"""

import argparse
import socket
import ssl
import struct
import sys
import threading


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b


def question(q):
    """(lower-case name, type, offset after the question) of query Q."""
    o, labels = 12, []
    while q[o]:
        if q[o] & 0xC0:
            raise ValueError("compressed question")
        labels.append(q[o + 1 : o + 1 + q[o]].decode("ascii", "replace").lower())
        o += q[o] + 1
    qtype = struct.unpack(">H", q[o + 1 : o + 3])[0]
    return ".".join(labels), qtype, o + 5


def servfail(q, end):
    flags = 0x8000 | (q[2] & 0x01) << 8 | 0x80 | 2  # QR, RD copied, RA, SERVFAIL
    return q[:2] + struct.pack(">HHHHH", flags, 1, 0, 0, 0) + q[12:end]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--forward", default="127.0.0.53:53")
    ap.add_argument("rules", nargs="*")
    a = ap.parse_args()
    rules = {}
    for r in a.rules:
        name, qtype, action = r.split("/")
        if action not in ("servfail", "drop"):
            ap.error("bad action in %s" % r)
        rules[(name.lower().rstrip("."), int(qtype))] = action
    fhost, fport = a.forward.rsplit(":", 1)
    logf = open(a.log, "a", buffering=1)
    lock = threading.Lock()

    def log(line):
        with lock:
            logf.write(line + "\n")

    def forward(q):
        with socket.create_connection((fhost, int(fport)), timeout=5) as f:
            f.sendall(struct.pack(">H", len(q)) + q)
            n = struct.unpack(">H", recv_exact(f, 2))[0]
            return recv_exact(f, n)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.set_alpn_protocols(["dot"])

    def serve(conn):
        try:
            t = ctx.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError) as e:
            log("handshake failed: %s" % e)
            conn.close()
            return
        t.settimeout(30)
        wlock = threading.Lock()

        def one(q):
            try:
                name, qtype, end = question(q)
            except (ValueError, IndexError, struct.error):
                return
            action = rules.get((name, qtype))
            log("%s %d %s" % (name, qtype, action or "forwarded"))
            if action == "drop":
                return
            try:
                r = servfail(q, end) if action else forward(q)
            except (OSError, EOFError):
                r = servfail(q, end)
            with wlock:
                try:
                    t.sendall(struct.pack(">H", len(r)) + r)
                except OSError:
                    pass

        try:
            while True:
                n = struct.unpack(">H", recv_exact(t, 2))[0]
                q = recv_exact(t, n)
                threading.Thread(target=one, args=(q,), daemon=True).start()
        except (EOFError, OSError, struct.error):
            pass

    host, port = a.listen.rsplit(":", 1)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, int(port)))
    ls.listen(16)
    log("ready")
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
