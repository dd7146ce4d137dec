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
import struct
import sys

import dotserve


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
    log = dotserve.Log(a.log)

    def handle(q, send):
        log("query %s" % a.mode)
        if a.mode == "close":
            return False
        send(answer(q, a.mode))
        return True

    dotserve.serve(a.listen, a.cert, a.key, log, handle)


if __name__ == "__main__":
    sys.exit(main())
