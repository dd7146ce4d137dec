#!/usr/bin/python3
"""shim_probe: resolve names and connect to them, for the shim's tests.

    shim_probe.py [-4|-6] [--udp] [--send] HOST:PORT ...

For each target: getaddrinfo(HOST, PORT) (first address of the family), then
connect() (TCP, or UDP with --udp; --send sends one UDP datagram with sendto()
instead of connecting).  Prints one line per target:

    HOST:PORT ADDRESS RESULT

RESULT is "ok" (connected / sent), "refused" (ECONNREFUSED: the shim let it
through, nothing listens), "EACCES" (the shim refused), another errno name,
or "gai:EAI_NAME" when the lookup failed (ADDRESS is then "-").
"""
import errno
import socket
import sys

GAI = {getattr(socket, n): n for n in dir(socket) if n.startswith("EAI_")}


def probe(target, family, udp, send):
    host, _, port = target.rpartition(":")
    kind = socket.SOCK_DGRAM if udp or send else socket.SOCK_STREAM
    try:
        infos = socket.getaddrinfo(host, int(port), family, kind)
    except socket.gaierror as e:
        return "- gai:%s" % GAI.get(e.errno, e.errno)
    fam, st, proto, _, addr = infos[0]
    s = socket.socket(fam, st, proto)
    s.settimeout(5)
    try:
        if send:
            s.sendto(b"probe", addr)
        else:
            s.connect(addr)
        res = "ok"
    except OSError as e:
        res = "refused" if e.errno == errno.ECONNREFUSED else errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()
    return "%s %s" % (addr[0], res)


def main(argv):
    family, udp, send = socket.AF_UNSPEC, False, False
    targets = []
    for a in argv:
        if a == "-4":
            family = socket.AF_INET
        elif a == "-6":
            family = socket.AF_INET6
        elif a == "--udp":
            udp = True
        elif a == "--send":
            send = True
        else:
            targets.append(a)
    for t in targets:
        print(t, probe(t, family, udp, send), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
