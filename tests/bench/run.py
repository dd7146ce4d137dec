#!/usr/bin/python3
"""The benchmark of libhastls: runs inside the lab (scripts/bench starts it).

    run.py --build DIR [--bin DIR] [--rounds N] [--only ID,ID...] [--smoke]
    run.py --table FILE.json
    run.py --readme README.md FILE.json

Measures each performance target of shared/DESIGN.md in one run, against its
peers measured in the same run: glibc asking a local stubby, a local unbound
forwarding over TLS and a local knot-resolver (kresd) forwarding over TLS,
all three started here on the same lab upstream ("best peer" = the best of
them in that round), or the same program without the shim.  Each row is
repeated over N rounds and reports the median, minimum and maximum of the
shim's value, each peer's and the ratio to the best peer, with a verdict
(met / not met, judged on the median) where the row has a target.  A row
whose measurement fails says "n/a: why" instead.  Prints a Markdown table,
writes DIR/bench.json and DIR/bench.md.

--smoke runs every row once with tiny counts and exits 1 when a row produced
no number (the numbers themselves mean nothing then).  --table prints the
table of a bench.json again; --readme puts it into README's Performance
section, between its bench table markers.
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
SECURE_ONLY = ("secure.lab.example", "127.0.10.1")  # HASTLS (0 443): port 80 refused
# Names without end: a wildcard the bench's upstream copy adds to the unsigned
# zone (see Unbound), so that every new name has an answer of its own.
WILD = "wild.insecure.lab.example"
WILD_ADDR = "127.0.30.1"


class Fail(Exception):
    """A measurement that could not be made: the row says n/a and why."""


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Running the measuring programs

class Ctx:
    def __init__(self, build, rounds, smoke=False, bindir=None):
        self.build = build
        self.rounds = rounds
        self.smoke = smoke
        self.shim = os.path.join(build, "libhastls.so")
        self.bin = bindir or os.path.join(build, "bench")
        self.cli = os.path.join(build, "hastls")
        self.lab = os.environ["LAB_DIR"]
        self.conf = os.environ["HASTLS_CONF"]

    def prog(self, name):
        return os.path.join(self.bin, name)

    def n(self, normal, smoke):
        """A count: NORMAL, or SMOKE with --smoke."""
        return smoke if self.smoke else normal


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
    its own copy of the zone (auth-zone for-upstream), plus a wildcard under
    WILD, instead of asking the lab's NSD: any number of new names then get
    an answer from the upstream without iteration setting the pace; the
    answers still validate as insecure through the signed parent's proof
    that the zone has no DS."""

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
            # The bench's copy of the zone adds a wildcard, so that any number
            # of new names have an answer (WILD); the lab's own zones stay as
            # they are.
            zone = os.path.join(ctx.lab, "zones", "insecure.lab.example.zone.signed")
            copy = os.path.join(ctx.lab, "bench-insecure-%s.zone" % tag)
            try:
                ztext = open(zone).read()
            except OSError as e:
                raise Fail("cannot read the lab's zone: %s" % e)
            with open(copy, "w") as f:
                f.write(ztext + "\n*.%s. 300 IN A %s\n" % (WILD, WILD_ADDR))
            text += ('\nauth-zone:\n    name: "insecure.lab.example."\n'
                     '    zonefile: "%s"\n'
                     '    for-upstream: yes\n    for-downstream: no\n    fallback-enabled: no\n'
                     % copy)
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


# ---------------------------------------------------------------------------
# Configurations, peers and the agent

def make_conf(ctx, tag, upstream=None, agent=None, default_ca=False, privacy=None):
    """A copy of the lab's configuration: upstream UPSTREAM (an address, on
    853, still authenticating dot.lab.example), agent = AGENT, without its
    ca_bundle line (the built-in default store) when DEFAULT_CA, another
    privacy profile.  Returns its path."""
    text = open(ctx.conf).read()
    if upstream:
        text, k = re.subn(r"(?m)^(\s*upstream\s*=\s*).*$",
                          r"\g<1>%s@853#dot.lab.example" % upstream, text)
        if k == 0:
            raise Fail("no upstream line in %s" % ctx.conf)
    if default_ca:
        text = re.sub(r"(?m)^\s*ca_bundle\s*=.*\n", "", text)
    if privacy:
        text = re.sub(r"(?m)^(\s*privacy\s*=\s*).*$", r"\g<1>%s" % privacy, text)
    if agent:
        text = re.sub(r"(?m)^\s*agent\s*=.*\n", "", text)
        text, k = re.subn(r"(?m)^\[resolver\]\s*$", "[resolver]\nagent = %s" % agent, text,
                          count=1)
        if k == 0:
            raise Fail("no [resolver] section in %s" % ctx.conf)
    path = os.path.join(ctx.lab, "bench-%s.conf" % tag)
    with open(path, "w") as f:
        f.write(text)
    return path


def glibc_wrap(ctx, addr, tag):
    """A command prefix under which glibc asks the resolver at ADDR (port 53),
    through a resolv.conf of its own bind-mounted in a mount namespace of its
    own.  Programs that time fresh processes run inside it, so that the
    processes they start inherit it and the set-up is not timed."""
    resolv = os.path.join(ctx.lab, "bench-%s.resolv.conf" % tag)
    with open(resolv, "w") as f:
        f.write("nameserver %s\noptions edns0 trust-ad\n" % addr)
    return ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"',
            resolv]


def clients_for(ctx, addr, tag, agent="off"):
    """(extra environment for the shim, command prefix for glibc) so that both
    ask the resolver at ADDR: the shim over DoT on 853 (in the process itself
    unless AGENT is auto), glibc over port 53."""
    return ({"HASTLS_CONF": make_conf(ctx, tag, upstream=addr, agent=agent)},
            glibc_wrap(ctx, addr, tag))


def ensure_addr(addr):
    """ADDR on lo: daemons that bind to interface addresses need it."""
    subprocess.run(["ip", "addr", "add", addr + "/32", "dev", "lo"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def dns_answers(addr, name="dot.lab.example"):
    try:
        p = subprocess.run(["dig", "+tries=1", "+time=1", "@" + addr, name, "A"],
                           capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        return False
    return "status: NOERROR" in p.stdout


class Peer:
    def __init__(self, name, addr, wrap):
        self.name, self.addr, self.wrap = name, addr, wrap
        self.proc = None


PEER_NAMES = ("stubby", "unbound", "kresd")
_peer_serial = [0]


class PeerSet:
    """The peers: stubby, a local unbound forwarding over TLS and kresd
    forwarding over TLS, each on its own address (port 53), all forwarding
    to UPSTREAM@853 and authenticating dot.lab.example with the lab CA.
    unbound and kresd validate with the lab's trust anchor; stubby, a stub,
    relies on the upstream's validation, as it does by default.  With
    PROBE, each is ready once it answered a query (its TLS connection is
    then open); otherwise once it accepts TCP on port 53 (nothing asked
    yet).  A peer that does not start is left out with a note."""

    def __init__(self, ctx, tag, upstream, base, probe=True):
        self.ctx, self.tag, self.upstream, self.base, self.probe = ctx, tag, upstream, base, probe
        self.peers = []
        self.notes = []

    def _start(self, k, name):
        ctx = self.ctx
        addr = "127.0.0.%d" % (self.base + k)
        ensure_addr(addr)
        _peer_serial[0] += 1
        d = os.path.join(ctx.lab, "bench-%s-%s-%d" % (name, self.tag, _peer_serial[0]))
        os.makedirs(d, exist_ok=True)
        ca = os.environ["LAB_CA"]
        logf = open(os.path.join(d, "log"), "w")
        if name == "stubby":
            conf = os.path.join(d, "stubby.yml")
            with open(conf, "w") as f:
                f.write("resolution_type: GETDNS_RESOLUTION_STUB\n"
                        "dns_transport_list:\n  - GETDNS_TRANSPORT_TLS\n"
                        "tls_authentication: GETDNS_AUTHENTICATION_REQUIRED\n"
                        "tls_query_padding_blocksize: 128\n"
                        "edns_client_subnet_private: 1\n"
                        "round_robin_upstreams: 0\n"
                        "idle_timeout: 600000\n"
                        "tls_ca_file: \"%s\"\n"
                        "listen_addresses:\n  - %s@53\n"
                        "upstream_recursive_servers:\n"
                        "  - address_data: %s\n    tls_port: 853\n"
                        "    tls_auth_name: \"dot.lab.example\"\n" % (ca, addr, self.upstream))
            argv = ["stubby", "-C", conf]
        elif name == "unbound":
            conf = os.path.join(d, "unbound.conf")
            with open(conf, "w") as f:
                f.write('server:\n    username: ""\n    chroot: ""\n    directory: "%s"\n'
                        '    pidfile: "%s/pid"\n    use-syslog: no\n    verbosity: 0\n'
                        '    num-threads: 1\n    interface-automatic: no\n'
                        '    interface: %s@53\n    access-control: 0.0.0.0/0 allow\n'
                        '    do-not-query-localhost: no\n'
                        '    local-zone: "127.in-addr.arpa." nodefault\n'
                        '    local-zone: "d.f.ip6.arpa." nodefault\n'
                        '    trust-anchor-file: "%s"\n    trust-anchor-signaling: no\n'
                        '    module-config: "validator iterator"\n'
                        '    tls-cert-bundle: "%s"\n'
                        'forward-zone:\n    name: "."\n    forward-tls-upstream: yes\n'
                        '    forward-addr: %s@853#dot.lab.example\n'
                        'remote-control:\n    control-enable: no\n'
                        % (d, d, addr, os.environ["LAB_TRUST_ANCHOR"], ca, self.upstream))
            argv = ["unbound", "-d", "-c", conf]
        else:
            conf = os.path.join(d, "config")
            with open(conf, "w") as f:
                f.write("net.listen('%s', 53, { kind = 'dns' })\n"
                        "trust_anchors.remove('.')\n"
                        "trust_anchors.add_file('%s', true)\n"
                        "policy.add(policy.all(policy.TLS_FORWARD({{'%s@853', "
                        "hostname='dot.lab.example', ca_file='%s'}})))\n"
                        % (addr, os.environ["LAB_TRUST_ANCHOR"], self.upstream, ca))
            argv = ["kresd", "-n", "-q", "-c", conf, d]
        peer = Peer(name, addr, glibc_wrap(ctx, addr, "peer-%s-%s" % (self.tag, name)))
        try:
            peer.proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        except OSError as e:
            self.notes.append("%s did not start: %s" % (name, e))
            return
        end = time.monotonic() + 10
        ok = False
        while time.monotonic() < end and peer.proc.poll() is None:
            if self.probe:
                ok = dns_answers(addr)
            else:
                try:
                    socket.create_connection((addr, 53), timeout=0.2).close()
                    ok = True
                except OSError:
                    pass
            if ok:
                break
            time.sleep(0.05)
        if not ok:
            stop(peer.proc)
            self.notes.append("%s did not answer (log: %s)" % (name, os.path.join(d, "log")))
            return
        self.peers.append(peer)

    def __enter__(self):
        for k, name in enumerate(PEER_NAMES):
            if name == "stubby" and not self.ctx.have_stubby:
                self.notes.append("stubby is not installed (scripts/install-deps)")
                continue
            self._start(k, name)
        if not self.peers:
            self.__exit__()
            raise Fail("no peer started: " + "; ".join(self.notes))
        return self

    def __exit__(self, *exc):
        for p in self.peers:
            stop(p.proc)
        return False


def agent_cmd(ctx, conf, *verb, timeout=30):
    try:
        return subprocess.run([ctx.cli, "agent"] + list(verb) + ["--config", conf],
                              capture_output=True, text=True, timeout=timeout,
                              env=env_for(ctx, False))
    except subprocess.TimeoutExpired:
        raise Fail("hastls agent %s timed out" % " ".join(verb))


def agent_start(ctx, conf):
    p = agent_cmd(ctx, conf)
    if p.returncode != 0:
        raise Fail("hastls agent did not start: %s" % (p.stderr.strip()[:160]))


def agent_stop(ctx, conf):
    p = agent_cmd(ctx, conf, "stop")
    if p.returncode != 0:
        raise Fail("hastls agent stop: %s" % (p.stderr.strip()[:160]))


def agent_status(ctx, conf):
    """The agent's status lines as a dict, {} when none runs."""
    p = agent_cmd(ctx, conf, "status")
    if p.returncode != 0:
        return {}
    out = {}
    for line in p.stdout.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            out[k.strip()] = v.strip()
    return out


def counter(status, *keys):
    for k in keys:
        try:
            return int(status[k])
        except (KeyError, ValueError):
            continue
    return None


def shim_once(ctx, conf, name):
    """One lookup of NAME in a fresh shimmed process under CONF."""
    r = run_kv(ctx, [ctx.prog("bench_gai"), "once", name], shim=True,
               extra_env={"HASTLS_CONF": conf})
    if r["rc"] != 0:
        raise Fail("getaddrinfo(%s) = %d under the shim: %s" % (name, r["rc"],
                                                               first_stderr_line(r)))
    return r


def glibc_once(ctx, wrap, name):
    r = run_kv(ctx, [ctx.prog("bench_gai"), "once", name], wrap=wrap)
    if r["rc"] != 0:
        raise Fail("getaddrinfo(%s) = %d under glibc" % (name, r["rc"]))
    return r


# ---------------------------------------------------------------------------
# Rows

def summary(values):
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}


class Row:
    """One line of the table.  Each round adds the shim's value and either one
    peer value or a {peer name: value} dict; the ratio of a round is the
    shim's value over the best peer's of that round (the lowest, or with
    HIGHER the highest), unless given."""

    def __init__(self, rid, what, unit, peer_name, target_text, judge=None, ratio_unit="x",
                 higher=False):
        self.id = rid
        self.what = what
        self.unit = unit
        self.peer_name = peer_name
        self.target_text = target_text
        self.judge = judge          # median ratio -> bool, or None (information only)
        self.ratio_unit = ratio_unit
        self.higher = higher
        self.shim, self.peer, self.ratio = [], [], []
        self.peers = {}             # name -> values by round
        self.best_names = []
        self.error = None
        self.notes = []
        self.syns = []  # TCP connections seen, for the handshake rows

    def add(self, shim, peer, ratio=None):
        if isinstance(peer, dict):
            for k, v in peer.items():
                self.peers.setdefault(k, []).append(v)
            vals = {k: v for k, v in peer.items() if v is not None}
            best = None
            if vals:
                pick = max if self.higher else min
                bname = pick(vals, key=vals.get)
                best = vals[bname]
                self.best_names.append(bname)
            peer = best
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
             "peers": {k: summary(v) for k, v in self.peers.items()},
             "best_peer": (max(set(self.best_names), key=self.best_names.count)
                           if self.best_names else None),
             "ratio": summary(self.ratio), "rounds": len(self.ratio),
             "raw": {"shim": self.shim, "peer": self.peer, "ratio": self.ratio,
                     "peers": self.peers},
             "notes": self.notes}
        if self.error and not r["ratio"]:
            r["verdict"] = "n/a: " + self.error
        elif not r["ratio"]:
            r["verdict"] = "n/a: no measurement"
        elif self.judge is None:
            r["verdict"] = "info"
        else:
            r["verdict"] = "met" if self.judge(r["ratio"]["median"]) else "not met"
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


def fail_all(rows, e):
    for row in rows:
        row.error = str(e)
    return rows


# --- warm getaddrinfo ------------------------------------------------------

def bench_warm(ctx):
    """The same name in a loop after a first lookup: the shim's front cache
    against glibc asking each peer daemon (warm), and an /etc/hosts name."""
    name = GOVERNED[0]
    row = Row("warm_gai_resolver", "warm getaddrinfo(%s) in one process: shim front cache vs "
              "glibc asking a warm local daemon" % name, "ns/call", "best peer", "<= 0.05 x",
              lambda r: r <= 0.05)
    hosts = Row("warm_gai_hosts", "warm getaddrinfo(hostsfile.lab.example), an /etc/hosts name",
                "ns/call", "glibc", "(information)", None)
    n_shim, n_glibc = str(ctx.n(20000, 200)), str(ctx.n(2000, 20))

    def loop(argv_name, wrap=None, shim=False):
        r = run_kv(ctx, [ctx.prog("bench_gai"), "loop", argv_name,
                         n_shim if shim else n_glibc], shim=shim, wrap=wrap)
        if r["rc"] != 0:
            raise Fail("getaddrinfo(%s) = %d%s %s" % (argv_name, r["rc"],
                                                   " (shim)" if shim else "",
                                                   first_stderr_line(r)))
        return r["per_call_ns"]

    try:
        peers = PeerSet(ctx, "warm", UPSTREAM, 70)
        with peers:
            for n in peers.notes:
                row.note(n)

            def one(i):
                vals = {p.name: loop(name, wrap=p.wrap) for p in peers.peers}
                row.add(loop(name, shim=True), vals)

            measure(row, one, ctx.rounds)
    except Fail as e:
        row.error = str(e)

    def one_hosts(i):
        hosts.add(loop("hostsfile.lab.example", shim=True), loop("hostsfile.lab.example"))

    measure(hosts, one_hosts, ctx.rounds)
    return [row, hosts]


# --- connect, send/recv ------------------------------------------------------

def fastest_of_3(ctx, row, argv, i, pre=None):
    """Loopback loops on a shared machine are noisy (other processes, CPU
    frequency): each side runs 3 times, alternating, and the fastest run
    counts, the one least disturbed by anything else."""
    res = {False: [], True: []}
    for k in range(3):
        for shim in ([False, True] if (i + k) % 2 == 0 else [True, False]):
            if pre and shim:
                pre()
            res[shim].append(run_kv(ctx, argv, shim=shim)["per_op_ns"])
    row.add(min(res[True]), min(res[False]))


def bench_connect(ctx, governed):
    n = str(ctx.n(10000, 200))
    if governed:
        name, addr = GOVERNED
        row = Row("connect_governed", "connect()+close() to a governed, allowed address "
                  "(%s %s, resolved first in the same process)" % (name, addr), "ns/op",
                  "same without shim", "<= 1.05 x", lambda r: r <= 1.05)
        argv = [ctx.prog("bench_connect"), "-r", name, addr, n]
    else:
        row = Row("connect_ungoverned", "connect()+close() to an ungoverned address (127.0.0.1)",
                  "ns/op", "same without shim", "<= 1.05 x", lambda r: r <= 1.05)
        argv = [ctx.prog("bench_connect"), "127.0.0.1", n]
    measure(row, lambda i: fastest_of_3(ctx, row, argv, i), ctx.rounds)
    row.note("per round: the fastest of 3 runs of %s connects each, shim and bare "
             "alternating; the client closes with a reset (SO_LINGER 0), an accept thread "
             "closes the server side" % n)
    return row


def shared_table_live(ctx, conf):
    """Whether an address another process resolved is governed here: one
    shimmed process resolves secure.lab.example (HASTLS (0 443)), another
    connects to its address on port 80 without resolving anything.  True
    when that connect is refused (EACCES), False when it connects."""
    shim_once(ctx, conf, SECURE_ONLY[0])
    code = ("import errno, socket, sys\n"
            "s = socket.socket()\n"
            "try:\n    s.connect((%r, 80))\nexcept PermissionError:\n    sys.exit(3)\n"
            "except OSError as e:\n    print(e, file=sys.stderr); sys.exit(4)\n"
            "sys.exit(0)\n" % SECURE_ONLY[1])
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=30, env=env_for(ctx, True, {"HASTLS_CONF": conf}))
    if p.returncode == 3:
        return True
    if p.returncode == 0:
        return False
    raise Fail("the shared-table probe could not connect to %s:80: %s"
               % (SECURE_ONLY[1], p.stderr.strip()[:120]))


def bench_connect_shared(ctx):
    name, addr = GOVERNED
    row = Row("connect_shared", "connect()+close() to an address another process resolved "
              "(%s %s, resolved by a separate shimmed process through the agent)"
              % (name, addr), "ns/op", "same without shim", "<= 1.05 x",
              lambda r: r <= 1.05)
    n = str(ctx.n(10000, 200))
    conf = make_conf(ctx, "shared", agent="auto")
    try:
        agent_start(ctx, conf)
        live = shared_table_live(ctx, conf)
    except Fail as e:
        row.error = str(e)
        return row
    if live:
        row.what += " [shared address table: live]"
        row.note("the probe (a process that did not resolve %s is refused port 80 of %s) "
                 "shows the shared address table in use" % SECURE_ONLY)
    else:
        row.what += " [no shared address table in this build: the unshared path]"
        row.note("the probe (a process that did not resolve %s connecting to port 80 of %s) "
                 "was let through: this build has no shared address table, so the "
                 "connecting process does not know the address and the row measures the "
                 "unshared path; it measures the shared one unchanged once the table lands"
                 % SECURE_ONLY)
    argv = [ctx.prog("bench_connect"), addr, n]
    # Each shimmed run is preceded by another process's lookup of the name, so
    # that a short TTL or a restarted agent cannot leave the table empty.
    measure(row, lambda i: fastest_of_3(ctx, row, argv, i,
                                        pre=lambda: shim_once(ctx, conf, name)), ctx.rounds)
    row.note("per round: the fastest of 3 runs of %s connects each, shim and bare "
             "alternating; the connecting process resolves nothing itself" % n)
    try:
        agent_stop(ctx, conf)
    except Fail:
        pass
    return row


def bench_sendrecv(ctx):
    row = Row("sendrecv_udp", "sendto()+recv() of 64 bytes on a UDP socket that never talks "
              "to port 53 (127.0.0.1 to itself)", "ns/op", "same without shim", "<= 1.02 x",
              lambda r: r <= 1.02)
    argv = [ctx.prog("bench_connect"), "-u", str(ctx.n(200000, 1000))]
    measure(row, lambda i: fastest_of_3(ctx, row, argv, i), ctx.rounds)
    row.note("per round: the fastest of 3 runs each, shim and bare alternating")
    return row


def bench_sendto(ctx):
    row = Row("sendto_udp", "sendto() with a destination + recvfrom() with a source, 64 bytes, "
              "on a UDP socket that never talks to port 53 (the path the DNS redirection "
              "hooks)", "ns/op", "same without shim", "<= 1.02 x", lambda r: r <= 1.02)
    argv = [ctx.prog("bench_send"), "-m", "sendto", str(ctx.n(200000, 1000))]
    measure(row, lambda i: fastest_of_3(ctx, row, argv, i), ctx.rounds)
    row.note("per round: the fastest of 3 runs each, shim and bare alternating")
    return row


def bench_addrmap(ctx):
    row = Row("addrmap_shared", "connect()'s decision for an address 4000 looked-up names "
              "share (the address map, compiled into bench_addrmap)", "ns/op",
              "one name", "<= 2.0 x", lambda r: r <= 2.0)

    def one(i):
        r = run_kv(ctx, [ctx.prog("bench_addrmap"), "4000", str(ctx.n(2000000, 1000))])
        row.add(r["shared_ns"], r["single_ns"])
    measure(row, one, ctx.rounds)
    row.note("the map keeps at most a fixed number of names per address, strictest first, "
             "so the decision is bounded whatever the number of names")
    return row


# --- process start -----------------------------------------------------------

def bench_start(ctx, kind):
    name = GOVERNED[0]
    prog = [ctx.prog("bench_gai"), "once", name]
    env = None
    n = str(ctx.n(10, 2))
    if kind == "true":
        row = Row("start_true", "process start: /bin/true", "ns", "same without shim",
                  "<= 1.10 x", lambda r: r <= 1.10)
        n = str(ctx.n(100, 3))
        prog = ["/bin/true"]
    elif kind == "inproc":
        row = Row("start_resolve", "process start + one lookup (bench_gai once %s) in-process "
                  "(agent = off), lab CA file, upstream r = 0" % name, "ns",
                  "same without shim", "(information)", None)
        env = {"HASTLS_CONF": make_conf(ctx, "inproc", agent="off")}
    else:
        row = Row("start_resolve_default_ca", "the same with the default CA store "
                  "(ca_bundle unset; privacy = encrypted, the lab CA being unknown to it)",
                  "ns", "same without shim", "(information)", None)
        env = {"HASTLS_CONF": make_conf(ctx, "inproc-ca", agent="off", default_ca=True,
                                        privacy="encrypted")}

    def one(i):
        r = run_kv(ctx, [ctx.prog("bench_spawn"), "-p", ctx.shim, n] + prog, extra_env=env)
        if r["bare_failed"] or r["shim_failed"]:
            raise Fail("%d bare / %d preloaded runs exited non-zero"
                       % (r["bare_failed"], r["shim_failed"]))
        row.add(r["shim_median_ns"], r["bare_median_ns"])

    measure(row, one, ctx.rounds)
    row.note("per round: median of %s runs each, bare and preloaded alternating; the bare "
             "runs ask the lab's unbound (127.0.0.53)" % n)
    return row


# --- fresh processes served by the agent, a name it knows; memory ------------

def spawn_median(ctx, n, prog, shim_conf=None, wrap=None):
    """The median time from spawn to exit of N runs of PROG, preloaded with
    CONF, or bare under WRAP."""
    if shim_conf:
        r = run_kv(ctx, [ctx.prog("bench_spawn"), "-P", ctx.shim, str(n)] + prog,
                   extra_env={"HASTLS_CONF": shim_conf})
        tag = "shim"
    else:
        r = run_kv(ctx, [ctx.prog("bench_spawn"), "-b", str(n)] + prog, wrap=wrap)
        tag = "bare"
    if r[tag + "_failed"]:
        raise Fail("%d of %d runs of %s failed" % (r[tag + "_failed"], n,
                                                  os.path.basename(prog[0])))
    return r[tag + "_median_ns"]


def bench_known(ctx):
    name = GOVERNED[0]
    row = Row("fresh_known", "fresh process + one lookup of a name the agent knows "
              "(bench_gai once %s, spawn to exit): shim served by a warm agent vs glibc "
              "asking a daemon that has the name cached" % name, "ns", "best peer",
              "<= 1.0 x", lambda r: r <= 1.0)
    rss = Row("rss_agent", "VmRSS added to a process that resolves one name through the agent "
              "(bench_gai once %s)" % name, "KiB", "same without shim", "<= 1 MiB added",
              lambda d: d <= 1024, ratio_unit="KiB")
    anon = Row("rss_anon_agent", "of which private memory (RssAnon)", "KiB",
               "same without shim", "(information)", None, ratio_unit="KiB")
    rows = [row, rss, anon]
    n = ctx.n(20, 2)
    conf = make_conf(ctx, "known", agent="auto")
    prog = [ctx.prog("bench_gai"), "once", name]
    try:
        agent_start(ctx, conf)
        for _ in range(2):
            shim_once(ctx, conf, name)
        before = counter(agent_status(ctx, conf), "lookups")
        peers = PeerSet(ctx, "known", UPSTREAM, 70)
        with peers:
            for note in peers.notes:
                row.note(note)
            for p in peers.peers:
                glibc_once(ctx, p.wrap, name)

            def one(i):
                vals = {}
                order = peers.peers if i % 2 == 0 else list(reversed(peers.peers))
                for p in order:
                    vals[p.name] = spawn_median(ctx, n, prog, wrap=p.wrap)
                row.add(spawn_median(ctx, n, prog, shim_conf=conf), vals)

            measure(row, one, ctx.rounds)
        after = counter(agent_status(ctx, conf), "lookups")
        if before is not None and after is not None:
            row.note("the agent answered %d lookups during the row (%d fresh processes)"
                     % (after - before, n * ctx.rounds))
        elif not agent_status(ctx, conf):
            row.note("no agent answered hastls agent status after the row")
    except Fail as e:
        row.error = str(e)
    row.note("per round: median of %d fresh processes each; stubby has no cache and asks "
             "the upstream every time" % n)

    def one_rss(i):
        s, b = [], []
        for _ in range(ctx.n(5, 1)):
            s.append(shim_once(ctx, conf, name))
            b.append(run_kv(ctx, prog))
        med = lambda rs, k: statistics.median(r[k] for r in rs)
        rss.add(med(s, "rss_kib"), med(b, "rss_kib"),
                ratio=med(s, "rss_kib") - med(b, "rss_kib"))
        anon.add(med(s, "anon_kib"), med(b, "anon_kib"),
                 ratio=med(s, "anon_kib") - med(b, "anon_kib"))

    try:
        agent_start(ctx, conf)
        measure(rss, one_rss, ctx.rounds)
    except Fail as e:
        rss.error = anon.error = str(e)
    rss.note("value = VmRSS after the lookup, with the shim (served by the agent) and "
             "without it (glibc asking the lab's unbound); the ratio column is the "
             "difference, median of %d processes per round; VmRSS counts the shared "
             "library pages mapped in, which other processes share" % ctx.n(5, 1))
    try:
        agent_stop(ctx, conf)
    except Fail:
        pass
    return rows


# --- 200 fresh processes: TLS handshakes --------------------------------------

def bench_fresh200(ctx):
    n = ctx.n(200, 5)
    row = Row("tls_handshakes_fresh", "TLS handshakes to the upstream while %d fresh processes "
              "resolve a new name each (no agent running at the start)" % n, "handshakes",
              "peers", "1", lambda r: r == 1.0, ratio_unit="")
    conf = make_conf(ctx, "fresh", upstream=BENCH_UP_ADDR, agent="auto")

    def prog(tag):
        return [ctx.prog("bench_gai"), "once", "h{i}-%s-%d.%s" % (tag, os.getpid(), WILD)]

    def count(argv, wrap=None, shim=False):
        with HelloCounter(BENCH_UP_ADDR, 853) as hc:
            if shim:
                r = run_kv(ctx, [ctx.prog("bench_spawn"), "-P", ctx.shim, str(n)] + argv,
                           extra_env={"HASTLS_CONF": conf}, timeout=300)
            else:
                r = run_kv(ctx, [ctx.prog("bench_spawn"), "-b", str(n)] + argv, wrap=wrap,
                           timeout=300)
        failed = r.get("shim_failed" if shim else "bare_failed", 0)
        if failed:
            raise Fail("%d of %d processes failed their lookup" % (failed, n))
        if hc.drops:
            row.note("the packet socket dropped %d packets" % hc.drops)
        return hc.hello, hc.syn

    def one(i):
        if agent_status(ctx, conf):
            agent_stop(ctx, conf)
        hs, syn = count(prog("s%d" % i), shim=True)
        row.syns.append(syn)
        vals = {}
        # Fresh peers too, that have not connected yet (ready when they accept
        # TCP): their first connection counts.
        with PeerSet(ctx, "fresh%d" % i, BENCH_UP_ADDR, 73, probe=False) as peers:
            for note in peers.notes:
                row.note(note)
            for p in peers.peers:
                vals[p.name] = count(prog("%s%d" % (p.name, i)), wrap=p.wrap)[0]
        row.add(hs, vals, ratio=hs)

    try:
        with Unbound(ctx, "fresh", BENCH_UP_ADDR, local_insecure=True):
            measure(row, one, min(ctx.rounds, 3))
    except Fail as e:
        row.error = str(e)
    if row.syns:
        row.note("TCP connections (SYNs) to the upstream per round, shim: %s"
                 % ", ".join(str(s) for s in row.syns))
    row.note("ClientHellos counted on lo to %s:853 while the processes run; the first "
             "process starts the agent; each peer is started fresh just before and counted "
             "from then on, so a peer that connects during its own start-up (kresd primes "
             "the root through its forwarder) counts 0" % BENCH_UP_ADDR)
    try:
        agent_stop(ctx, conf)
    except Fail:
        pass
    return [row]


# --- a new name through the agent, r = 20 ms -----------------------------------

def bench_newname(ctx):
    r_ns = RTT_MS * 1e6
    row = Row("fresh_new_rtt", "fresh process + a new name, agent running, upstream RTT r = "
              "%g ms (first getaddrinfo in the process)" % RTT_MS, "r", "best peer, same r",
              "<= 1.1 r", lambda v: v <= 1.1, ratio_unit="r")
    n = ctx.n(5, 1)
    conf = make_conf(ctx, "newname", upstream=PROXY_ADDR, agent="auto")

    def first(name, wrap=None, shim=False):
        r = shim_once(ctx, conf, name) if shim else glibc_once(ctx, wrap, name)
        return r["first_ns"] / r_ns

    def one(i):
        vals = {}
        for p in peers.peers:
            vals[p.name] = statistics.median(
                first("n%d-%d-%s-%d.%s" % (i, k, p.name, os.getpid(), WILD), wrap=p.wrap)
                for k in range(n))
        s = statistics.median(first("n%d-%d-a-%d.%s" % (i, k, os.getpid(), WILD), shim=True)
                              for k in range(n))
        row.add(s, vals, ratio=s)

    try:
        with Unbound(ctx, "newname", BENCH_UP_ADDR, local_insecure=True), \
                DelayProxy(ctx, BENCH_UP_ADDR, RTT_MS), \
                PeerSet(ctx, "newname", PROXY_ADDR, 76) as peers:
            for note in peers.notes:
                row.note(note)
            agent_start(ctx, conf)
            # Every resolver learns the zone's delegation (and its proof of
            # insecurity) once, as after any earlier name in it.
            shim_once(ctx, conf, "warm-a-%d.%s" % (os.getpid(), WILD))
            for p in peers.peers:
                glibc_once(ctx, p.wrap, "warm-%s-%d.%s" % (p.name, os.getpid(), WILD))
            measure(row, one, ctx.rounds)
            agent_stop(ctx, conf)
    except Fail as e:
        row.error = str(e)
    row.note("value in r: median over %d fresh processes per round, each asking a name no "
             "resolver saw (under the wildcard %s); the agent and the peers reach the "
             "upstream through tests/bench/delayproxy.py, which delays each direction by r/2 "
             "and charges a new TCP connection one r" % (n, WILD))
    return [row]


# --- TLS handshakes, and memory after 1000 lookups ----------------------------

def bench_handshakes(ctx, counts, rounds):
    counts = tuple(ctx.n(c, {1: 1, 10: 2}.get(c, max(3, c // 20))) for c in counts)
    big = counts[-1]
    rows = {}
    for n in counts:
        what = ("TLS handshakes to the upstream in one process, in-process resolver "
                "(agent = off), getaddrinfo of %d distinct name%s%s"
                % (n, "" if n == 1 else "s", " (16 threads)" if n >= THREADED else ""))
        rows[n] = Row("tls_handshakes_%d" % n, what, "handshakes", "target", "1",
                      lambda r: r == 1.0, ratio_unit="")
    mem = Row("rss_1000", "VmRSS added to a process after %d distinct lookups (16 threads), "
              "in-process resolver (agent = off)" % big, "KiB",
              "same without shim", "(information)", None, ratio_unit="KiB")
    anon = Row("rss_anon_1000", "of which private memory (RssAnon)",
               "KiB", "same without shim", "(information)", None, ratio_unit="KiB")
    cli = Row("tls_handshakes_cli_1000", "TLS handshakes, `hastls lookup --threads 16 --names` "
              "with %d names (resolver stats)" % big, "handshakes", "target", "1",
              lambda r: r == 1.0, ratio_unit="")
    all_rows = [rows[n] for n in counts] + [cli, mem, anon]

    # Names under the wildcard of the unsigned zone, served by a bench copy of
    # unbound (see Unbound): each needs its own answer from the upstream.
    # Every round is a fresh process with a cache of its own.
    try:
        shim_env, glibc_wrap = clients_for(ctx, BENCH_UP_ADDR, "up")
        upstream = Unbound(ctx, "up", BENCH_UP_ADDR, local_insecure=True)
    except Fail as e:
        for row in all_rows:
            row.error = str(e)
        return all_rows

    def one(i):
        suffix = "hs%d-%d.%s" % (i, os.getpid(), WILD)
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
                if n == big:
                    b = run_kv(ctx, argv, wrap=glibc_wrap, timeout=180)
                    mem.add(r["rss_after_kib"], b["rss_after_kib"],
                            ratio=r["rss_after_kib"] - b["rss_after_kib"])
                    anon.add(r["anon_after_kib"], b["anon_after_kib"],
                             ratio=r["anon_after_kib"] - b["anon_after_kib"])
            except Fail as e:
                row.error = str(e)
                if n == big:
                    mem.error = anon.error = str(e)
                log("%s: round %d: %s" % (row.id, i, e))
        # The resolver's own counters through the CLI.
        names = "".join("c%d.%s\n" % (k, suffix) for k in range(big))
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
        "cold": Row("first_lookup_cold", "first lookup in a fresh process, in-process resolver "
                    "(agent = off), upstream RTT r = %g ms, cold chain (fresh upstream unbound)"
                    % RTT_MS, "r",
                    "glibc cleartext, same r", "<= 4 r", lambda v: v <= 4.0, ratio_unit="r"),
        "warm": Row("first_lookup_warm", "first lookup in a fresh process, in-process resolver "
                    "(agent = off), upstream RTT r = %g ms, warm upstream" % RTT_MS, "r",
                    "glibc cleartext, same r",
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
    nt = ctx.n(500, 32)
    agent_row = Row("throughput_agent_16x%d" % nt, "16 threads x %d new names, fresh process "
                    "served by the agent (warm)" % nt, "lookups/s", "best peer", ">= 1.0 x",
                    lambda r: r >= 1.0, higher=True)
    row = Row("throughput_16x500", "16 threads x %d new names, in-process resolver "
              "(agent = off)" % nt, "lookups/s", "best peer",
              "(information)", None, higher=True)
    seq = Row("new_name_latency", "one thread, 50 new names in a row, in-process resolver "
              "(agent = off): time per lookup after the first", "ns", "best peer",
              "(information)", None)
    rows = [seq, row, agent_row]
    nseq = ctx.n(50, 5)
    pid = os.getpid()
    try:
        shim_env, _ = clients_for(ctx, BENCH_UP_ADDR, "tp")
        agent_conf = make_conf(ctx, "tp-agent", upstream=BENCH_UP_ADDR, agent="auto")
        upstream = Unbound(ctx, "tp", BENCH_UP_ADDR, local_insecure=True)
    except Fail as e:
        return fail_all(rows, e)

    def checked(r, who, n):
        if r["again"] or r["other"]:
            raise Fail("%s: %d of %d lookups failed (EAI_AGAIN %d, other %d): %s"
                       % (who, r["again"] + r["other"], n, r["again"], r["other"],
                          first_stderr_line(r)))
        return r

    def sequential(i):
        # The first lookup starts the resolver and learns the zone's
        # delegation; the ones after it are timed.
        def argv(tag):
            return [ctx.prog("bench_gai"), "distinct", "sq%d%s-%d.%s" % (i, tag, pid, WILD),
                    str(nseq + 1)]
        vals = {p.name: checked(run_kv(ctx, argv(p.name), wrap=p.wrap, timeout=60),
                                p.name, nseq)["rest_ns"] / nseq for p in peers.peers}
        r = checked(run_kv(ctx, argv("s"), shim=True, extra_env=shim_env, timeout=60), "shim",
                    nseq)
        seq.add(r["rest_ns"] / nseq, vals)

    def threads(i, target, env, tag):
        # New names for each side and round: the upstream does the same work
        # for every one.
        def argv(t):
            return [ctx.prog("bench_gai"), "threads", "16", "tp%d%s%s-%d.%s"
                    % (i, tag, t, pid, WILD), str(nt)]
        vals = {}
        order = peers.peers if i % 2 == 0 else list(reversed(peers.peers))
        for p in order:
            vals[p.name] = checked(run_kv(ctx, argv(p.name), wrap=p.wrap, timeout=180),
                                   p.name, nt)["lookups_per_s"]
        r = checked(run_kv(ctx, argv("s"), shim=True, extra_env=env, timeout=180), "shim", nt)
        target.add(r["lookups_per_s"], vals)

    try:
        with upstream, PeerSet(ctx, "tp", BENCH_UP_ADDR, 73) as peers:
            for note in peers.notes:
                for r in rows:
                    r.note(note)
            # Each peer and the agent learn the zone's delegation first, as
            # after any earlier name in it.
            for p in peers.peers:
                glibc_once(ctx, p.wrap, "warm-%s-%d.%s" % (p.name, pid, WILD))
            measure(seq, sequential, ctx.rounds)
            measure(row, lambda i: threads(i, row, shim_env, "p"), ctx.rounds)
            agent_start(ctx, agent_conf)
            shim_once(ctx, agent_conf, "warm-a-%d.%s" % (pid, WILD))
            measure(agent_row, lambda i: threads(i, agent_row, {"HASTLS_CONF": agent_conf}, "a"),
                    ctx.rounds)
            agent_stop(ctx, agent_conf)
    except Fail as e:
        fail_all(rows, e)
    for r in (row, agent_row):
        r.note("names under the wildcard %s, each new to every resolver; the peers forward "
               "to the same upstream over TLS" % WILD)
    return rows


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


def peers_cell(r):
    """The peers' medians ("unbound 1.2 ms, kresd ..."), or the one peer."""
    if r.get("peers"):
        unit = r["unit"]
        parts = []
        for name in PEER_NAMES:
            s = r["peers"].get(name)
            if s:
                parts.append("%s%s %s" % (name, "*" if name == r.get("best_peer") else "",
                                          fmt(s["median"], unit if unit != "handshakes"
                                              else "")))
        return ", ".join(parts)
    if r["peer"] == "target" or not r["peer_value"]:
        return "-"
    return "%s: %s" % (r["peer"], fmt(r["peer_value"]["median"], r["unit"]))


SHORT = {
    "warm_gai_resolver": "warm repeated getaddrinfo in one process",
    "warm_gai_hosts": "warm getaddrinfo, an /etc/hosts name",
    "fresh_known": "fresh process + one lookup of a name the agent knows",
    "rss_agent": "VmRSS added to a process served by the agent",
    "rss_anon_agent": "of which private (RssAnon)",
    "fresh_new_rtt": "fresh process + a new name, agent running, r = 20 ms",
    "tls_handshakes_fresh": "TLS handshakes while 200 fresh processes resolve",
    "new_name_latency": "a new name after the first, one thread, agent = off",
    "throughput_16x500": "16 threads x 500 new names, agent = off",
    "throughput_agent_16x500": "16 threads x 500 new names, served by the agent",
    "connect_governed": "connect()+close(), governed address it resolved itself",
    "connect_ungoverned": "connect()+close(), ungoverned address (127.0.0.1)",
    "connect_shared": "connect()+close() to an address another process resolved",
    "sendrecv_udp": "send/recv on a socket that never talks to port 53",
    "sendto_udp": "sendto/recvfrom with addresses, never port 53",
    "addrmap_shared": "connect() decision, 4000 names on one address",
    "start_true": "process start, /bin/true",
    "start_resolve": "process start + one lookup, agent = off, r = 0 (lab CA file)",
    "start_resolve_default_ca": "the same with the default CA store (ca_bundle unset)",
    "tls_handshakes_1": "TLS handshakes, one process, 1 new name, agent = off",
    "tls_handshakes_10": "TLS handshakes, one process, 10 new names, agent = off",
    "tls_handshakes_1000": "TLS handshakes, one process, 1000 new names on 16 threads, "
                           "agent = off",
    "tls_handshakes_cli_1000": "TLS handshakes, `hastls lookup` of 1000 names on 16 threads",
    "rss_1000": "VmRSS added after 1000 lookups on 16 threads, agent = off",
    "rss_anon_1000": "of which private (RssAnon)",
    "first_lookup_cold": "first lookup in a fresh process, agent = off, r = 20 ms, cold chain",
    "first_lookup_warm": "first lookup in a fresh process, agent = off, r = 20 ms, warm upstream",
}


def label(r, short):
    if not short or r["id"] not in SHORT:
        return r["what"]
    m = re.search(r"\[(.*)\]$", r["what"])
    return SHORT[r["id"]] + (" [%s]" % m.group(1) if m else "")


def table(results, notes=True, short=False):
    out = ["| measurement | hastls (median) | peers (median; * best) | hastls / best peer: "
           "median [min .. max] | target | verdict |", "|---|---|---|---|---|---|"]
    for r in results:
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            label(r, short), fmt(r["shim"]["median"] if r["shim"] else None, r["unit"]),
            peers_cell(r), fmt_ratio(r["ratio"], r["ratio_unit"]), r["target"], r["verdict"]))
    text = "\n".join(out) + "\n"
    if notes:
        lines = ["- %s: %s" % (r["id"], n) for r in results for n in r["notes"]]
        if lines:
            text += "\nNotes:\n" + "\n".join(lines) + "\n"
    return text


def header(doc):
    m = doc["machine"]
    load = doc.get("load")
    return ("Machine: %d CPUs, %s, Linux %s, %s; %d rounds; %s%s\n\n"
            % (m["nproc"], m["cpu"], m["kernel"], m["libc"], doc["rounds"], doc["date"],
               "; load average %.1f at the start, %.1f at the end" % tuple(load)
               if load else ""))


def print_table(path):
    """--table: the table of a bench.json (README's Performance table)."""
    try:
        doc = json.load(open(path))
    except (OSError, ValueError) as e:
        sys.exit("bench: cannot read %s: %s" % (path, e))
    sys.stdout.write(header(doc) + table(doc["results"], notes=False, short=True))


README_BEGIN = "<!-- bench table: made by scripts/bench --readme from a bench.json -->"
README_END = "<!-- end of bench table -->"


def update_readme(readme, path):
    """--readme: README's Performance table replaced by the table of PATH."""
    try:
        doc = json.load(open(path))
        text = open(readme).read()
    except (OSError, ValueError) as e:
        sys.exit("bench: %s" % e)
    a, b = text.find(README_BEGIN), text.find(README_END)
    if a < 0 or b < a:
        sys.exit("bench: %s has no bench table markers (%s ... %s)"
                 % (readme, README_BEGIN, README_END))
    new = (text[:a] + README_BEGIN + "\n" + header(doc) + table(doc["results"], notes=False, short=True)
           + text[b:])
    with open(readme, "w") as f:
        f.write(new)
    print("bench: %s: table from %s (%s)" % (readme, path, doc["date"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", default="")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--bin", help="the bench programs (default BUILD/bench); the results go "
                    "there too")
    ap.add_argument("--table", metavar="FILE")
    ap.add_argument("--readme", nargs=2, metavar=("README", "FILE"))
    args = ap.parse_args()
    if args.readme:
        update_readme(*args.readme)
        return
    if args.table:
        print_table(args.table)
        return
    if not args.build:
        ap.error("--build is required")
    ctx = Ctx(os.path.abspath(args.build), 1 if args.smoke else args.rounds, args.smoke,
              os.path.abspath(args.bin) if args.bin else None)
    outdir = ctx.bin if args.bin else ctx.build
    ctx.have_stubby = any(os.access(os.path.join(d, "stubby"), os.X_OK)
                          for d in os.environ.get("PATH", "").split(":") if d)
    only = set(filter(None, args.only.split(",")))
    want = lambda k: not only or k in only
    t0 = time.monotonic()
    load0 = os.getloadavg()[0]

    missing = [p for p in (ctx.shim, ctx.cli, ctx.prog("bench_gai"), ctx.prog("bench_connect"),
                           ctx.prog("bench_spawn")) if not os.access(p, os.X_OK)]
    if missing:
        sys.exit("bench: missing %s (make BUILD=... bench builds them)" % ", ".join(missing))

    rows = []
    steps = [
        ("warm", lambda: bench_warm(ctx)),
        ("known", lambda: bench_known(ctx)),
        ("newname", lambda: bench_newname(ctx)),
        ("fresh", lambda: bench_fresh200(ctx)),
        ("throughput", lambda: bench_throughput(ctx)),
        ("connect", lambda: [bench_connect(ctx, True), bench_connect(ctx, False),
                             bench_connect_shared(ctx), bench_sendrecv(ctx),
                             bench_sendto(ctx), bench_addrmap(ctx)]),
        ("start", lambda: [bench_start(ctx, "true"), bench_start(ctx, "inproc"),
                           bench_start(ctx, "default_ca")]),
        ("handshakes", lambda: bench_handshakes(ctx, (1, 10, 1000), min(ctx.rounds, 3))),
        ("rtt", lambda: bench_rtt(ctx, ctx.rounds)),
    ]
    unknown = only - {k for k, _ in steps}
    if unknown:
        sys.exit("bench: unknown part %s (parts: %s)" % (", ".join(sorted(unknown)),
                                                         ", ".join(k for k, _ in steps)))
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
    doc = {"machine": machine(), "rounds": ctx.rounds, "rtt_ms": RTT_MS, "smoke": ctx.smoke,
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "load": [round(load0, 2), round(os.getloadavg()[0], 2)],
           "seconds": round(time.monotonic() - t0, 1), "results": results}
    md = header(doc) + table(results)
    name = "bench-smoke" if ctx.smoke else "bench"
    with open(os.path.join(outdir, name + ".json"), "w") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(outdir, name + ".md"), "w") as f:
        f.write(md)
    print(md)
    print("bench: wrote %s and %s.md (%.0f s)" % (os.path.join(outdir, name + ".json"),
                                                 name, doc["seconds"]))
    if ctx.smoke:
        empty = [r["id"] for r in results if r["verdict"].startswith("n/a")]
        if empty:
            print("bench: smoke: no number for %s" % ", ".join(empty), file=sys.stderr)
            sys.exit(1)
        print("bench: smoke: every row produced a number (%d rows)" % len(results))


if __name__ == "__main__":
    main()
