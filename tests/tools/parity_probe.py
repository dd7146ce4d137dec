#!/usr/bin/python3
"""parity_probe: what a program under the shim gets for one name, for
tests/integration/check_parity.sh.

    parity_probe.py NAME PORT...

Looks NAME up with getaddrinfo() asking for AF_UNSPEC, AF_INET and AF_INET6
(SOCK_STREAM, no flags), then connects to every address of the first lookup
that succeeded (in that order) on each PORT.  Prints

    NAME lookup AF_UNSPEC|AF_INET|AF_INET6 ok|EAI_NAME
    NAME port PORT allow|block|mixed|-

"block" when every connect() failed with EACCES (the shim refused), "allow"
when none did (connected, or refused by the peer), "mixed" when the
addresses disagree, "-" when no lookup succeeded (nothing to connect to).
"""
import errno
import socket
import sys

GAI = {getattr(socket, n): n for n in dir(socket) if n.startswith("EAI_")}
FAMILIES = [("AF_UNSPEC", socket.AF_UNSPEC), ("AF_INET", socket.AF_INET),
            ("AF_INET6", socket.AF_INET6)]


def lookup(name, family):
    try:
        return "ok", [i[4] for i in socket.getaddrinfo(name, None, family, socket.SOCK_STREAM)]
    except socket.gaierror as e:
        return GAI.get(e.errno, str(e.errno)), []


def connect(addr, port):
    fam = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect((addr[0], port) + tuple(addr[2:]))
        return "allow"
    except OSError as e:
        return "block" if e.errno == errno.EACCES else "allow"
    finally:
        s.close()


def main(argv):
    name, ports = argv[0], [int(p) for p in argv[1:]]
    addrs = None
    for label, family in FAMILIES:
        result, found = lookup(name, family)
        print(name, "lookup", label, result)
        if result == "ok" and addrs is None:
            addrs = found
    for port in ports:
        if not addrs:
            verdict = "-"
        else:
            seen = {connect(a, port) for a in addrs}
            verdict = seen.pop() if len(seen) == 1 else "mixed"
        print(name, "port", port, verdict)
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
