#!/usr/bin/python3
"""A DNS-over-TLS upstream that forwards to the lab's resolver but breaks
chosen queries, as an on-path attacker between a program and its resolver
would: it cannot forge DNSSEC, but it can drop or refuse what it likes.

    dnsbreak_dot.py --listen ADDR:PORT --cert PEM --key KEY --log FILE \
                    [--forward ADDR:PORT] RULE...

RULE is NAME/TYPE/ACTION: NAME the query name (any case, no final dot;
* for every name), TYPE a type number, ACTION servfail (answers SERVFAIL),
drop (never answers) or delay=SECONDS (forwards, and answers that much
later).  Every other query goes over TCP to --forward (default
127.0.0.53:53) and its answer comes back unchanged.  --close-all closes
each connection at its first query, unanswered.  Writes "ready" to the log
once listening, "conn resumed=True|False" for each TLS connection, one line
per query, "QNAME TYPE forwarded|ACTION", then
"answered QNAME TYPE late" for a delayed one, and "closing with a query
unanswered" under --close-all.
"""

import argparse
import socket
import struct
import sys
import threading
import time

import dotserve


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
    ap.add_argument("--close-all", action="store_true")
    ap.add_argument("rules", nargs="*")
    a = ap.parse_args()
    rules = {}
    for r in a.rules:
        name, qtype, action = r.split("/")
        if action not in ("servfail", "drop") and not action.startswith("delay="):
            ap.error("bad action in %s" % r)
        rules[(name.lower().rstrip("."), int(qtype))] = action
    fhost, fport = a.forward.rsplit(":", 1)
    log = dotserve.Log(a.log)

    def forward(q):
        with socket.create_connection((fhost, int(fport)), timeout=5) as f:
            f.sendall(struct.pack(">H", len(q)) + q)
            n = struct.unpack(">H", dotserve.recv_exact(f, 2))[0]
            return dotserve.recv_exact(f, n)

    def one(q, send):
        try:
            name, qtype, end = question(q)
        except (ValueError, IndexError, struct.error):
            return
        action = rules.get((name, qtype)) or rules.get(("*", qtype))
        log("%s %d %s" % (name, qtype, (action or "forwarded").split("=")[0]))
        if action == "drop":
            return
        try:
            if action and action.startswith("delay="):
                time.sleep(float(action[6:]))
                r = forward(q)
                log("answered %s %d late" % (name, qtype))
            else:
                r = servfail(q, end) if action else forward(q)
            send(r)
        except (OSError, EOFError):
            send(servfail(q, end))

    # Each query on a thread of its own: answers may overtake one another.
    def handle(q, send):
        if a.close_all:
            log("closing with a query unanswered")
            return False
        threading.Thread(target=one, args=(q, send), daemon=True).start()
        return True

    dotserve.serve(a.listen, a.cert, a.key, log, handle, timeout=30, log_connections=True)


if __name__ == "__main__":
    sys.exit(main())
