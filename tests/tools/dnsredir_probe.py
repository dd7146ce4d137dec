#!/usr/bin/env python3
"""tests/tools/dnsredir_probe.py: a program with its own DNS client, for
shim_dns_redirect.sh.  Builds and reads DNS messages itself (no library) and
talks to a server on port 53 the ways DNS clients do:

  epoll SERVER NAME...     one non-blocking unconnected UDP socket, epoll, the
                           same query ID for every query, recvfrom's source
  connected SERVER NAME    a connected UDP socket: getpeername, send, recv,
                           getsockname's address
  tcp SERVER NAME NAME     TCP, both queries in one write (pipelined)
  threads SERVER N ROUNDS  N threads, each mixing its own UDP queries with
                           getaddrinfo() of other names
  foreign SERVER NAME      after one query, sends NAME straight to each UDP
                           port this process has on 127.0.0.1 (the shim's
                           responder) from another process without the shim,
                           and from a socket of its own that never sent to
                           port 53: "foreign PORT no answer" when ignored
  raw ADDR PORT NAME       one query to ADDR:PORT, 2 s for an answer
  msg SERVER NAME          sendmsg() with a destination, recvmsg()
  bound SERVER LOCAL NAME  a UDP socket bound to LOCAL:0 first
  fork SERVER NAME NAME    a query, then fork(): the child asks NAME2 on a
                           new socket and on the parent's, the parent again

SERVER is ADDR (IPv4, IPv6 or v4-mapped IPv6).  Prints one line per answer,
e.g. "epoll secure.lab.example 127.0.10.1 id=4242 from=127.0.0.53:53", or
"ERROR ..." and exits 1.
"""
import errno
import os
import select
import socket
import struct
import sys
import threading

QID = 0x4242


def query(name, qid=QID, qtype=1):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def skip_name(m, o):
    while True:
        c = m[o]
        if c & 0xC0 == 0xC0:
            return o + 2
        o += 1 + c
        if c == 0:
            return o


def addresses(m, name, qid=QID):
    """The A/AAAA records of answer M to NAME; checks ID, QR and question."""
    rid, flags, qd, an = struct.unpack(">HHHH", m[:8])
    if rid != qid or not flags & 0x8000 or qd != 1:
        raise ValueError("bad header id=%x flags=%x qd=%d" % (rid, flags, qd))
    o = skip_name(m, 12)
    asked = query(name, qid)[12:]
    if m[12:o + 4].lower() != asked.lower():
        raise ValueError("answer to another question")
    o += 4
    out = []
    for _ in range(an):
        o = skip_name(m, o)
        t, _c, _ttl, ln = struct.unpack(">HHIH", m[o:o + 10])
        o += 10
        if t == 1:
            out.append(socket.inet_ntop(socket.AF_INET, m[o:o + 4]))
        elif t == 28:
            out.append(socket.inet_ntop(socket.AF_INET6, m[o:o + 16]))
        o += ln
    return out


def family_of(server):
    return socket.AF_INET6 if ":" in server else socket.AF_INET


def peer_text(addr):
    return "%s:%d" % (addr[0], addr[1])


def cmd_epoll(server, names):
    fam = family_of(server)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setblocking(False)
    ep = select.epoll()
    ep.register(s.fileno(), select.EPOLLIN)
    for name in names:
        # Nothing is readable before the query is sent: no readiness faked.
        if ep.poll(0):
            print("ERROR %s: readable before the query" % name)
            return 1
        try:
            s.recvfrom(4096)
            print("ERROR %s: a datagram before the query" % name)
            return 1
        except BlockingIOError:
            pass
        s.sendto(query(name), (server, 53))
        if not ep.poll(10):
            print("ERROR %s: epoll saw no answer" % name)
            return 1
        m, src = s.recvfrom(4096)
        print("epoll %s %s id=%x from=%s" % (name, ",".join(addresses(m, name)), QID,
                                            peer_text(src)))
    return 0


def cmd_connected(server, name):
    s = socket.socket(family_of(server), socket.SOCK_DGRAM)
    s.settimeout(10)
    s.connect((server, 53))
    s.send(query(name))
    m = s.recv(4096)
    print("connected %s %s peer=%s local=%s" % (name, ",".join(addresses(m, name)),
                                                peer_text(s.getpeername()),
                                                s.getsockname()[0]))
    return 0


def read_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise ValueError("connection closed")
        b += c
    return b


def cmd_tcp(server, names):
    s = socket.socket(family_of(server), socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect((server, 53))
    msgs = [query(n, qid=0x100 + i) for i, n in enumerate(names)]
    s.sendall(b"".join(struct.pack(">H", len(m)) + m for m in msgs))
    for i, n in enumerate(names):
        ln = struct.unpack(">H", read_exact(s, 2))[0]
        m = read_exact(s, ln)
        print("tcp %s %s peer=%s" % (n, ",".join(addresses(m, n, 0x100 + i)),
                                     peer_text(s.getpeername())))
    return 0


WANT = {
    "secure.lab.example": "127.0.10.1",
    "both.lab.example": "127.0.10.2",
    "clear.lab.example": "127.0.10.3",
    "mail.lab.example": "127.0.10.4",
    "odd.lab.example": "127.0.10.5",
    "norecord.lab.example": "127.0.10.6",
    "xmpp.lab.example": "127.0.10.13",
}


def cmd_threads(server, n, rounds):
    names = sorted(WANT)
    errors = []
    done = [0]
    lock = threading.Lock()

    def run(k):
        s = socket.socket(family_of(server), socket.SOCK_DGRAM)
        s.settimeout(10)
        for r in range(rounds):
            own = names[(k + r) % len(names)]
            other = names[(k + r + 3) % len(names)]
            qid = (k << 8) | r
            try:
                s.sendto(query(own, qid), (server, 53))
                m, src = s.recvfrom(4096)
                got = addresses(m, own, qid)
                gai = {a[4][0] for a in socket.getaddrinfo(other, 80, socket.AF_INET,
                                                           socket.SOCK_STREAM)}
                if got != [WANT[own]] or gai != {WANT[other]} or src[1] != 53:
                    raise ValueError("%s -> %s, %s -> %s, from %s" % (own, got, other, gai,
                                                                     src))
                with lock:
                    done[0] += 1
            except Exception as e:  # noqa: BLE001 - every failure is reported
                with lock:
                    errors.append("thread %d round %d: %s" % (k, r, e))
        s.close()

    ts = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for e in errors[:5]:
        print("ERROR " + e)
    print("threads %d of %d" % (done[0], n * rounds))
    return 1 if errors else 0


def own_loopback_udp_ports():
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = []
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            ip, port = fields[1].split(":")
            if ip == "0100007F" and fields[9] in inodes:
                ports.append(int(port, 16))
    return ports


def cmd_raw(addr, port, name):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(query(name), (addr, port))
    try:
        s.recvfrom(4096)
        return "answered"
    except socket.timeout:
        return "no answer"


def cmd_foreign(server, name):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(10)
    s.sendto(query(name), (server, 53))
    addresses(s.recvfrom(4096)[0], name)
    ports = own_loopback_udp_ports()
    if not ports:
        print("ERROR no UDP socket of this process on 127.0.0.1")
        return 1
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    import subprocess
    for port in ports:
        r = subprocess.run([sys.executable, __file__, "raw", "127.0.0.1", str(port), name],
                           env=env, capture_output=True, text=True, check=False)
        print("foreign %s" % r.stdout.strip())
        print("own-socket %s" % cmd_raw("127.0.0.1", port, name))
    return 0


def cmd_msg(server, name):
    s = socket.socket(family_of(server), socket.SOCK_DGRAM)
    s.settimeout(10)
    s.sendmsg([query(name)[:12], query(name)[12:]], [], 0, (server, 53))
    m, _anc, _flags, src = s.recvmsg(4096)
    print("msg %s %s from=%s" % (name, ",".join(addresses(m, name)), peer_text(src)))
    return 0


def ask(s, server, name):
    s.sendto(query(name), (server, 53))
    m, src = s.recvfrom(4096)
    return "%s %s from=%s" % (name, ",".join(addresses(m, name)), peer_text(src))


def cmd_bound(server, local, name):
    s = socket.socket(family_of(server), socket.SOCK_DGRAM)
    s.settimeout(10)
    s.bind((local, 0))
    print("bound " + ask(s, server, name) + " local=" + s.getsockname()[0])
    return 0


def cmd_fork(server, first, second):
    s = socket.socket(family_of(server), socket.SOCK_DGRAM)
    s.settimeout(10)
    print("parent " + ask(s, server, first), flush=True)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            c = socket.socket(family_of(server), socket.SOCK_DGRAM)
            c.settimeout(10)
            print("child new " + ask(c, server, second), flush=True)
            print("child inherited " + ask(s, server, second), flush=True)
        except (OSError, ValueError) as e:
            print("ERROR child %s" % e, flush=True)
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print("parent again " + ask(s, server, second), flush=True)
    return 1 if status else 0


def main(argv):
    try:
        if argv[1] == "epoll":
            return cmd_epoll(argv[2], argv[3:])
        if argv[1] == "connected":
            return cmd_connected(argv[2], argv[3])
        if argv[1] == "tcp":
            return cmd_tcp(argv[2], argv[3:])
        if argv[1] == "foreign":
            return cmd_foreign(argv[2], argv[3])
        if argv[1] == "raw":
            print(cmd_raw(argv[2], int(argv[3]), argv[4]))
            return 0
        if argv[1] == "msg":
            return cmd_msg(argv[2], argv[3])
        if argv[1] == "bound":
            return cmd_bound(argv[2], argv[3], argv[4])
        if argv[1] == "fork":
            return cmd_fork(argv[2], argv[3], argv[4])
        if argv[1] == "threads":
            return cmd_threads(argv[2], int(argv[3]), int(argv[4]))
    except OSError as e:
        print("ERROR %s %s" % (errno.errorcode.get(e.errno, e.errno), e))
        return 1
    except ValueError as e:
        print("ERROR %s" % e)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
