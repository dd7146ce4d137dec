"""The DNS-over-TLS server part of the lab's scripted upstreams
(hostile_dot.py, dnsbreak_dot.py): a TLS listener with the given
certificate that reads length-prefixed queries and hands each to the
tool's handler, and a log file written one line at a time."""

import socket
import ssl
import struct
import threading


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)
        self.lock = threading.Lock()

    def __call__(self, line):
        with self.lock:
            self.f.write(line + "\n")


def serve(listen, cert, key, log, handle, timeout=10, log_connections=False):
    """Listens on LISTEN ("ADDR:PORT") with CERT and KEY (ALPN "dot"), logs
    "ready" (and, with LOG_CONNECTIONS, "conn resumed=True|False" for each
    handshake), and for each query of each connection calls HANDLE(query, send),
    SEND(bytes) writing one length-prefixed reply (safe from any thread).
    HANDLE returns False to close the connection.  Never returns."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["dot"])

    def connection(conn):
        try:
            t = ctx.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError) as e:
            log("handshake failed: %s" % e)
            conn.close()
            return
        if log_connections:
            log("conn resumed=%s" % t.session_reused)
        t.settimeout(timeout)
        wlock = threading.Lock()

        def send(r):
            with wlock:
                try:
                    t.sendall(struct.pack(">H", len(r)) + r)
                except OSError:
                    pass

        try:
            while True:
                n = struct.unpack(">H", recv_exact(t, 2))[0]
                if handle(recv_exact(t, n), send) is False:
                    break
        except (EOFError, OSError, IndexError, struct.error):
            pass
        try:
            t.close()
        except OSError:
            pass

    host, port = listen.rsplit(":", 1)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, int(port)))
    ls.listen(16)
    log("ready")
    while True:
        c, _ = ls.accept()
        threading.Thread(target=connection, args=(c,), daemon=True).start()
