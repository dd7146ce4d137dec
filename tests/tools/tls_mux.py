#!/usr/bin/env python3
"""tls_mux: a TLS server on one port that serves DNS or HTTP by ALPN, as a
port-443 server following draft-hoffman-dprive-dns-tls-alpn does.

    tls_mux.py --listen ADDR:PORT --cert PEM --key PEM --log FILE
               [--alpn dns,http/1.1] [--dns-alpn dns] [--forward 127.0.0.53:53]

--alpn is the server's list (its order is the server's preference; empty:
no ALPN at all).  A connection whose negotiated id is in --dns-alpn is DNS
over TLS, each query relayed over TCP to --forward; any other connection
(no id negotiated, or another one) gets an HTTP 400 answer and is closed,
as a web server would answer bytes that are not HTTP.  Every connection is
logged as "conn alpn=ID" (ID "none" when none was negotiated), then
"dns" or "http" for what it served.
"""
import argparse
import socket
import ssl
import struct
import threading

ap = argparse.ArgumentParser()
ap.add_argument("--listen", required=True)
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--alpn", default="dns,http/1.1")
ap.add_argument("--dns-alpn", default="dns")
ap.add_argument("--forward", default="127.0.0.53:53")
a = ap.parse_args()
logf = open(a.log, "a", buffering=1)
lock = threading.Lock()
dns_ids = set(x for x in a.dns_alpn.split(",") if x)
fwd_host, fwd_port = a.forward.rsplit(":", 1)


def log(line):
    with lock:
        logf.write(line + "\n")


def read_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return b


def serve_dns(t):
    with socket.create_connection((fwd_host, int(fwd_port)), timeout=5) as up:
        while True:
            pre = read_exact(t, 2)
            if pre is None:
                return
            q = read_exact(t, struct.unpack(">H", pre)[0])
            if q is None:
                return
            up.sendall(pre + q)
            apre = read_exact(up, 2)
            if apre is None:
                return
            ans = read_exact(up, struct.unpack(">H", apre)[0])
            if ans is None:
                return
            t.sendall(apre + ans)


def serve_http(t):
    try:
        t.recv(4096)
    except OSError:
        pass
    t.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
              b"Connection: close\r\n\r\n")
    # A lingering close, as web servers do after an error: the client's
    # further requests are read and dropped until it closes (or a second
    # passes).  Closing with them unread would reset the connection, and the
    # reset would discard the answer above before the client read it.
    t.settimeout(1)
    try:
        while t.recv(4096):
            pass
    except (OSError, ssl.SSLError):
        pass


def handle(conn, ctx):
    try:
        conn.settimeout(10)
        t = ctx.wrap_socket(conn, server_side=True)
    except (OSError, ssl.SSLError) as e:
        log("handshake failed: %s" % e)
        conn.close()
        return
    alpn = t.selected_alpn_protocol()
    log("conn alpn=%s" % (alpn or "none"))
    try:
        if alpn in dns_ids:
            log("dns")
            serve_dns(t)
        else:
            log("http")
            serve_http(t)
    except (OSError, ssl.SSLError):
        pass
    finally:
        t.close()


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    ids = [x for x in a.alpn.split(",") if x]
    if ids:
        ctx.set_alpn_protocols(ids)
    host, port = a.listen.rsplit(":", 1)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, int(port)))
    ls.listen(16)
    log("listening")
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=handle, args=(conn, ctx), daemon=True).start()


main()
