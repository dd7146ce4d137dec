#!/usr/bin/env bash
# glibc_parity: every resolver entry point of libc answers under the shim as
# plain glibc answers in the same lab, field by field.  Plain glibc resolves
# the lab's names over cleartext through the lab's unbound (127.0.0.53); the
# shim over DNS-over-TLS to the same unbound.  tests/tools/parity.c makes the
# calls (getaddrinfo, gethostbyname, gethostbyname2, their _r forms,
# gethostbyaddr and gethostbyaddr_r, getnameinfo) and prints every field,
# *h_errnop and the global h_errno; each list runs once without and once with
# the shim and the lines are compared.  Hosts-file cases bind-mount their own
# /etc/hosts, NI_NOFQDN cases set their own host name (a UTS namespace).
# Also: python3's socket functions (herror codes, aliases, getfqdn), names
# glibc refuses to send to DNS (no packet under either), several addresses of
# one name (records added to the unsigned lab zone), and the CLI's error
# lines for a bad configuration.
#
# Differences that are deliberate (libhastls(7), "Differences from glibc")
# or belong to other changes are listed in KNOWN below: they are reported as
# notes and do not fail the test.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
out=$LAB_DIR/out
P=$LAB_DIR/parity
cc -O1 -Wall -o "$P" "$TOOLS/parity.c" 2>"$out" || {
    bad "cannot build parity.c"
    cat "$out"
    finish
}

# KNOWN: "REGEX<TAB>why" per line; REGEX matches the call (the text before
# " =>").
KNOWN=$(printf '%s\t%s\n' \
    '^gai unreach\.insecure\.lab\.example ' 'address order within a family: RFC 6724 not applied (libhastls(7))' \
    ' sec\\ure\.lab\.example ' 'a name with a backslash escape is handed back as written (libhastls(7))' \
    ' www\.bogus\.lab\.example ' 'DNSSEC: a bogus answer is EAI_FAIL/NO_RECOVERY, glibc EAI_AGAIN/TRY_AGAIN (libhastls(7))' \
    ' (trailing\.example|hostsfile\.lab\.example\.) ' 'hosts file: a trailing dot is ignored (libhastls(7))' \
    ' notinfile6\.example ' 'hosts file: a name it knows never reaches DNS (libhastls(7))')

# known CALL: prints the reason when CALL is a known difference.
known() {
    local re why
    while IFS=$'\t' read -r re why; do
        [ -n "$re" ] || continue
        if [[ $1 =~ $re ]]; then
            echo "$why"
            return 0
        fi
    done <<<"$KNOWN"
    return 1
}

# compare TITLE: the calls on standard input, run plainly and under the shim
# (with the current /etc/hosts and host name), compared line by line.
compare() {
    local title=$1 calls=$LAB_DIR/calls.in g=$LAB_DIR/glibc.out s=$LAB_DIR/shim.out
    cat >"$calls"
    run_driver "$P" <"$calls" >"$g" 2>"$LAB_DIR/glibc.err"
    LD_PRELOAD=$S run_driver "$P" <"$calls" >"$s" 2>"$LAB_DIR/shim.err"
    if [ "$(wc -l <"$g")" -ne "$(wc -l <"$calls")" ] || [ "$(wc -l <"$s")" -ne "$(wc -l <"$calls")" ]; then
        bad "$title: the driver did not answer every call"
        sed 's/^/    glibc | /' "$g" "$LAB_DIR/glibc.err"
        sed 's/^/    shim  | /' "$s" "$LAB_DIR/shim.err"
        return
    fi
    local lg ls call why same=0
    while IFS= read -r lg <&3 && IFS= read -r ls <&4; do
        case $lg in '#'* | '') continue ;; esac
        call=${lg%% =>*}
        if [ "$lg" = "$ls" ]; then
            same=$((same + 1))
        elif why=$(known "$call"); then
            echo "note $title: $call: known difference: $why"
            echo "    glibc: ${lg#* => }"
            echo "    shim:  ${ls#* => }"
        else
            bad "$title: $call"
            echo "    glibc: ${lg#* => }"
            echo "    shim:  ${ls#* => }"
        fi
    done 3<"$g" 4<"$s"
    ok "$title: $same calls answer as glibc does"
}

# The driver, in a UTS namespace named $HOSTNAME_AS when set.
run_driver() {
    if [ -n "${HOSTNAME_AS:-}" ]; then
        unshare -u sh -c 'hostname "$1" && shift && exec "$@"' sh "$HOSTNAME_AS" "$@"
    else
        "$@"
    fi
}

# with_hosts FILE CMD...: CMD with FILE as /etc/hosts.
with_hosts() {
    local f=$1
    shift
    mount --bind "$f" /etc/hosts || {
        bad "cannot bind-mount $f on /etc/hosts"
        return
    }
    "$@"
    umount /etc/hosts
}

hosts_file() { # NAME: standard input into $LAB_DIR/hosts.NAME, path printed
    cat >"$LAB_DIR/hosts.$1"
    echo "$LAB_DIR/hosts.$1"
}

echo "== DNS names through every entry point (the lab's hosts file)"
compare "dns" <<'EOF'
# gethostbyaddr_r / gethostbyaddr: h_errno as CPython reads it
ghba_r 1.2.3.4 1024
ghba 1.2.3.4
ghba_r 127.0.10.1 1024
ghba 127.0.10.1
ghba_r 127.0.10.99 1024
ghba_r fd00:1ab::7 1024
ghba_r ::ffff:127.0.10.1 1024
ghba_r :: 1024
ghba_r 127.0.10.1 8
ghba_r 127.0.20.1 1024
# gethostbyname_r / gethostbyname2_r / the classic forms
ghbn_r secure.lab.example 1024
ghbn_r secure.lab.example 16
ghbn_r nosuch.lab.example 1024
ghbn_r v6.lab.example 1024
ghbn2_r v6.lab.example inet6 1024
ghbn2_r secure.lab.example inet6 1024
ghbn2_r dual.lab.example inet6 1024
ghbn_r alias.lab.example 1024
ghbn_r alias.lab.example. 1024
ghbn_r secure.lab.example. 1024
ghbn_r Secure.Lab.Example 1024
# the spelling glibc keeps: the name as asked without a CNAME; with one, the
# target, whose labels shared with the question take the question's case
# (DNS name compression), and the question as the alias; never a trailing dot
ghbn_r Secure.Lab.Example. 1024
ghbn_r Alias.Lab.Example 1024
ghbn_r ALIAS.lab.example. 1024
ghbn_r U2S.Insecure.Lab.Example 1024
ghbn_r S2U.LAB.EXAMPLE 1024
ghbn2_r Alias.Lab.Example inet 1024
ghbn Alias.Lab.Example.
ghbn_r www.bogus.lab.example 1024
ghbn_r www.insecure.lab.example 1024
ghbn_r hostsfile.lab.example 1024
ghbn2_r hostsfile.lab.example inet6 1024
ghbn secure.lab.example
ghbn nosuch.lab.example
ghbn2 v6.lab.example inet6
ghbn2 secure.lab.example inet6
ghbn hostsfile.lab.example
# numeric names, as glibc's digits-and-dots check reads them
ghbn_r 1.2.3 1024
ghbn_r 01.02.03.04 1024
ghbn_r 123 1024
ghbn_r 1.2.3.4.5 1024
ghbn_r 256.1.1.1 1024
ghbn_r 1.2.3.4 8
ghbn_r 0x7f.1 1024
ghbn_r 1.2.3.4. 1024
ghbn2_r 1.2.3.4 inet6 1024
ghbn2_r ::1 inet6 1024
ghbn_r ::1 1024
ghbn2_r fd00:1ab::7 inet6 1024
ghbn ''
ghbn_r '' 1024
ghbn2 '' inet6
ghbn_r . 1024
# getaddrinfo
gai secure.lab.example - unspec 0 0
gai secure.lab.example https unspec stream AI_CANONNAME
gai alias.lab.example 80 inet stream AI_CANONNAME
gai nosuch.lab.example - unspec stream 0
gai v6.lab.example - inet stream 0
gai v6.lab.example - inet6 stream 0
gai secure.lab.example - inet6 stream 0
gai secure.lab.example - inet6 stream AI_V4MAPPED
gai dual.lab.example - inet6 stream AI_V4MAPPED
gai dual.lab.example - inet6 stream AI_V4MAPPED|AI_ALL
gai dual.lab.example 443 unspec stream 0
sort:gai dual.lab.example 443 unspec stream 0
gai 127.0.10.1 80 unspec stream AI_CANONNAME
gai 0x7f.1 - inet stream 0
gai ::1 - unspec dgram 0
gai secure.lab.example - unspec stream AI_NUMERICHOST
gai hostsfile.lab.example - inet6 stream 0
gai hostsfile.lab.example - inet6 stream AI_V4MAPPED
gai SECURE.LAB.EXAMPLE - inet stream AI_CANONNAME
gai Secure.Lab.Example. - inet stream AI_CANONNAME
gai Alias.Lab.Example - inet stream AI_CANONNAME
gai ALIAS.LAB.EXAMPLE. - inet stream AI_CANONNAME
gai U2S.Insecure.Lab.Example 443 inet stream AI_CANONNAME
gai '' - unspec stream 0
gai . - inet stream 0
# getnameinfo and its flags
gni 127.0.10.1 80 0
gni 127.0.10.1 80 NI_NAMEREQD
gni 127.0.10.1 53 NI_DGRAM
gni 127.0.10.1 443 NI_NUMERICSERV
gni 127.0.10.1 443 NI_NOFQDN
gni 127.0.10.99 80 0
gni 127.0.10.99 80 NI_NAMEREQD
gni 1.2.3.4 80 NI_NAMEREQD
gni fd00:1ab::7 443 0
gni ::ffff:127.0.10.1 80 0
gni ::ffff:127.0.10.99 80 NI_NAMEREQD
gni 127.0.20.1 25 0
gni 127.0.10.1 80 NI_NUMERICHOST|NI_NUMERICSERV
# the bogus name again, now from the front cache
ghbn_r www.bogus.lab.example 1024
gai www.bogus.lab.example - inet stream 0
# loopback and ULA addresses outside the lab's reverse zones, not in the
# hosts file: a plain NXDOMAIN (the built-in local zones of libunbound for
# 127.in-addr.arpa and d.f.ip6.arpa are transparent)
ghba_r 127.0.1.2 1024
ghba 127.0.1.2
gni 127.0.1.2 80 0
gni 127.0.1.2 80 NI_NAMEREQD
ghba_r fd00::1234 1024
gni fd00::1234 80 NI_NAMEREQD
ghba_r fd12:3456::1 1024
gni fd12:3456::1 443 0
EOF
# The log lines of that run: each lookup of the bogus name (the later ones
# from the front cache) gives the validator's reason, and nothing else failed
# validation (the loopback and ULA reverse names above in particular).
nbogus=$(grep -c 'lookup of www\.bogus\.lab\.example failed DNSSEC validation' "$LAB_DIR/shim.err")
nwhy=$(grep -c 'lookup of www\.bogus\.lab\.example failed DNSSEC validation: validation failure <www\.bogus\.lab\.example\. A IN>: no keys have a DS' "$LAB_DIR/shim.err")
if [ "$nbogus" -ge 2 ] && [ "$nwhy" = "$nbogus" ]; then
    ok "dns: all $nbogus lookups of the bogus name give the validator's reason"
else
    bad "dns: $nwhy of $nbogus lookups of the bogus name give the validator's reason"
    grep 'www\.bogus' "$LAB_DIR/shim.err" | sed 's/^/    /'
fi
if grep -v 'www\.bogus\.lab\.example' "$LAB_DIR/shim.err" | grep -q 'failed DNSSEC validation'; then
    bad "dns: another name failed validation"
    grep 'failed DNSSEC validation' "$LAB_DIR/shim.err" | grep -v 'www\.bogus' | sed 's/^/    /'
else
    ok "dns: no other name failed validation (loopback and ULA reverse names included)"
fi

echo "== names glibc sends to no DNS server, and names it does send"
# Each call of both runs is counted on lo towards the lab resolver (port 53
# for glibc, 853 for the shim): glibc sends nothing for these names and the
# shim must send nothing either.
rejected=('0.1.1.~1' 'a\x20b.example' '-ab.example' '*.lab.example' 'a*.lab.example'
    'a..b.example' '.lab.example' 'lab.example..' 'a~b.example' 'caf\xc3\xa9.example'
    'a!b.example' 'a/b.example' 'a\x09b.lab.example'
    "$(printf 'a%.0s' {1..64}).example" "$(printf 'abcdefghi.%.0s' {1..26})example")
for n in "${rejected[@]}"; do
    printf 'gai %s - inet stream 0\ngai %s - unspec stream AI_CANONNAME\nghbn_r %s 1024\nghbn2_r %s inet6 1024\nghbn %s\n' \
        "$n" "$n" "$n" "$n" "$n"
done >"$LAB_DIR/rejected.in"
# glibc's queries go to port 53 (the lab's agent may talk to 853 meanwhile);
# the shim resolves by itself here (agent = off), so any packet at all to the
# resolver's address would be its own.
"$PKTCOUNT" --addr 127.0.0.53 --port 53 -o "$LAB_DIR/rejected.glibc" -- "$P" \
    <"$LAB_DIR/rejected.in" >/dev/null 2>&1
noagent=$(conf parity-noagent agent=off)
"$PKTCOUNT" --addr 127.0.0.53 -o "$LAB_DIR/rejected.shim" -- \
    env HASTLS_CONF="$noagent" LD_PRELOAD="$S" "$P" <"$LAB_DIR/rejected.in" >/dev/null 2>&1
g=$(cat "$LAB_DIR/rejected.glibc") s=$(cat "$LAB_DIR/rejected.shim")
[ "$g" -eq 0 ] && ok "glibc sends no packet for them" || bad "glibc sent $g packets: the list is wrong"
[ "$s" -eq 0 ] && ok "the shim sends no packet for them" || bad "the shim sent $s packets for names glibc refuses"
compare "refused names" <"$LAB_DIR/rejected.in"
# "x.-ab" is a host name (only the first label may not start with '-');
# '_' is allowed anywhere, '-' at a label's end, a backslash escapes.
compare "accepted names" <<'EOF'
gai ab-.lab.example - inet stream 0
gai a_b.lab.example - inet stream 0
gai _a.lab.example - unspec stream 0
ghbn_r x.-ab.lab.example 1024
ghbn_r a-b.lab.example 1024
ghbn_r 1e1.lab.example 1024
ghbn_r 123.lab.example 1024
ghbn_r a.1 1024
ghbn_r sec\ure.lab.example 1024
gai secure.lab.example. - inet stream AI_CANONNAME
EOF

echo "== the hosts file: aliases, case, families, repeats"
h=$(hosts_file main <<'EOF'
127.0.0.1	localhost MyHost.Example
::1	localhost ip6-localhost ip6-loopback
127.0.30.1	Multi.Example multi first-alias
127.0.30.2	multi.example second-alias
fd00:1ab::35	multi.example
127.0.30.3	MULTI.EXAMPLE
::1	v6only.example v6only-alias
::ffff:127.0.30.5	mapped.example
127.0.30.9	-dash.example
127.0.30.10	trailing.example.
127.0.30.11	UPPER.Example upper-alias
127.0.30.12	dup.example
127.0.30.12	dup.example
fe80::1%lo	scoped.example
127.0.30.13	v4only.example
fd00:1ab::36	notinfile6.example
127.0.30.14	tab.example	  tab-alias	# comment
127.0.20.1	hostsfile.lab.example
EOF
)
with_hosts "$h" compare "hosts" <<'EOF'
ghbn_r localhost 1024
ghbn2_r localhost inet6 1024
ghbn localhost
ghbn2 localhost inet6
ghba_r ::1 1024
ghba ::1
ghba_r 127.0.0.1 1024
ghba 127.0.0.1
ghba_r 127.0.30.1 1024
ghba_r 127.0.30.5 1024
ghba_r ::ffff:127.0.30.5 1024
ghba_r 127.0.30.12 1024
ghba_r 127.0.30.1 16
ghbn_r multi.example 1024
ghbn_r MULTI.example 1024
ghbn_r first-alias 1024
ghbn_r second-alias 1024
ghbn2_r multi.example inet6 1024
ghbn_r multi.example 64
ghbn multi.example
ghbn_r v6only.example 1024
ghbn2_r v6only.example inet6 1024
ghbn_r mapped.example 1024
ghbn2_r mapped.example inet6 1024
ghbn_r -dash.example 1024
ghbn_r upper-alias 1024
ghbn_r dup.example 1024
ghbn_r scoped.example 1024
ghbn_r tab-alias 1024
ghbn2_r v4only.example inet6 1024
ghbn2_r notinfile6.example inet 1024
gai multi.example - inet stream AI_CANONNAME
gai multi.example - inet6 stream AI_CANONNAME
gai multi.example - inet6 stream AI_V4MAPPED|AI_ALL|AI_CANONNAME
sort:gai multi.example - unspec stream AI_CANONNAME
gai multi.example - unspec stream AI_CANONNAME
gai localhost - inet stream AI_CANONNAME
gai localhost - inet6 stream AI_CANONNAME
gai ip6-localhost - inet stream AI_CANONNAME
gai v6only.example - inet stream AI_CANONNAME
gai v6only.example - inet6 stream 0
gai v6only.example - unspec stream 0
gai mapped.example - inet stream 0
gai mapped.example - inet6 stream 0
gai mapped.example - unspec stream 0
gai -dash.example - inet stream 0
gai upper-alias 80 inet stream AI_CANONNAME
gai dup.example - inet stream 0
gai v4only.example - inet6 stream 0
gai v4only.example - inet6 stream AI_V4MAPPED
gai scoped.example - unspec stream 0
gai trailing.example - inet stream AI_CANONNAME
gai trailing.example. - inet stream AI_CANONNAME
gai hostsfile.lab.example. - inet stream 0
gai notinfile6.example - inet stream 0
gai tab.example - inet stream AI_CANONNAME
gni 127.0.0.1 0 0
gni ::1 0 0
gni 127.0.30.5 0 0
gni ::ffff:127.0.30.5 0 0
gni 127.0.30.1 0 NI_NAMEREQD
gni 127.0.30.3 0 0
EOF

echo "== localhost when the file lacks a family, or lacks it altogether"
h=$(hosts_file v4lo <<'EOF'
127.0.0.1	localhost
127.0.20.1	hostsfile.lab.example
EOF
)
with_hosts "$h" compare "localhost, IPv4 only" <<'EOF'
gai localhost - inet6 stream 0
gai localhost - inet6 stream AI_CANONNAME
gai localhost - inet6 stream AI_V4MAPPED
gai localhost - unspec stream 0
ghbn2_r localhost inet6 1024
ghbn2 localhost inet6
ghbn_r localhost 1024
EOF
h=$(hosts_file v6lo <<'EOF'
::1	localhost
EOF
)
with_hosts "$h" compare "localhost, IPv6 only" <<'EOF'
gai localhost - inet stream 0
gai localhost - inet6 stream 0
ghbn_r localhost 1024
ghbn localhost
ghba_r 127.0.0.1 1024
gni 127.0.0.1 0 0
EOF
h=$(hosts_file nolo <<'EOF'
127.0.20.1	hostsfile.lab.example
EOF
)
with_hosts "$h" compare "localhost, not in the file" <<'EOF'
sort:gai localhost - unspec stream 0
gai localhost - inet stream AI_CANONNAME
gai localhost - inet6 stream 0
ghbn_r localhost 1024
ghbn2_r localhost inet6 1024
gai foo.localhost - inet stream 0
ghbn_r localhost. 1024
ghbn2_r localhost. inet6 1024
gai localhost. - inet stream AI_CANONNAME
ghbn_r foo.localhost. 1024
ghbn_r Foo.LocalHost 1024
gai Foo.LocalHost - inet stream AI_CANONNAME
EOF

echo "== NI_NOFQDN: the host's own domain, found as glibc finds it"
h=$(hosts_file fqdn1 <<'EOF'
127.0.0.1	localhost
127.0.1.5	box.corp.example box
127.0.1.6	web.corp.example web
127.0.1.7	a.corp.example.org
127.0.1.8	other.example
127.0.1.9	corp.example
EOF
)
nofqdn_calls='gni 127.0.1.6 0 NI_NOFQDN
gni 127.0.1.6 0 0
gni 127.0.1.7 0 NI_NOFQDN
gni 127.0.1.8 0 NI_NOFQDN
gni 127.0.1.9 0 NI_NOFQDN
gni 127.0.10.1 0 NI_NOFQDN
gni 127.0.10.1 0 NI_NOFQDN|NI_NAMEREQD'
HOSTNAME_AS=box with_hosts "$h" compare "domain of the host name's entry" <<<"$nofqdn_calls"
HOSTNAME_AS=box.lab.example with_hosts "$h" compare "domain of the host name" <<<"$nofqdn_calls"
h=$(hosts_file fqdn2 <<'EOF'
127.0.0.1	localhost.corp.example localhost
127.0.1.6	web.corp.example web
EOF
)
HOSTNAME_AS=box with_hosts "$h" compare "domain of localhost's entry" <<<"$nofqdn_calls"
h=$(hosts_file fqdn3 <<'EOF'
127.0.0.1	lo.corp.example
::1	localhost
127.0.1.6	web.corp.example web
EOF
)
HOSTNAME_AS=box with_hosts "$h" compare "domain of 127.0.0.1's name" <<<"$nofqdn_calls"

echo "== several addresses for one name (records added to insecure.lab.example)"
zone=$LAB_DIR/zones/insecure.lab.example.zone.signed
{
    for a in 127.0.30.1 127.0.30.2 127.0.30.3 127.0.30.4; do
        echo "multi.insecure.lab.example. 300 IN A $a"
    done
    echo "multi.insecure.lab.example. 300 IN AAAA fd00:1ab::31"
    echo "multi.insecure.lab.example. 300 IN AAAA fd00:1ab::32"
    echo "unreach.insecure.lab.example. 300 IN A 10.255.0.1"
    echo "unreach.insecure.lab.example. 300 IN A 127.0.30.5"
} >>"$zone"
kill -HUP "$(cat "$LAB_DIR/nsd/nsd.pid")"
for i in $(seq 100); do
    dig +short @127.0.1.1 unreach.insecure.lab.example A | grep -q 10.255 && break
    sleep 0.1
done
# The resolver rotates the order of an RRset: compare the sets; glibc's
# RFC 6724 sort puts an address without a route last.
compare "several addresses" <<'EOF'
sort:gai multi.insecure.lab.example 80 inet stream AI_CANONNAME
sort:gai multi.insecure.lab.example 80 inet6 stream 0
sort:gai multi.insecure.lab.example 80 unspec stream 0
sort:ghbn_r multi.insecure.lab.example 1024
sort:ghbn2_r multi.insecure.lab.example inet6 1024
sort:ghbn multi.insecure.lab.example
gai unreach.insecure.lab.example 80 inet stream 0
EOF

echo "== python3's socket module"
cat >"$LAB_DIR/parity.py" <<'PY'
import socket
def show(label, f, *a):
    try:
        print(label, repr(f(*a)))
    except OSError as e:
        print(label, type(e).__name__, e.args)
show("byaddr-nxdomain", socket.gethostbyaddr, "1.2.3.4")
show("byaddr-noptr", socket.gethostbyaddr, "127.0.10.99")
show("byaddr-v6", socket.gethostbyaddr, "::1")
show("byaddr-v4", socket.gethostbyaddr, "127.0.0.1")
show("byname-nx", socket.gethostbyname, "nosuch.lab.example")
show("byname-ex", socket.gethostbyname_ex, "localhost")
show("byname-ex-multi", socket.gethostbyname_ex, "multi.example")
show("byname-ex-refused", socket.gethostbyname_ex, "a b.example")
show("fqdn-localhost", socket.getfqdn, "localhost")
show("fqdn", socket.getfqdn)
show("nameinfo", socket.getnameinfo, ("127.0.30.1", 80), 0)
show("gai-refused", socket.getaddrinfo, "-ab.example", 80)
PY
h=$(hosts_file py <<'EOF'
127.0.0.1	localhost MyHost.Example
::1	localhost ip6-localhost ip6-loopback
127.0.30.1	Multi.Example multi.example first-alias
127.0.30.2	multi.example second-alias
127.0.1.5	pybox.corp.example pybox
EOF
)
pyrun() { run_driver python3 "$LAB_DIR/parity.py"; }
HOSTNAME_AS=pybox with_hosts "$h" pyrun >"$LAB_DIR/py.glibc" 2>&1
HOSTNAME_AS=pybox LD_PRELOAD=$S with_hosts "$h" pyrun >"$LAB_DIR/py.shim" 2>&1
if diff "$LAB_DIR/py.glibc" "$LAB_DIR/py.shim" >"$out"; then
    ok "python3: $(wc -l <"$LAB_DIR/py.glibc") results as with glibc"
else
    bad "python3 results differ (< glibc, > shim)"
    sed 's/^/    | /' "$out"
fi
grep -q "^byaddr-nxdomain herror (1, 'Unknown host')$" "$LAB_DIR/py.glibc" ||
    bad "python3 control: gethostbyaddr of an unknown address is not herror(1) under glibc"

echo "== hastls lookup: a bad configuration's error lines, as hastls config check prints them"
printf '[resolver]\nprivacy = bogus\nupstream = nope\n[policy]\nclient = x\n' >"$LAB_DIR/bad.conf"
"$HASTLS_BUILD/hastls" config check "$LAB_DIR/bad.conf" >/dev/null 2>"$LAB_DIR/bad.check"
"$HASTLS_BUILD/hastls" lookup --config "$LAB_DIR/bad.conf" secure.lab.example \
    >/dev/null 2>"$LAB_DIR/bad.lookup"
expect_status "hastls lookup: exit status 1" $? 1
expect_count "hastls config check names three errors" "$LAB_DIR/bad.check" '^hastls: .*bad\.conf:[0-9]+: ' 3
if diff "$LAB_DIR/bad.check" "$LAB_DIR/bad.lookup" >"$out"; then
    ok "hastls lookup prints the same lines"
else
    bad "hastls lookup's error lines differ (< config check, > lookup)"
    sed 's/^/    | /' "$out"
fi

finish
