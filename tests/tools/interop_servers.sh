# tests/tools/interop_servers.sh: independent DNS-over-TLS servers for the
# interop tests, started inside the lab (never as system services), each on
# its own loopback address with the lab's dot.lab.example certificate,
# forwarding to the lab's resolver on 127.0.0.53:53:
#   start_dnsdist ADDR   PowerDNS dnsdist, ALPN "dot"
#   start_kresd ADDR     Knot Resolver, validating with the lab's trust anchor;
#                        it refuses a handshake offering no id it knows
#                        ("dns" alone: "no application protocol")
#   start_named ADDR     BIND named, a forwarder (the client validates)
# Each waits until the server answers a DoT query from the lab's own client
# (not ours), and returns 1 when it does not.  Sourced by the tests; needs
# LAB_DIR, LAB_CA, LAB_TOOLS and LAB_TRUST_ANCHOR.

# The address ADDR on lo: servers that bind only to interface addresses
# (named) need it; others do not mind.
interop_addr() {
    ip addr show dev lo | grep -q "inet $1/" || ip addr add "$1/32" dev lo
}

# Waits until ADDR:853 answers a DoT query; 1 after about 10 s.
interop_wait() {
    local _
    for _ in $(seq 100); do
        "$LAB_TOOLS/dotquery" --ca "$LAB_CA" --name dot.lab.example "$1" secure.lab.example \
            >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# dnsdist's defaults on purpose: without maxInFlight it handles a connection's
# queries in order, and (1.7.3) answers only the first query of a TLS record
# that carries several.
start_dnsdist() {
    local conf=$LAB_DIR/dnsdist-$1.conf
    cat >"$conf" <<EOC
setSecurityPollSuffix('')
setLocal('$1:53')
addTLSLocal('$1:853', '$LAB_DIR/certs/dot.pem', '$LAB_DIR/certs/dot.key', {alpn='dot'})
newServer({address='127.0.0.53:53'})
EOC
    interop_addr "$1"
    dnsdist --supervised --disable-syslog -C "$conf" >"$LAB_DIR/dnsdist-$1.log" 2>&1 3>&- &
    interop_wait "$1"
}

start_kresd() {
    local d=$LAB_DIR/kresd-$1
    mkdir -p "$d"
    cat >"$d/config" <<EOC
net.listen('$1', 853, { kind = 'tls' })
net.tls('$LAB_DIR/certs/dot.pem', '$LAB_DIR/certs/dot.key')
trust_anchors.remove('.')
trust_anchors.add_file('$LAB_TRUST_ANCHOR', true)
policy.add(policy.all(policy.FORWARD({'127.0.0.53'})))
EOC
    interop_addr "$1"
    kresd -n -q -c "$d/config" "$d" >"$LAB_DIR/kresd-$1.log" 2>&1 </dev/null &
    interop_wait "$1"
}

start_named() {
    local d=$LAB_DIR/named-$1
    mkdir -p "$d"
    cat >"$d/named.conf" <<EOC
tls lab { cert-file "$LAB_DIR/certs/dot.pem"; key-file "$LAB_DIR/certs/dot.key"; };
options {
    directory "$d";
    pid-file none;
    listen-on port 53 { none; };
    listen-on-v6 { none; };
    listen-on port 853 tls lab { $1; };
    recursion yes;
    allow-query { any; };
    allow-recursion { any; };
    forwarders { 127.0.0.53; };
    forward only;
    dnssec-validation no;
};
EOC
    interop_addr "$1"
    named -g -c "$d/named.conf" >"$LAB_DIR/named-$1.log" 2>&1 </dev/null &
    interop_wait "$1"
}
