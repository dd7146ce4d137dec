#!/usr/bin/python3
"""The lab's services: one process listening for every host of tests/lab/hosts.

Every host address gets TCP listeners on 80 443 25 993 995 8080 8443, and
hosts named xmpp.* also on 5222.  A listener answers as the real service,
"OK <name> <port>", unless the host's HASTLS record is DNSSEC-secure
(STATUS secure) and does not list the port: then it is an impostor that
answers "IMPOSTOR <name> <port>" in the same protocol.  A client that reaches
an impostor therefore sees that its policy let through a connection the
record forbids.

Protocols by port:
  80, 8080     HTTP/1.x: the line is the body of a 200 response
  443, 8443    the same over TLS (certificate certs/hosts.pem, all host names)
  25           a banner line; "STARTTLS" upgrades to TLS and sends it again;
               "QUIT" closes; any other line is answered with the banner
  993, 995     TLS, then the banner as on 25
  5222         TLS with certs/xmpp.pem (its TLSA record), then the banner

The DANE hosts of DANE_CERTS serve their own certificate on every TLS port.
"""

import argparse
import asyncio
import os
import ssl
import sys

PORTS = (80, 443, 25, 993, 995, 8080, 8443)
HTTP = {80: False, 8080: False, 443: True, 8443: True}  # port -> TLS
BANNER = {25: False, 993: True, 995: True, 5222: True}
XMPP_PORT = 5222
IDLE = 10  # seconds a connection may stay silent
# Hosts whose TLS ports serve another certificate than certs/hosts.pem: the
# self-signed one of their DANE-EE record, or the chain with the lab CA that
# DANE-TA needs.
DANE_CERTS = {
    "dane-ok.lab.example": "daneee",
    "dane-ee0.lab.example": "daneee",
    "dane-ta.lab.example": "hosts-chain",
    "dane-ta1.lab.example": "hosts-chain",
}


def read_hosts(path):
    hosts = []
    with open(path) as f:
        for line in f:
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            name, addrs, status = words[0], words[1].split(","), words[2]
            pairs = None
            if words[3:] != ["-"]:
                pairs = [int(w) for w in words[3:]]
            hosts.append((name, addrs, status, pairs))
    return hosts


def served(status, pairs, port):
    """Whether the host really serves PORT: only a secure record is enforced."""
    if status != "secure" or pairs is None:
        return True
    return port in [p for p in pairs if p != 0]


def tls_context(certs, name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(certs, name + ".pem"), os.path.join(certs, name + ".key"))
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


async def http(reader, writer, line):
    try:
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError):
        pass
    body = (line + "\n").encode()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    await writer.drain()


async def banner(reader, writer, line, starttls_ctx):
    writer.write((line + "\r\n").encode())
    await writer.drain()
    while True:
        try:
            cmd = await asyncio.wait_for(reader.readline(), IDLE)
        except asyncio.TimeoutError:
            return
        if not cmd:
            return
        word = cmd.strip().upper()
        if word == b"QUIT":
            writer.write(b"BYE\r\n")
            await writer.drain()
            return
        if word == b"STARTTLS" and starttls_ctx is not None:
            writer.write(b"GO\r\n")
            await writer.drain()
            await writer.start_tls(starttls_ctx)
            starttls_ctx = None
        writer.write((line + "\r\n").encode())
        await writer.drain()


def handler(name, port, real, starttls_ctx):
    line = "%s %s %d" % ("OK" if real else "IMPOSTOR", name, port)

    async def handle(reader, writer):
        try:
            if port in HTTP:
                await http(reader, writer, line)
            else:
                await banner(reader, writer, line, starttls_ctx if port == 25 else None)
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, ssl.SSLError, OSError):
                pass

    return handle


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", required=True)
    ap.add_argument("--certs", required=True, help="directory with hosts.pem/key, xmpp.pem/key")
    ap.add_argument("--ready", help="file to create once every port listens")
    args = ap.parse_args()

    hosts_ctx = tls_context(args.certs, "hosts")
    xmpp_ctx = tls_context(args.certs, "xmpp")
    dane_ctx = {c: tls_context(args.certs, c) for c in set(DANE_CERTS.values())}
    servers = []
    for name, addrs, status, pairs in read_hosts(args.hosts):
        ports = list(PORTS)
        if name.startswith("xmpp."):
            ports.append(XMPP_PORT)
        host_ctx = dane_ctx[DANE_CERTS[name]] if name in DANE_CERTS else hosts_ctx
        for addr in addrs:
            for port in ports:
                real = served(status, pairs, port)
                tls = HTTP.get(port, BANNER.get(port))
                ctx = (xmpp_ctx if port == XMPP_PORT else host_ctx) if tls else None
                try:
                    srv = await asyncio.start_server(handler(name, port, real, host_ctx),
                                                     addr, port, ssl=ctx, reuse_address=True,
                                                     ssl_handshake_timeout=IDLE if ctx else None)
                except OSError as e:
                    sys.exit("services: cannot listen on %s port %d: %s" % (addr, port, e))
                servers.append(srv)
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("%d listeners\n" % len(servers))
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
