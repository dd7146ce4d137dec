#!/usr/bin/python3
"""res_probe: res_query() and res_send() as a program with its own DNS logic
calls them, for tests/integration/check_parity.sh (run under the shim).

    res_probe.py query NAME TYPE    prints "LENGTH h_errno=N ancount=N"
    res_probe.py send NAME TYPE     the same through res_send() with a query
                                    built here (ID 0x4242); adds "id=N"
    res_probe.py garbage            res_send() of a malformed query

The functions are looked up in the process's global namespace, where the
preloaded shim comes first (libc.so.6's own handle would bypass it).
"""
import ctypes
import struct
import sys

TYPES = {"A": 1, "AAAA": 28, "MX": 15, "TXT": 16}
lib = ctypes.CDLL(None)
h_errno = lib.__h_errno_location
h_errno.restype = ctypes.POINTER(ctypes.c_int)


def query_bytes(name, qtype, qid=0x4242):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def show(n, buf):
    line = "%d h_errno=%d" % (n, h_errno()[0])
    if n >= 12:
        qid, _, _, ancount = struct.unpack(">HHHH", buf.raw[:8])
        line += " ancount=%d id=%d" % (ancount, qid)
    print(line)


def main(argv):
    buf = ctypes.create_string_buffer(4096)
    if argv[0] == "query":
        n = lib.res_query(argv[1].encode(), 1, TYPES[argv[2]], buf, len(buf))
    elif argv[0] == "send":
        q = query_bytes(argv[1], TYPES[argv[2]])
        n = lib.res_send(q, len(q), buf, len(buf))
    else:
        q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x3fabc"
        n = lib.res_send(q, len(q), buf, len(buf))
    show(n, buf)


if __name__ == "__main__":
    main(sys.argv[1:])
