#!/usr/bin/python3
"""The benchmark of libhastls: runs inside the lab (scripts/bench starts it).

    run.py --build DIR [--rounds N] [--only ID,ID...]

Measures each performance target of shared/DESIGN.md against its peer in the
same run (glibc alone, or the same program without the shim), repeated over N
rounds, and reports per row the median, minimum and maximum of the shim's
value, the peer's and their ratio, with PASS/MISS against the target (judged
on the median).  A row whose measurement fails says "n/a: why" instead.
Prints a Markdown table, writes DIR/bench.json and DIR/bench.md.
"""

import argparse
import json
import os
import platform
import re
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RTT_MS = 20.0
PROXY_ADDR = "127.0.0.60"   # the delay proxy
COLD_ADDR = "127.0.0.61"    # a fresh unbound per measurement, behind the proxy
BENCH_UP_ADDR = "127.0.0.62"  # a copy of the lab's unbound serving insecure.lab.example itself
THREADED = 100  # from this many lookups on, the handshake rows use 16 threads
UPSTREAM = "127.0.0.53"     # the lab's DoT resolver
GOVERNED = ("both.lab.example", "127.0.10.2")


class Fail(Exception):
    """A measurement that could not be made: the row says n/a and why."""


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Running the measuring programs

class Ctx:
    def __init__(self, build, rounds):
        self.build = build
        self.rounds = rounds
        self.shim = os.path.join(build, "libhastls.so")
        self.bin = os.path.join(build, "bench")
        self.cli = os.path.join(build, "hastls")
        self.lab = os.environ["LAB_DIR"]
        self.conf = os.environ["HASTLS_CONF"]

    def prog(self, name):
        return os.path.join(self.bin, name)


def env_for(ctx, shim, extra=None):
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.pop("HASTLS_LOG", None)
    if shim:
        env["LD_PRELOAD"] = ctx.shim
    if extra:
        env.update(extra)
    return env


def kv(text):
    """The KEY=VALUE pairs of a program's last output line."""
    lines = [l for l in text.strip().splitlines() if "=" in l]
    if not lines:
        raise Fail("no result line")
    out = {}
    for word in lines[-1].split():
        k, _, v = word.partition("=")
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return out


def run_kv(ctx, argv, shim=False, extra_env=None, timeout=120, wrap=None):
    env = env_for(ctx, shim, extra_env)
    cmd = (wrap or []) + argv
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail("%s timed out after %d s" % (os.path.basename(argv[0]), timeout))
    if p.returncode != 0:
        why = (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
        raise Fail("%s failed: %s" % (os.path.basename(argv[0]), why[:160]))
    r = kv(p.stdout)
    r["_stderr"] = p.stderr
    return r


def first_stderr_line(r):
    lines = r.get("_stderr", "").strip().splitlines()
    return lines[0][:160] if lines else ""


# ---------------------------------------------------------------------------
# Counting TCP connections and TLS ClientHellos on lo (AF_PACKET: tcpdump
# cannot drop privileges inside the lab's user namespace).

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_STATISTICS = 6


class HelloCounter:
    """Counts, while active, SYNs (without ACK) and TLS ClientHello records sent
    to DADDR:DPORT over IPv4 on lo.  Each packet on lo is seen twice; only the
    outgoing copy counts."""

    def __init__(self, daddr, dport):
        self.daddr = socket.inet_aton(daddr)
        self.dport = dport
        self.syn = 0
        self.hello = 0
        self.stop = False

    def __enter__(self):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("lo", 0))
        self.sock.settimeout(0.05)
        self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)  # resets the counters
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()
        return self

    def loop(self):
        while True:
            try:
                frame, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                if self.stop:
                    return
                continue
            except OSError:
                return
            if addr[2] != PACKET_OUTGOING:
                continue
            self.packet(frame)

    def packet(self, f):
        if len(f) < 14 + 20 or struct.unpack_from("!H", f, 12)[0] != 0x0800:
            return
        ip = f[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6 or ip[16:20] != self.daddr or len(ip) < ihl + 20:
            return
        tcp = ip[ihl:]
        if struct.unpack_from("!H", tcp, 2)[0] != self.dport:
            return
        flags = tcp[13]
        if flags & 0x02 and not flags & 0x10:
            self.syn += 1
        payload = tcp[(tcp[12] >> 4) * 4:]
        # A TLS handshake record whose first message is a ClientHello (type 1).
        if len(payload) >= 6 and payload[0] == 0x16 and payload[1] == 3 and payload[5] == 1:
            self.hello += 1

    def __exit__(self, *exc):
        time.sleep(0.1)  # every packet the command sent is queued by now
        self.stop = True
        self.thread.join()
        st = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        self.drops = struct.unpack("II", st)[1]
        self.sock.close()
        return False


# ---------------------------------------------------------------------------
# Servers a measurement starts: the delay proxy and fresh unbound instances.

def wait_port(addr, port, proc, seconds=5.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection((addr, port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.01)
    return False


def stop(proc):
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Unbound:
    """A fresh copy of the lab's unbound #1 (cold cache) on ADDR (53 and 853).

    With local_insecure, it serves the unsigned zone insecure.lab.example from
    its own copy of the zone (auth-zone for-upstream) instead of asking the
    lab's NSD, whose response rate limiting (RRL) would otherwise pace any run
    of lookups of new names there; the answers still validate as insecure
    through the signed parent's proof that the zone has no DS."""

    def __init__(self, ctx, tag, addr=None, local_insecure=False):
        self.addr = addr or COLD_ADDR
        src = os.path.join(ctx.lab, "unbound1.conf")
        try:
            text = open(src).read()
        except OSError as e:
            raise Fail("cannot read the lab's unbound configuration: %s" % e)
        name = "bench-unbound-" + tag
        text = re.sub(r"(?m)^\s*interface:.*\n", "", text)
        text = re.sub(r"(?m)^(\s*)pidfile:.*$", r'\1pidfile: "%s/%s.pid"' % (ctx.lab, name), text)
        text = re.sub(r"(?m)^(\s*)logfile:.*$", r'\1logfile: "%s/%s.log"' % (ctx.lab, name), text)
        text = re.sub(r"(?m)^(\s*)tls-additional-port:.*\n", "", text)
        text += "\n    interface: %s@53\n    interface: %s@853\n" % (self.addr, self.addr)
        if local_insecure:
            text += ('\nauth-zone:\n    name: "insecure.lab.example."\n'
                     '    zonefile: "%s/zones/insecure.lab.example.zone.signed"\n'
                     '    for-upstream: yes\n    for-downstream: no\n    fallback-enabled: no\n'
                     % ctx.lab)
        self.conf = os.path.join(ctx.lab, name + ".conf")
        with open(self.conf, "w") as f:
            f.write(text)
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(["unbound", "-d", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(self.addr, 53, self.proc):
            stop(self.proc)
            raise Fail("a fresh unbound did not start (%s)" % self.conf)
        return self

    def __exit__(self, *exc):
        stop(self.proc)
        return False


class DelayProxy:
    def __init__(self, ctx, target, rtt_ms):
        self.ready = os.path.join(ctx.lab, "bench-proxy.ready")
        self.argv = [sys.executable, os.path.join(HERE, "delayproxy.py"), "--listen", PROXY_ADDR,
                     "--target", target, "--rtt-ms", str(rtt_ms), "--tcp", "853", "--tcp", "53",
                     "--udp", "53", "--ready", self.ready]

    def __enter__(self):
        if os.path.exists(self.ready):
            os.unlink(self.ready)
        self.proc = subprocess.Popen(self.argv)
        end = time.monotonic() + 10
        while not os.path.exists(self.ready):
            if self.proc.poll() is not None or time.monotonic() > end:
                stop(self.proc)
                raise Fail("the delay proxy did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc):
        stop(self.proc)
        return False


def clients_for(ctx, addr, tag):
    """(extra environment for the shim, command prefix for glibc) so that both
    ask the resolver at ADDR: the shim over DoT on 853 (still authenticating
    dot.lab.example), glibc over port 53 through a resolv.conf of its own,
    bind-mounted in a mount namespace of its own."""
    text = open(ctx.conf).read()
    text, k = re.subn(r"(?m)^(\s*upstream\s*=\s*).*$", r"\g<1>%s@853#dot.lab.example" % addr,
                      text)
    if k == 0:
        raise Fail("no upstream line in %s" % ctx.conf)
    conf = os.path.join(ctx.lab, "bench-%s.conf" % tag)
    with open(conf, "w") as f:
        f.write(text)
    resolv = os.path.join(ctx.lab, "bench-%s.resolv.conf" % tag)
    with open(resolv, "w") as f:
        f.write("nameserver %s\noptions edns0 trust-ad\n" % addr)
    wrap = ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"',
            resolv]
    return {"HASTLS_CONF": conf}, wrap


# ---------------------------------------------------------------------------
# Rows

def summary(values):
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}


class Row:
    def __init__(self, rid, what, unit, peer_name, target_text, judge=None, ratio_unit="x"):
        self.id = rid
        self.what = what
        self.unit = unit
        self.peer_name = peer_name
        self.target_text = target_text
        self.judge = judge          # median ratio -> bool, or None (information only)
        self.ratio_unit = ratio_unit
        self.shim, self.peer, self.ratio = [], [], []
        self.error = None
        self.notes = []
        self.syns = []  # TCP connections seen, for the handshake rows

    def add(self, shim, peer, ratio=None):
        self.shim.append(shim)
        self.peer.append(peer)
        if ratio is None and shim is not None and peer:
            ratio = shim / peer
        self.ratio.append(ratio)

    def note(self, text):
        if text and text not in self.notes:
            self.notes.append(text)

    def result(self):
        r = {"id": self.id, "what": self.what, "unit": self.unit, "peer": self.peer_name,
             "target": self.target_text, "ratio_unit": self.ratio_unit,
             "shim": summary(self.shim), "peer_value": summary(self.peer),
             "ratio": summary(self.ratio), "rounds": len(self.ratio),
             "raw": {"shim": self.shim, "peer": self.peer, "ratio": self.ratio},
             "notes": self.notes}
        if self.error and not r["ratio"]:
            r["verdict"] = "n/a: " + self.error
        elif not r["ratio"]:
            r["verdict"] = "n/a: no measurement"
        elif self.judge is None:
            r["verdict"] = "info"
        else:
            r["verdict"] = "PASS" if self.judge(r["ratio"]["median"]) else "MISS"
        if self.error and r["ratio"]:
            r["notes"] = r["notes"] + ["some rounds failed: " + self.error]
        return r


def measure(row, fn, rounds):
    """Calls fn(round) for each round; a failing round is recorded, not fatal."""
    for i in range(rounds):
        try:
            fn(i)
        except Fail as e:
            row.error = str(e)
            log("%s: round %d: %s" % (row.id, i, e))
        except Exception as e:  # a harness bug must not lose the other rows
            row.error = "%s: %s" % (type(e).__name__, e)
            log("%s: round %d: %s: %s" % (row.id, i, type(e).__name__, e))


# --- warm getaddrinfo ------------------------------------------------------

def bench_warm(ctx, name, rid, what, judge, target):
    row = Row(rid, what, "ns/call", "glibc", target, judge)

    def one(i):
        # Alternate which goes first, so that drift does not favour one side.
        order = [False, True] if i % 2 == 0 else [True, False]
        res = {}
        for shim in order:
            n = "20000" if shim else "2000"
            r = run_kv(ctx, [ctx.prog("bench_gai"), "loop", name, n], shim=shim)
            if r["rc"] != 0:
                raise Fail("getaddrinfo(%s) = %d%s %s" % (name, r["rc"], " (shim)" if shim else "",
                                                       first_stderr_line(r)))
            res[shim] = r["per_call_ns"]
        row.add(res[True], res[False])

    measure(row, one, ctx.rounds)
    return row


# --- connect ---------------------------------------------------------------

def bench_connect(ctx, governed):
    if governed:
        name, addr = GOVERNED
        row = Row("connect_governed", "connect()+close() to a governed, allowed address "
                  "(%s %s, resolved first)" % (name, addr), "ns/op", "same without shim",
                  "<= 1.05 x", lambda r: r <= 1.05)
        argv = [ctx.prog("bench_connect"), "-r", name, addr, "10000"]
    else:
        row = Row("connect_ungoverned", "connect()+close() to an ungoverned address (127.0.0.1)",
                  "ns/op", "same without shim", "<= 1.05 x", lambda r: r <= 1.05)
        argv = [ctx.prog("bench_connect"), "127.0.0.1", "10000"]

    def one(i):
        # Loopback connects on a shared machine are noisy (other processes,
        # CPU frequency): each side runs 3 times, alternating, and the fastest
        # run counts, the one least disturbed by anything else.
        res = {False: [], True: []}
        for k in range(3):
            for shim in ([False, True] if (i + k) % 2 == 0 else [True, False]):
                res[shim].append(run_kv(ctx, argv, shim=shim)["per_op_ns"])
        row.add(min(res[True]), min(res[False]))

    measure(row, one, ctx.rounds)
    row.note("per round: the fastest of 3 runs of 10000 connects each, shim and bare "
             "alternating; the client closes with a reset (SO_LINGER 0), an accept thread "
             "closes the server side")
    return row


# --- process start ---------------------------------------------------------

def bench_start(ctx, resolving):
    if resolving:
        row = Row("start_resolve", "process start + one lookup (bench_gai once %s), "
                  "cold front cache, warm upstream" % GOVERNED[0], "ns", "same without shim",
                  "(information)", None)
        n = "10"
        prog = [ctx.prog("bench_gai"), "once", GOVERNED[0]]
    else:
        row = Row("start_true", "process start: /bin/true", "ns", "same without shim",
                  "<= 1.15 x", lambda r: r <= 1.15)
        n = "100"
        prog = ["/bin/true"]

    def one(i):
        r = run_kv(ctx, [ctx.prog("bench_spawn"), "-p", ctx.shim, n] + prog)
        if r["bare_failed"] or r["shim_failed"]:
            raise Fail("%d bare / %d preloaded runs exited non-zero"
                       % (r["bare_failed"], r["shim_failed"]))
        row.add(r["shim_median_ns"], r["bare_median_ns"])

    measure(row, one, ctx.rounds)
    row.note("per round: median of %s runs each, bare and preloaded alternating" % n)
    return row


# --- TLS handshakes, and memory after 1000 lookups ----------------------------

def bench_handshakes(ctx, counts, rounds):
    rows = {}
    for n in counts:
        what = ("TLS handshakes to the upstream in one process, getaddrinfo of %d distinct "
                "name%s under the shim%s" % (n, "" if n == 1 else "s",
                                            " (16 threads)" if n >= THREADED else ""))
        rows[n] = Row("tls_handshakes_%d" % n, what, "handshakes", "target", "1",
                      lambda r: r == 1.0, ratio_unit="")
    mem = Row("rss_1000", "VmRSS added to a process after 1000 distinct lookups (16 threads)",
              "KiB",
              "same without shim", "<= 8 MiB added", lambda d: d <= 8192, ratio_unit="KiB")
    anon = Row("rss_anon_1000", "of which private memory (RssAnon) added after 1000 lookups",
               "KiB", "same without shim", "(information)", None, ratio_unit="KiB")
    cli = Row("tls_handshakes_cli_1000", "TLS handshakes, `hastls lookup --threads 16 --names` "
              "with 1000 names (resolver stats)", "handshakes", "target", "1", lambda r: r == 1.0,
              ratio_unit="")
    all_rows = [rows[n] for n in counts] + [cli, mem, anon]

    # Names in the unsigned zone, served by a bench copy of unbound (see
    # Unbound): each needs its own answer from the upstream (under a signed
    # zone, libunbound would synthesize NXDOMAIN from one cached NSEC record
    # and hardly ask).  Every round is a fresh process with a cache of its own.
    try:
        shim_env, glibc_wrap = clients_for(ctx, BENCH_UP_ADDR, "up")
        upstream = Unbound(ctx, "up", BENCH_UP_ADDR, local_insecure=True)
    except Fail as e:
        for row in all_rows:
            row.error = str(e)
        return all_rows

    def one(i):
        suffix = "hs%d-%d.insecure.lab.example" % (i, os.getpid())
        for n in counts:
            row = rows[n]
            try:
                # Many lookups run on 16 threads: concurrent queries are where a
                # transport would be tempted to open more connections (and
                # sequential lookups of new names take long, see README).
                argv = ([ctx.prog("bench_gai"), "threads", "16", suffix, str(n)] if n >= THREADED
                        else [ctx.prog("bench_gai"), "distinct", suffix, str(n)])
                with HelloCounter(BENCH_UP_ADDR, 853) as hc:
                    r = run_kv(ctx, argv, shim=True, extra_env=shim_env, timeout=180)
                if hc.drops:
                    row.note("the packet socket dropped %d packets" % hc.drops)
                if r["again"] or r["other"]:
                    # A lookup that failed may never have reached the upstream.
                    raise Fail("%d of %d lookups failed (EAI_AGAIN %d, other %d): %s"
                               % (r["again"] + r["other"], n, r["again"], r["other"],
                                  first_stderr_line(r)))
                # Connections = SYNs; handshakes = ClientHellos (a retried
                # handshake on the same connection would count again).
                row.add(hc.hello, 1, ratio=hc.hello)
                row.syns.append(hc.syn)
                if n == 1000:
                    b = run_kv(ctx, argv, wrap=glibc_wrap, timeout=180)
                    mem.add(r["rss_after_kib"], b["rss_after_kib"],
                            ratio=r["rss_after_kib"] - b["rss_after_kib"])
                    anon.add(r["anon_after_kib"], b["anon_after_kib"],
                             ratio=r["anon_after_kib"] - b["anon_after_kib"])
            except Fail as e:
                row.error = str(e)
                if n == 1000:
                    mem.error = anon.error = str(e)
                log("%s: round %d: %s" % (row.id, i, e))
        # The resolver's own counters through the CLI.
        names = "".join("c%d.%s\n" % (k, suffix) for k in range(1000))
        try:
            p = subprocess.run([ctx.cli, "lookup", "--names", "-", "--threads", "16", "--stats"],
                               input=names,
                               capture_output=True, text=True, timeout=180,
                               env=env_for(ctx, False, shim_env))
            m = re.search(r"tls_handshakes=(\d+)", p.stdout + p.stderr)
            if not m or p.returncode != 0:
                raise Fail("hastls lookup --stats: exit %d, %d failed answers%s"
                           % (p.returncode, p.stdout.count(": failed"),
                              "" if m else ", no tls_handshakes line"))
            hs = int(m.group(1))
            cli.add(hs, 1, ratio=hs)
        except (Fail, subprocess.TimeoutExpired, OSError) as e:
            cli.error = str(e)

    try:
        with upstream:
            measure(mem, one, rounds)
    except Fail as e:
        for row in all_rows:
            row.error = str(e)
    for n in counts:
        row = rows[n]
        if row.syns:
            row.note("TCP connections (SYNs) to %s:853 per round: %s"
                     % (BENCH_UP_ADDR, ", ".join(str(s) for s in row.syns)))
    mem.note("value = VmRSS after the lookups, with and without the shim; the ratio column "
             "is the difference.  VmRSS counts the pages of shared libraries mapped in "
             "(libcrypto, libunbound, ...), which other processes share")
    return all_rows


# --- first lookup with an upstream round-trip time --------------------------

def bench_rtt(ctx, rounds):
    r_ns = RTT_MS * 1e6
    rows = {
        "cold": Row("first_lookup_cold", "first lookup in a fresh process, upstream RTT r = "
                    "%g ms, cold chain (fresh upstream unbound)" % RTT_MS, "r",
                    "glibc cleartext, same r", "<= 4 r", lambda v: v <= 4.0, ratio_unit="r"),
        "warm": Row("first_lookup_warm", "first lookup in a fresh process, upstream RTT r = "
                    "%g ms, warm upstream" % RTT_MS, "r", "glibc cleartext, same r",
                    "(information)", None, ratio_unit="r"),
    }
    try:
        shim_env, glibc_wrap = clients_for(ctx, PROXY_ADDR, "rtt")
    except Fail as e:
        for row in rows.values():
            row.error = str(e)
        return list(rows.values())
    name = GOVERNED[0]

    def lookup(shim):
        if shim:
            r = run_kv(ctx, [ctx.prog("bench_gai"), "once", name], shim=True,
                       extra_env=shim_env)
        else:
            r = run_kv(ctx, [ctx.prog("bench_gai"), "once", name], wrap=glibc_wrap)
        if r["rc"] != 0:
            raise Fail("getaddrinfo(%s) = %d%s %s" % (name, r["rc"], " (shim)" if shim else "",
                                                   first_stderr_line(r)))
        return r["first_ns"] / r_ns

    def one(i):
        vals = {}
        for shim in (True, False):
            with Unbound(ctx, "%d" % i):
                vals[("cold", shim)] = lookup(shim)
                vals[("warm", shim)] = lookup(shim)
        for k in ("cold", "warm"):
            # Value in units of r; the "ratio" column is the shim's value in r.
            rows[k].add(vals[(k, True)], vals[(k, False)], ratio=vals[(k, True)])

    def guarded(i):
        with DelayProxy(ctx, COLD_ADDR, RTT_MS):
            one(i)

    for i in range(rounds):
        try:
            guarded(i)
        except Fail as e:
            for row in rows.values():
                row.error = str(e)
            log("first_lookup: round %d: %s" % (i, e))
    for row in rows.values():
        row.note("tests/bench/delayproxy.py delays each direction by r/2 and charges TCP's "
                 "handshake one r; it acknowledges at once (TCP_QUICKACK) like the resolver's "
                 "own socket, so a server's Nagle hold is not charged the round trip it "
                 "would cost on a real path")
    return list(rows.values())


# --- throughput ------------------------------------------------------------

def bench_throughput(ctx):
    row = Row("throughput_16x500", "throughput: 16 threads, 500 distinct names (NXDOMAIN "
              "in the unsigned insecure.lab.example), fresh process", "lookups/s", "glibc",
              "(information)", None)
    seq = Row("new_name_latency", "one thread, 50 new names in a row (NXDOMAIN in "
              "insecure.lab.example): time per lookup after the first", "ns", "glibc",
              "(information)", None)
    try:
        shim_env, glibc_wrap = clients_for(ctx, BENCH_UP_ADDR, "up")
        upstream = Unbound(ctx, "tp", BENCH_UP_ADDR, local_insecure=True)
    except Fail as e:
        row.error = seq.error = str(e)
        return [seq, row]

    def sequential(i):
        res = {}
        for shim in (True, False):
            suffix = "sq%d%s-%d.insecure.lab.example" % (i, "s" if shim else "g", os.getpid())
            # The first lookup starts the resolver and learns the zone's
            # delegation; the 50 after it are timed.
            argv = [ctx.prog("bench_gai"), "distinct", suffix, "51"]
            if shim:
                r = run_kv(ctx, argv, shim=True, extra_env=shim_env, timeout=60)
            else:
                r = run_kv(ctx, argv, wrap=glibc_wrap, timeout=60)
            if r["again"] or r["other"]:
                raise Fail("%s: %d of 50 lookups failed: %s" % ("shim" if shim else "glibc",
                           r["again"] + r["other"], first_stderr_line(r)))
            res[shim] = r["rest_ns"] / 50
        seq.add(res[True], res[False])

    def one(i):
        order = [False, True] if i % 2 == 0 else [True, False]
        res = {}
        for shim in order:
            # New names for each side and round: the upstream does the same
            # work for both.
            suffix = "tp%d%s-%d.insecure.lab.example" % (i, "s" if shim else "g", os.getpid())
            argv = [ctx.prog("bench_gai"), "threads", "16", suffix, "500"]
            if shim:
                r = run_kv(ctx, argv, shim=True, extra_env=shim_env, timeout=180)
            else:
                r = run_kv(ctx, argv, wrap=glibc_wrap, timeout=180)
            if r["again"] or r["other"]:
                raise Fail("%s: %d of 500 lookups failed (EAI_AGAIN %d, other %d): %s"
                           % ("shim" if shim else "glibc", r["again"] + r["other"], r["again"],
                              r["other"], first_stderr_line(r)))
            res[shim] = r["lookups_per_s"]
        row.add(res[True], res[False])

    try:
        with upstream:
            measure(seq, sequential, ctx.rounds)
            measure(row, one, ctx.rounds)
    except Fail as e:
        row.error = seq.error = str(e)
    return [seq, row]


# ---------------------------------------------------------------------------
# Output

def machine():
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "libc": " ".join(platform.libc_ver())}


def fmt(v, unit):
    if v is None:
        return "-"
    if unit in ("ns", "ns/call", "ns/op"):
        if v >= 1e6:
            return "%.2f ms" % (v / 1e6)
        if v >= 1e3:
            return "%.1f us" % (v / 1e3)
        return "%.0f ns" % v
    if unit == "r":
        return "%.2f r" % v
    if unit == "KiB":
        return "%.1f MiB" % (v / 1024)
    if unit == "lookups/s":
        return "%.0f/s" % v
    return "%g" % v


def fmt_ratio(s, unit):
    if not s:
        return "-"
    if unit == "KiB":
        f = lambda v: "%+.1f MiB" % (v / 1024)
    elif unit == "r":
        f = lambda v: "%.2f r" % v
    elif unit == "":
        f = lambda v: "%g" % v
    else:
        f = lambda v: "%.3f" % v
    return "%s [%s .. %s]" % (f(s["median"]), f(s["min"]), f(s["max"]))


def table(results):
    out = ["| measurement | shim (median) | peer | peer (median) | shim/peer median [min .. max] "
           "| target | verdict |", "|---|---|---|---|---|---|---|"]
    for r in results:
        out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            r["what"], fmt(r["shim"]["median"] if r["shim"] else None, r["unit"]), r["peer"],
            fmt(r["peer_value"]["median"] if r["peer_value"] else None, r["unit"])
            if r["peer"] != "target" else "-",
            fmt_ratio(r["ratio"], r["ratio_unit"]), r["target"], r["verdict"]))
    notes = []
    for r in results:
        for n in r["notes"]:
            notes.append("- %s: %s" % (r["id"], n))
    return "\n".join(out) + ("\n\nNotes:\n" + "\n".join(notes) if notes else "") + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    ctx = Ctx(os.path.abspath(args.build), args.rounds)
    only = set(filter(None, args.only.split(",")))
    want = lambda k: not only or k in only
    t0 = time.monotonic()

    missing = [p for p in (ctx.shim, ctx.cli, ctx.prog("bench_gai"), ctx.prog("bench_connect"),
                           ctx.prog("bench_spawn")) if not os.access(p, os.X_OK)]
    if missing:
        sys.exit("bench: missing %s (make BUILD=... bench builds them)" % ", ".join(missing))

    rows = []
    steps = [
        ("warm", lambda: [
            bench_warm(ctx, GOVERNED[0], "warm_gai_resolver",
                       "warm getaddrinfo(%s): shim front cache vs glibc via the lab's "
                       "resolver (127.0.0.53)" % GOVERNED[0], lambda r: r <= 0.05, "<= 0.05 x"),
            bench_warm(ctx, "hostsfile.lab.example", "warm_gai_hosts",
                       "warm getaddrinfo(hostsfile.lab.example), an /etc/hosts name",
                       None, "(information)")]),
        ("connect", lambda: [bench_connect(ctx, True), bench_connect(ctx, False)]),
        ("start", lambda: [bench_start(ctx, False), bench_start(ctx, True)]),
        ("handshakes", lambda: bench_handshakes(ctx, (1, 10, 1000), min(ctx.rounds, 3))),
        ("rtt", lambda: bench_rtt(ctx, ctx.rounds)),
        ("throughput", lambda: bench_throughput(ctx)),
    ]
    for key, fn in steps:
        if not want(key):
            continue
        t = time.monotonic()
        log("measuring %s" % key)
        try:
            rows += fn()
        except Exception as e:
            r = Row(key, key, "", "", "", None)
            r.error = "%s: %s" % (type(e).__name__, e)
            rows.append(r)
        log("%s took %.1f s" % (key, time.monotonic() - t))

    results = [r.result() for r in rows]
    m = machine()
    doc = {"machine": m, "rounds": ctx.rounds, "rtt_ms": RTT_MS,
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "seconds": round(time.monotonic() - t0, 1), "results": results}
    md = ("Machine: %d CPUs, %s, Linux %s, %s; %d rounds; %s\n\n"
          % (m["nproc"], m["cpu"], m["kernel"], m["libc"], ctx.rounds, doc["date"])) + table(results)
    with open(os.path.join(ctx.build, "bench.json"), "w") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(ctx.build, "bench.md"), "w") as f:
        f.write(md)
    print(md)
    print("bench: wrote %s and bench.md (%.0f s)" % (os.path.join(ctx.build, "bench.json"),
                                                    doc["seconds"]))


if __name__ == "__main__":
    main()
