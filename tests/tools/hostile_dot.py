#!/usr/bin/python3
"""A DNS-over-TLS upstream that misbehaves in one way, for the reason tests.

    hostile_dot.py --listen ADDR:PORT --cert PEM --key KEY --log FILE MODE

It completes the TLS handshake with the given certificate (the lab's
dot.lab.example one, so that the client authenticates it), reads each
length-prefixed query and then, per MODE:
  close     closes the connection without answering
  tc        answers with the TC bit set (never valid over a stream)
  loop      answers with one A record whose owner name is a compression
            pointer to itself
  servfail  answers SERVFAIL (a well-formed answer: the upstream's own)
It writes "ready" to the log once listening and one line per query.
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


def question_end(q):
    """Offset after the (uncompressed) question of the query Q."""
    o = 12
    while q[o]:
        o += q[o] + 1
    return o + 1 + 4


def answer(q, mode):
    end = question_end(q)
    flags = 0x8000 | (q[2] & 0x01) << 8 | 0x80  # QR, RD copied, RA
    if mode == "tc":
        flags |= 0x0200
    if mode == "servfail":
        return q[:2] + struct.pack(">HHHHH", flags | 2, 1, 0, 0, 0) + q[12:end]
    owner = 0xC000 | 12 if mode == "tc" else 0xC000 | end  # loop: points at itself
    rr = struct.pack(">HHHIH", owner, 1, 1, 60, 4) + bytes([127, 0, 0, 1])
    return q[:2] + struct.pack(">HHHHH", flags, 1, 1, 0, 0) + q[12:end] + rr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("mode", choices=("close", "tc", "loop", "servfail"))
    a = ap.parse_args()
    logf = open(a.log, "a", buffering=1)
    lock = threading.Lock()

    def log(line):
        with lock:
            logf.write(line + "\n")

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
        t.settimeout(10)
        try:
            while True:
                n = struct.unpack(">H", recv_exact(t, 2))[0]
                q = recv_exact(t, n)
                log("query %s" % a.mode)
                if a.mode == "close":
                    break
                r = answer(q, a.mode)
                t.sendall(struct.pack(">H", len(r)) + r)
        except (EOFError, OSError, IndexError, struct.error):
            pass
        try:
            t.close()
        except OSError:
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
