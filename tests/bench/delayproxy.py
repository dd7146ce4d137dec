#!/usr/bin/python3
"""delayproxy: forward TCP and UDP to a target address, adding a round-trip time.

    delayproxy.py --listen ADDR --target ADDR --rtt-ms R [--tcp PORT]... [--udp PORT]...
                  [--ready FILE] [--trace FILE]

Every byte and datagram is delayed by R/2 in each direction, so a request and
its answer take R more than without the proxy.  TCP's own handshake happens
between the client and this proxy on loopback, where it is instantaneous; to
charge it the round trip it would cost on a real path, nothing the client
sends is passed on before R after the connection was accepted (plus the R/2 of
every byte): the client's first bytes then reach the target at 1.5 R, as they
would after a SYN / SYN-ACK exchange over a link with round-trip time R.
The connection to the target is made when the client connects, so a target
that refuses shows up as a closed connection.  Order within each direction is
kept.  Both of the proxy's sockets acknowledge data as soon as it arrives
(TCP_QUICKACK), as the client's resolver does; since TCP ends at the proxy, a
sender's Nagle hold that would wait a round trip for the ACK on a real path is
not charged that round trip.  Runs until killed; with --ready, creates FILE once every port listens;
with --trace, writes a line per chunk (ms since start, port, direction, bytes):
where a lookup's round trips go.
"""

import argparse
import asyncio
import socket
import sys


TRACE = None
T0 = 0.0


def trace(what):
    if TRACE:
        TRACE.write("%9.3f %s\n" % ((asyncio.get_running_loop().time() - T0) * 1000, what))
        TRACE.flush()


class Pipe:
    """Copies a stream to a writer, each chunk no earlier than its due time."""

    def __init__(self, loop, reader, writer, delay, not_before, tag="tcp", sock=None):
        self.tag = tag
        self.sock = sock  # the socket READER reads from
        self.loop = loop
        self.reader = reader
        self.writer = writer
        self.delay = delay
        self.not_before = not_before
        self.queue = asyncio.Queue()

    async def read(self):
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                due = max(self.loop.time(), self.not_before) + self.delay
                trace("%s read %d" % (self.tag, len(data)))
                quickack(self.sock)
                self.queue.put_nowait((due, data))
        except (ConnectionError, OSError):
            pass
        self.queue.put_nowait((self.loop.time() + self.delay, None))

    async def write(self):
        try:
            while True:
                due, data = await self.queue.get()
                wait = due - self.loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    if self.writer.can_write_eof():
                        self.writer.write_eof()
                    break
                self.writer.write(data)
                await self.writer.drain()
        except (ConnectionError, OSError):
            pass


def quickack(sock):
    """Acknowledges what arrived at once: Linux delays ACKs by up to 40 ms and
    falls back to doing so after a while, so it is re-armed after every read.
    Without it the proxy's own delayed ACKs would hold back a sender that
    waits for them (Nagle), a stall that belongs to neither end."""
    if sock is not None and hasattr(socket, "TCP_QUICKACK"):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except OSError:
            pass


async def tcp_session(args, port, creader, cwriter):
    loop = asyncio.get_running_loop()
    accepted = loop.time()
    half = args.rtt_ms / 2000.0
    try:
        treader, twriter = await asyncio.open_connection(args.target, port)
    except OSError:
        cwriter.close()
        return
    trace("tcp/%d accepted" % port)
    up = Pipe(loop, creader, twriter, half, accepted + 2 * half, "tcp/%d up" % port,
              cwriter.get_extra_info("socket"))
    down = Pipe(loop, treader, cwriter, half, 0.0, "tcp/%d down" % port,
                twriter.get_extra_info("socket"))
    await asyncio.gather(up.read(), up.write(), down.read(), down.write())
    for w in (twriter, cwriter):
        w.close()


class UdpClientSide(asyncio.DatagramProtocol):
    """The listening socket: each client address gets its own upstream socket."""

    def __init__(self, args, port):
        self.args = args
        self.port = port
        self.half = args.rtt_ms / 2000.0
        self.upstreams = {}
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        loop = asyncio.get_running_loop()
        trace("udp/%d up %d" % (self.port, len(data)))
        loop.call_later(self.half, self.forward, data, addr)

    def forward(self, data, addr):
        up = self.upstreams.get(addr)
        if up is None:
            up = self.upstreams[addr] = UdpTargetSide(self, addr)
            asyncio.ensure_future(up.open())
        up.send(data)


class UdpTargetSide(asyncio.DatagramProtocol):
    def __init__(self, client_side, addr):
        self.client_side = client_side
        self.addr = addr
        self.transport = None
        self.pending = []

    async def open(self):
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(
            lambda: self, remote_addr=(self.client_side.args.target, self.client_side.port))

    def connection_made(self, transport):
        self.transport = transport
        for d in self.pending:
            transport.sendto(d)
        self.pending = []

    def send(self, data):
        if self.transport is None:
            self.pending.append(data)
        else:
            self.transport.sendto(data)

    def datagram_received(self, data, addr):
        loop = asyncio.get_running_loop()
        trace("udp/%d down %d" % (self.client_side.port, len(data)))
        loop.call_later(self.client_side.half, self.client_side.transport.sendto, data, self.addr)


async def main():
    ap = argparse.ArgumentParser(prog="delayproxy")
    ap.add_argument("--listen", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--rtt-ms", type=float, required=True)
    ap.add_argument("--tcp", type=int, action="append", default=[])
    ap.add_argument("--udp", type=int, action="append", default=[])
    ap.add_argument("--ready")
    ap.add_argument("--trace")
    args = ap.parse_args()
    loop = asyncio.get_running_loop()
    global TRACE, T0
    if args.trace:
        TRACE = open(args.trace, "w")
        T0 = loop.time()
    for port in args.tcp:
        await asyncio.start_server(
            lambda r, w, p=port: tcp_session(args, p, r, w), args.listen, port,
            reuse_address=True, backlog=1024)
    for port in args.udp:
        await loop.create_datagram_endpoint(
            lambda p=port: UdpClientSide(args, p), local_addr=(args.listen, port),
            family=socket.AF_INET)
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("ready\n")
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
