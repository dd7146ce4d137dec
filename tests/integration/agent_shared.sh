#!/usr/bin/env bash
# agent_shared: the address memory a user's processes share through the
# agent (shim/core/sharedtab.h), with real programs.  Process 1 (getent)
# resolves through the agent; process 2 never resolves anything (python3 or
# bash connecting to the literal address, curl --resolve) and is governed
# all the same:
#  - a (0 443) host: port 80 refused with the blocked line naming the host,
#    443 allowed (bash /dev/tcp and curl --resolve too); a secure CNAME to
#    an insecure record is not enforced; a mail host's pairs;
#  - a name whose record is bogus: every port blocked;
#  - the table file: 0600 next to the agent's socket, removed when the agent
#    stops; a process still running maps the next agent's table;
#  - agent = off in process 2: not governed (it never reads the table);
#  - a table of the wrong mode, or with a corrupted header, is not trusted:
#    a warning, and process 2 is governed only by its own lookups again.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
H=$HASTLS_BUILD/hastls
RUN=$XDG_RUNTIME_DIR/hastls
out=$LAB_DIR/out

cat >"$LAB_DIR/conn.py" <<'PY'
# conn.py ADDR PORT...: connects to each port of the literal ADDR (no
# lookup), prints "PORT connected" or "PORT error ERRNO".
import socket, sys
for port in sys.argv[2:]:
    s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
    try:
        s.connect((sys.argv[1], int(port)))
        print(port, "connected")
    except OSError as e:
        print(port, "error", e.errno)
    s.close()
PY
# A long-lived process 2: connects when told (a line on stdin) and says so.
cat >"$LAB_DIR/connloop.py" <<'PY'
import socket, sys
for line in sys.stdin:
    addr, port = line.split()
    s = socket.socket()
    try:
        s.connect((addr, int(port)))
        print(addr, port, "connected", flush=True)
    except OSError as e:
        print(addr, port, "error", e.errno, flush=True)
    s.close()
PY

# errno_probe ADDR PORT: connects to the literal address with errno set to
# 4242 before; prints "rc R errno E".
cat >"$LAB_DIR/errno_probe.c" <<'C'
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
int main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &sa.sin_addr);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    errno = 4242;
    int rc = connect(s, (struct sockaddr *)&sa, sizeof sa);
    printf("rc %d errno %d\n", rc, errno);
    return 0;
}
C
cc -o "$LAB_DIR/errno_probe" "$LAB_DIR/errno_probe.c" || bad "cc errno_probe.c"

field() { "$H" agent status 2>/dev/null | sed -n "s/^$1: //p"; }
resolve() {
    LD_PRELOAD=$S getent ahostsv4 "$1" 2>>"$LAB_DIR/getent.err" | awk 'NR == 1 { print $1 }'
}
# p2 ADDR PORT... [env]: process 2 under the shim, its output in $out.
p2() { LD_PRELOAD=$S python3 "$LAB_DIR/conn.py" "$@" >"$out" 2>&1; }

echo "== before any lookup: nothing to decide from"
p2 127.0.10.1 80
expect_line "literal address, no agent: connected" "$out" '^80 connected$'
LD_PRELOAD=$S "$LAB_DIR/errno_probe" 127.0.10.1 443 >"$out" 2>&1
expect_line "...no table to map: errno kept by an allowed connect" "$out" '^rc 0 errno 4242$'

echo "== process 1 resolves through the agent"
[ "$(resolve secure.lab.example)" = 127.0.10.1 ] && ok "getent secure.lab.example" ||
    bad "getent secure.lab.example"
sock=$(field socket)
[ -n "$sock" ] && ok "an agent serves" || bad "no agent"
tab=${sock%.sock}.tab
[ -f "$tab" ] && [ ! -L "$tab" ] && ok "the table next to the socket: $(basename "$tab")" ||
    bad "no table $tab"
[ "$(stat -c %a:%u "$tab")" = "600:$(id -u)" ] && ok "table 0600, the user's" ||
    bad "table $(stat -c %a:%u "$tab")"
[ ! -e "$sock.new" ] && [ ! -e "${tab}.new" ] && ok "no temporary file left" ||
    bad "a temporary file is left"

echo "== process 2 never resolves: governed by what the agent shared"
p2 127.0.10.1 80 443
expect_line "python3 to 127.0.10.1:80: refused (EACCES)" "$out" '^80 error 13$'
expect_line "...with the blocked line naming the host" "$out" \
    '^hastls: blocked connect to secure\.lab\.example\[127\.0\.10\.1\]:80: record pair \(0 443\) .* \(client cfb\)$'
expect_line "python3 to 127.0.10.1:443: allowed" "$out" '^443 connected$'
LD_PRELOAD=$S "$LAB_DIR/errno_probe" 127.0.10.1 443 >"$out" 2>&1
expect_line "C program: allowed, mapping the table kept errno" "$out" '^rc 0 errno 4242$'
LD_PRELOAD=$S "$LAB_DIR/errno_probe" 127.0.10.1 80 >"$out" 2>&1
expect_line "C program: :80 refused with EACCES" "$out" '^rc -1 errno 13$'
LD_PRELOAD=$S bash -c 'exec 3<>/dev/tcp/127.0.10.1/80 && echo connected' >"$out" 2>&1
expect_line "bash /dev/tcp to :80: refused, naming the host" "$out" \
    '^hastls: blocked connect to secure\.lab\.example\[127\.0\.10\.1\]:80'
expect_no_line "...and not connected" "$out" '^connected$'
LD_PRELOAD=$S curl -sS --resolve secure.lab.example:80:127.0.10.1 \
    http://secure.lab.example/ >"$out" 2>&1
expect_line "curl --resolve to :80: refused" "$out" \
    '^hastls: blocked connect to secure\.lab\.example\[127\.0\.10\.1\]:80'
expect_no_line "...never reached the impostor" "$out" IMPOSTOR
LD_PRELOAD=$S curl -sS --cacert "$LAB_CA" --resolve secure.lab.example:443:127.0.10.1 \
    https://secure.lab.example/ >"$out" 2>&1
expect_line "curl --resolve https: the page" "$out" '^OK secure\.lab\.example 443$'
# The control: the same connection without the shim reaches the impostor.
curl -sS --resolve secure.lab.example:80:127.0.10.1 http://secure.lab.example/ >"$out" 2>&1
expect_line "control: without the shim, the impostor answers" "$out" '^IMPOSTOR'

echo "== the owner's record, as in the process"
[ "$(resolve s2u.lab.example)" = 127.0.10.10 ] && ok "getent s2u.lab.example" ||
    bad "getent s2u.lab.example"
p2 127.0.10.10 80
expect_line "CNAME to an insecure record: not enforced in process 2" "$out" '^80 connected$'
[ "$(resolve mail.lab.example)" = 127.0.10.4 ] && ok "getent mail.lab.example" ||
    bad "getent mail.lab.example"
p2 127.0.10.4 25 993 143
expect_line "(25 25 0 993 0 995): 25 allowed" "$out" '^25 connected$'
expect_line "...993 allowed" "$out" '^993 connected$'
expect_line "...143 refused" "$out" '^143 error 13$'

echo "== a bogus record blocks in process 2"
LD_PRELOAD=$S getent ahostsv4 badsig.lab.example >/dev/null 2>&1
p2 127.0.10.9 443 80
expect_line "badsig :443 refused" "$out" '^443 error 13$'
expect_line "...because the record is bogus" "$out" \
    '^hastls: blocked connect to badsig\.lab\.example\[127\.0\.10\.9\]:443: its HASTLS record is bogus \(it failed DNSSEC validation'

echo "== agent = off: process 2 is not governed by the table"
off=$(conf off agent=off)
HASTLS_CONF=$off p2 127.0.10.1 80
expect_line "agent = off: connected" "$out" '^80 connected$'
expect_no_line "...nothing logged" "$out" hastls
appoff=$(conf appoff -- '[app:python3]' 'agent = off')
HASTLS_CONF=$appoff p2 127.0.10.1 80
expect_line "[app:python3] agent = off: connected" "$out" '^80 connected$'

echo "== a running process 2 maps the next agent's table"
coproc LOOP { LD_PRELOAD=$S python3 "$LAB_DIR/connloop.py" 2>&1; }
echo "127.0.10.1 80" >&"${LOOP[1]}"
read -r -t 10 line <&"${LOOP[0]}"
[ "$line" = "hastls: blocked connect to secure.lab.example[127.0.10.1]:80: record pair (0 443) serves 80 only over TLS on 443, never in cleartext (client cfb)" ] ||
    read -r -t 10 line <&"${LOOP[0]}"
read -r -t 10 line <&"${LOOP[0]}"
[ "$line" = "127.0.10.1 80 error 13" ] && ok "loop: refused from the first table" ||
    bad "loop said '$line'"
"$H" agent stop >/dev/null 2>&1
[ ! -e "$tab" ] && ok "the agent stopped: its table removed" || bad "$tab still there"
[ "$(resolve dual.lab.example)" = 127.0.10.8 ] && ok "a new agent: getent dual.lab.example" ||
    bad "getent dual.lab.example"
[ -f "$tab" ] && ok "the new agent's table" || bad "no new table"
got=""
for i in $(seq 30); do
    echo "127.0.10.8 80" >&"${LOOP[1]}"
    while read -r -t 10 line <&"${LOOP[0]}"; do
        case $line in 127.0.10.8*) break ;; esac
    done
    got=$line
    [ "$got" = "127.0.10.8 80 error 13" ] && break
    sleep 0.2
done
[ "$got" = "127.0.10.8 80 error 13" ] && ok "loop: refused from the new table (try $i)" ||
    bad "loop said '$got'"
exec {LOOP[1]}>&-
wait "$LOOP_PID" 2>/dev/null

echo "== a table that cannot be trusted is not used"
chmod 0644 "$tab"
p2 127.0.10.8 80
expect_line "mode 0644: connected (not governed)" "$out" '^80 connected$'
expect_line "...with a warning" "$out" \
    "^hastls: shared address table $RUN/$(basename "$tab"): its mode is not 0600: not trusted, not used"
chmod 0600 "$tab"
p2 127.0.10.8 80
expect_line "mode 0600 again: refused" "$out" '^80 error 13$'
printf 'corrupt!' | dd of="$tab" bs=1 seek=0 conv=notrunc status=none
p2 127.0.10.8 80
expect_line "corrupted header: connected (not governed)" "$out" '^80 connected$'
expect_line "...with a warning" "$out" \
    'its header does not describe a table of its size: not trusted, not used'
# A process's own lookups still govern it.
LD_PRELOAD=$S python3 -c '
import socket
a = socket.getaddrinfo("dual.lab.example", 80, socket.AF_INET)[0][4]
s = socket.socket()
try:
    s.connect(a); print("connected")
except OSError as e:
    print("error", e.errno)' >"$out" 2>&1
expect_line "...its own lookup still governs it" "$out" '^error 13$'
"$H" agent stop >/dev/null 2>&1

echo "== the owner's record when the chain is insecure"
# Started by hand to log what it shares (the level is not part of its name).
HASTLS_LOG=debug "$H" agent && ok "hastls agent started" || bad "hastls agent failed"
# A CNAME whose chain is insecure to a secure target: the target's own
# record (0 443) governs, which the agent asks for itself.  (The process then
# asks the target too, so the table holds both names for the address.)
[ "$(resolve u2s.insecure.lab.example)" = 127.0.10.1 ] && ok "getent u2s.insecure.lab.example" ||
    bad "getent u2s.insecure.lab.example"
p2 127.0.10.1 80
expect_line "u2s -> secure: refused in process 2 by the target's record" "$out" \
    '^hastls: blocked connect to (u2s\.insecure|secure)\.lab\.example\[127\.0\.10\.1\]:80: record pair \(0 443\)'
sock=$(field socket)
expect_line "...the agent shared it with the target's record" "${sock%.sock}.log" \
    'shared u2s\.insecure\.lab\.example \(1 A, 0 AAAA\): record of secure\.lab\.example secure$'
"$H" agent stop >/dev/null 2>&1

finish
