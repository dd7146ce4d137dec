#!/usr/bin/env bash
# agent: the user's resolver agent (hastls agent) with real programs:
#  - the first shimmed lookup starts an agent; hastls agent status shows it;
#    its socket is 0600 in a 0700 directory; it holds nothing of the
#    program that started it (descriptors 0-2 on /dev/null, none other);
#  - programs served by it never load the in-process resolver;
#  - 200 fresh getent processes: every answer right, all served by the
#    agent, at most one TLS ClientHello to the upstream among them, counted
#    on the wire;
#  - a DNSSEC-bogus name fails (EAI_FAIL) through the agent, and a bogus
#    HASTLS record still blocks: the status travels with the answers;
#  - fork: parent and child each resolve through a connection of their own;
#  - another uid gets no answer (SO_PEERCRED) and resolves in-process, when
#    the lab's user namespace maps a second uid (else skipped, said so);
#  - agent = off, in [resolver] or [app:NAME], never starts or uses one;
#  - SIGKILL of the agent in a burst of lookups from 8 processes: every
#    lookup answers right and none hangs (each is bounded by a timeout a
#    little above timeout_ms), and a new agent serves afterwards;
#  - hastls agent stop stops it; agent_idle ends an agent without clients.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
H=$HASTLS_BUILD/hastls
HELLO=$TOOLS/hellocount
RUN=$XDG_RUNTIME_DIR/hastls
out=$LAB_DIR/out

# field NAME [CONF]: one line of hastls agent status (empty when no agent).
field() {
    HASTLS_CONF=${2:-$HASTLS_CONF} "$H" agent status 2>/dev/null | sed -n "s/^$1: //p"
}
# wait_agent [CONF]: until an agent answers status (about 5 s at most).
wait_agent() {
    local i
    for i in $(seq 100); do
        HASTLS_CONF=${1:-$HASTLS_CONF} "$H" agent status >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}
# wait_gone [CONF]: until no agent answers (about 10 s at most).
wait_gone() {
    local i
    for i in $(seq 200); do
        HASTLS_CONF=${1:-$HASTLS_CONF} "$H" agent status >/dev/null 2>&1 || return 0
        sleep 0.05
    done
    return 1
}
# alive PID: runs (a zombie waiting for a reaper that does not come, as
# without the lab's pid namespace, has exited).
alive() {
    [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
# resolve NAME: the first IPv4 address getent finds under the shim.
resolve() {
    LD_PRELOAD=$S getent ahostsv4 "$1" 2>>"$LAB_DIR/getent.err" | awk 'NR == 1 { print $1 }'
}

declare -A ADDR=([secure.lab.example]=127.0.10.1 [both.lab.example]=127.0.10.2
    [clear.lab.example]=127.0.10.3 [mail.lab.example]=127.0.10.4
    [odd.lab.example]=127.0.10.5 [norecord.lab.example]=127.0.10.6
    [dual.lab.example]=127.0.10.8 [www.insecure.lab.example]=127.0.10.10
    [xmpp.lab.example]=127.0.10.13)
NAMES=("${!ADDR[@]}")

cat >"$LAB_DIR/maps.py" <<'PY'
import socket, sys
try:
    r = socket.getaddrinfo(sys.argv[1], 443, socket.AF_INET, socket.SOCK_STREAM)
    print("addr", r[0][4][0])
except socket.gaierror as e:
    print("gai", {socket.EAI_FAIL: "EAI_FAIL", socket.EAI_AGAIN: "EAI_AGAIN",
                  socket.EAI_NONAME: "EAI_NONAME"}.get(e.errno, e.errno))
maps = open("/proc/self/maps").read()
print("in-process resolver" if "libhastls-resolver" in maps else "no resolver")
PY

echo "== the first lookup starts an agent"
[ -z "$(field pid)" ] && ok "no agent before" || bad "an agent runs already"
# In a command substitution: an agent that kept the pipe open would hang it.
got=$(LD_PRELOAD=$S getent ahostsv4 secure.lab.example | awk 'NR == 1 { print $1 }')
[ "$got" = 127.0.10.1 ] && ok "getent answered" || bad "getent answered '$got'"
if wait_agent; then ok "hastls agent status shows an agent"; else bad "no agent started"; fi
pid=$(field pid)
sock=$(field socket)
[ "$(stat -c %a "$RUN")" = 700 ] && ok "runtime directory 0700" || bad "$RUN is $(stat -c %a "$RUN")"
[ -S "$sock" ] && [ "$(stat -c %a "$sock")" = 600 ] && ok "socket 0600" ||
    bad "socket $sock: $(stat -c %a "$sock" 2>&1)"
[ "$(stat -c %u "$sock")" = "$(id -u)" ] && ok "socket owned by the user" || bad "socket owner"
[ "$(dirname "$sock")" = "$RUN" ] && ok "socket in the runtime directory" || bad "socket $sock"
[ "$(field config)" = "$HASTLS_CONF" ] && ok "agent uses the program's configuration" ||
    bad "agent config $(field config)"
std=$(readlink "/proc/$pid/fd/0" "/proc/$pid/fd/1" "/proc/$pid/fd/2" | sort -u)
[ "$std" = /dev/null ] && ok "agent's 0-2 on /dev/null" || bad "agent's 0-2: $std"
leaked=$(for f in /proc/"$pid"/fd/*; do readlink "$f"; done | grep -v -e '^socket:' -e '^pipe:' \
    -e '^anon_inode:' -e '^/dev/null$' -e "^$RUN\(/\|$\)" || true)
[ -z "$leaked" ] && ok "agent holds no file of the program" || bad "agent holds: $leaked"
[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] && ok "agent leads its own session" ||
    bad "agent session $(ps -o sid= -p "$pid")"

echo "== served by the agent, the program never loads the resolver"
before=$(field lookups)
LD_PRELOAD=$S python3 "$LAB_DIR/maps.py" mail.lab.example >"$out" 2>&1
expect_line "python3 resolved" "$out" '^addr 127\.0\.10\.4$'
expect_line "python3 did not load the resolver" "$out" '^no resolver$'
[ "$(field lookups)" -eq $((before + 1)) ] && ok "the agent answered it" ||
    bad "lookups $before -> $(field lookups)"

echo "== 200 fresh processes: one agent, its TLS connection"
before=$(field lookups)
SHIM=$S NAMES=${NAMES[*]} "$HELLO" -o "$LAB_DIR/hello200" -- bash -c '
    read -ra names <<<"$NAMES"
    for i in $(seq 0 199); do
        n=${names[i % ${#names[@]}]}
        echo "$n $(LD_PRELOAD=$SHIM getent ahostsv4 "$n" | awk "NR == 1 { print \$1 }")"
    done' >"$LAB_DIR/twohundred" 2>"$LAB_DIR/twohundred.err"
wrong=0
while read -r n a; do
    [ "$a" = "${ADDR[$n]}" ] || { wrong=$((wrong + 1)); echo "    | $n -> '$a'"; }
done <"$LAB_DIR/twohundred"
[ "$(wc -l <"$LAB_DIR/twohundred")" -eq 200 ] && [ "$wrong" -eq 0 ] && ok "200 answers, all right" ||
    bad "$wrong of $(wc -l <"$LAB_DIR/twohundred") answers wrong"
[ "$(field lookups)" -eq $((before + 200)) ] && ok "all 200 served by the agent" ||
    bad "lookups $before -> $(field lookups)"
# The counter's control: a resolver of its own makes one handshake.
"$HELLO" -o "$LAB_DIR/hello1" -- "$H" lookup secure.lab.example >/dev/null 2>&1
[ "$(cat "$LAB_DIR/hello1")" -eq 1 ] && ok "control: hastls lookup sends one ClientHello" ||
    bad "control counted $(cat "$LAB_DIR/hello1")"
hellos=$(cat "$LAB_DIR/hello200")
[ "$hellos" -le 1 ] && ok "TLS ClientHellos to the upstream: $hellos" || bad "$hellos ClientHellos"
[ "$(field pid)" = "$pid" ] && ok "the same agent throughout" || bad "agent changed"

echo "== the DNSSEC status travels"
before=$(field lookups)
LD_PRELOAD=$S getent ahosts www.bogus.lab.example >"$out" 2>&1
expect_status "bogus name: getent fails" $? 2
expect_line "bogus name: why" "$out" '^hastls: lookup of www\.bogus\.lab\.example failed DNSSEC validation'
LD_PRELOAD=$S python3 "$LAB_DIR/maps.py" www.expired.lab.example >"$out" 2>&1
expect_line "expired signatures: EAI_FAIL" "$out" '^gai EAI_FAIL$'
expect_line "...through the agent" "$out" '^no resolver$'
LD_PRELOAD=$S python3 "$PROBE" badsig.lab.example:80 >"$out" 2>&1
expect_line "bogus HASTLS record: its connections blocked" "$out" '^badsig\.lab\.example:80 127\.0\.10\.9 EACCES$'
LD_PRELOAD=$S python3 "$PROBE" secure.lab.example:80 secure.lab.example:443 >"$out" 2>&1
expect_line "secure record: port 80 blocked" "$out" '^secure\.lab\.example:80 127\.0\.10\.1 EACCES$'
expect_line "secure record: port 443 allowed" "$out" '^secure\.lab\.example:443 127\.0\.10\.1 ok$'
[ "$(field lookups)" -ge $((before + 4)) ] && ok "the agent answered them" ||
    bad "lookups $before -> $(field lookups)"

echo "== fork: a connection of the child's own"
cat >"$LAB_DIR/fork.py" <<'PY'
import os, socket
def addr(n):
    return socket.getaddrinfo(n, 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
print("parent", addr("secure.lab.example"), flush=True)
pid = os.fork()
if pid == 0:
    print("child", addr("both.lab.example"), flush=True)
    maps = open("/proc/self/maps").read()
    print("child", "in-process resolver" if "libhastls-resolver" in maps else "no resolver", flush=True)
    os._exit(0)
os.waitpid(pid, 0)
print("parent again", addr("clear.lab.example"), flush=True)
PY
conns=$(field connections_total)
lookups=$(field lookups)
LD_PRELOAD=$S python3 "$LAB_DIR/fork.py" >"$out" 2>&1
expect_line "parent resolved" "$out" '^parent 127\.0\.10\.1$'
expect_line "child resolved" "$out" '^child 127\.0\.10\.2$'
expect_line "child through the agent" "$out" '^child no resolver$'
expect_line "parent resolves after the fork" "$out" '^parent again 127\.0\.10\.3$'
# Each status is a connection too: the one for lookups, the one here.
n=$(field connections_total)
[ "$n" -eq $((conns + 4)) ] && ok "two connections: parent and child" ||
    bad "connections $conns -> $n (2 of them status)"
[ "$(field lookups)" -eq $((lookups + 3)) ] && ok "three lookups through the agent" ||
    bad "lookups $lookups -> $(field lookups)"

echo "== another user"
other=4242
if awk -v u=$other '$1 <= u && u < $1 + $3 { found = 1 } END { exit !found }' /proc/self/uid_map &&
    command -v setpriv >/dev/null; then
    # An agent of uid 4242 in a runtime directory of its own, reached by
    # this user (root here, who may enter it): refused, counted, logged.
    orun=$LAB_DIR/run-$other
    mkdir -m 0700 "$orun" && chown $other:$other "$orun"
    chmod o+x "$LAB_DIR"
    XDG_RUNTIME_DIR=$orun setpriv --reuid $other --regid $other --clear-groups \
        "$H" agent --idle 60 && ok "uid $other's agent started" || bad "uid $other's agent"
    osock=$(ls "$orun"/hastls/*.sock 2>/dev/null | head -1)
    python3 - "$osock" >"$out" 2>&1 <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
body = bytes([1, 2, 0, 0, 0, 0, 0, 1, 0])  # STATUS, id 1
s.sendall(struct.pack("!I", len(body)) + body)
s.settimeout(5)
print("answer" if s.recv(4) else "closed")
PY
    expect_line "another user's request is not answered" "$out" '^closed$'
    st=$(XDG_RUNTIME_DIR=$orun setpriv --reuid $other --regid $other --clear-groups "$H" agent status)
    echo "$st" | grep -qx 'connections_refused: 1' && ok "counted as refused" || bad "status: $st"
    grep -q "refused a connection from uid $(id -u)" "$orun"/hastls/*.log && ok "logged" ||
        bad "no log line"
    # This user's program pointed at that directory: refused (not its own),
    # so it resolves by itself.
    XDG_RUNTIME_DIR=$orun LD_PRELOAD=$S python3 "$LAB_DIR/maps.py" both.lab.example >"$out" 2>&1
    expect_line "still resolves" "$out" '^addr 127\.0\.10\.2$'
    expect_line "in-process" "$out" '^in-process resolver$'
else
    echo "skip: the lab's user namespace maps only uid $(id -u) (uid_map: $(tr -s ' ' </proc/self/uid_map));" \
        "SO_PEERCRED refusal is covered by tests/unit/test_shim_agent.c (peer_credentials, as root)"
fi

echo "== agent = off"
off=$(conf off agent=off timeout_ms=2900)
socks_before=$(ls "$RUN"/*.sock | wc -l)
HASTLS_CONF=$off LD_PRELOAD=$S python3 "$LAB_DIR/maps.py" both.lab.example >"$out" 2>&1
expect_line "resolves" "$out" '^addr 127\.0\.10\.2$'
expect_line "in-process" "$out" '^in-process resolver$'
HASTLS_CONF=$off "$H" agent status >"$out" 2>&1
expect_status "no agent for it" $? 3
[ "$(ls "$RUN"/*.sock | wc -l)" -eq "$socks_before" ] && ok "no new socket" || bad "a socket appeared"
# Per program: off for getent only.
app=$(conf app timeout_ms=2800 -- "[app:getent]" "agent = off")
HASTLS_CONF=$app LD_PRELOAD=$S getent ahostsv4 both.lab.example >"$out" 2>&1
expect_line "getent resolves" "$out" '^127\.0\.10\.2 '
HASTLS_CONF=$app "$H" agent status >/dev/null 2>&1
expect_status "[app:getent] agent = off: none started" $? 3
HASTLS_CONF=$app LD_PRELOAD=$S python3 "$LAB_DIR/maps.py" both.lab.example >"$out" 2>&1
expect_line "python3 under the same file resolves" "$out" '^addr 127\.0\.10\.2$'
wait_agent "$app" && ok "...and starts an agent" || bad "python3 started no agent"

echo "== SIGKILL in a burst of lookups"
burst=$(conf burst timeout_ms=2000)
got=$(HASTLS_CONF=$burst resolve secure.lab.example)
wait_agent "$burst" || bad "no agent for the burst"
old=$(field pid "$burst")
start=$(field lookups "$burst")
for w in $(seq 8); do
    (
        for i in $(seq 0 14); do
            n=${NAMES[(i + w) % ${#NAMES[@]}]}
            # timeout_ms is 2000; a lookup that outlives 5 s hangs.
            a=$(HASTLS_CONF=$burst HASTLS_LOG=debug LD_PRELOAD=$S timeout 5 \
                getent ahostsv4 "$n" 2>>"$LAB_DIR/burst-err.$w")
            echo "$n $? $(echo "$a" | awk 'NR == 1 { print $1 }')"
        done >"$LAB_DIR/burst-out.$w"
    ) &
done
for i in $(seq 200); do
    [ "$(field lookups "$burst")" -ge $((start + 16)) ] && break
    sleep 0.02
done
# Stopped first, so that lookups are certainly waiting on it when it dies.
kill -STOP "$old"
sleep 0.3
kill -KILL "$old"
wait
cat "$LAB_DIR"/burst-out.* >"$LAB_DIR/burst"
wrong=$(awk -v list="$(for n in "${NAMES[@]}"; do echo "$n=${ADDR[$n]}"; done)" '
    BEGIN { n = split(list, l, "\n"); for (i = 1; i <= n; i++) { split(l[i], kv, "="); want[kv[1]] = kv[2] } }
    $2 != 0 || $3 != want[$1] { print }' "$LAB_DIR/burst")
[ "$(wc -l <"$LAB_DIR/burst")" -eq 120 ] && [ -z "$wrong" ] &&
    ok "120 lookups from 8 processes at a time, all answered right" ||
    bad "burst: $(wc -l <"$LAB_DIR/burst") lines, wrong: $wrong"
grep -q ' 124 ' "$LAB_DIR/burst" && bad "a lookup hung past its bound" || ok "none hung"
fell=$(cat "$LAB_DIR"/burst-err.* | grep -c 'agent failed for' || true)
[ "$fell" -ge 1 ] && ok "$fell lookups lost the agent mid-way and resolved in the process" ||
    bad "no lookup was under way when the agent died"
cat "$LAB_DIR"/burst-err.* | grep -v -e 'agent failed for' -e 'agent unreachable for' \
    -e 'started an agent' -e 'resolver started' -e 'upstream .*: ' -e ': [0-9]* A, ' \
    -e 'HASTLS lookup for' | sed 's/^/    burst stderr | /' | head -20
if wait_agent "$burst"; then
    new=$(field pid "$burst")
    [ "$new" != "$old" ] && ok "a new agent serves (pid $old -> $new)" || bad "same pid $new"
else
    bad "no agent after the kill"
fi
got=$(HASTLS_CONF=$burst resolve mail.lab.example)
[ "$got" = 127.0.10.4 ] && ok "lookups go on" || bad "after the kill: '$got'"

echo "== stop and idle exit"
"$H" agent stop >"$out" 2>&1
expect_status "hastls agent stop" $? 0
"$H" agent status >/dev/null 2>&1
expect_status "stopped" $? 3
[ -e "$sock" ] && bad "socket left behind" || ok "socket removed"
for i in $(seq 50); do
    alive "$pid" || break
    sleep 0.1
done
alive "$pid" && bad "pid $pid still runs" || ok "the process is gone"
"$H" agent stop >"$out" 2>&1
expect_status "stop without an agent" $? 0
idle=$(conf idle agent_idle=1 timeout_ms=2700)
got=$(HASTLS_CONF=$idle resolve both.lab.example)
[ "$got" = 127.0.10.2 ] && ok "resolved" || bad "resolved '$got'"
wait_agent "$idle" && ok "an agent with agent_idle = 1" || bad "no agent"
[ "$(field idle_exit_s "$idle")" = 1 ] && ok "idle_exit_s: 1" || bad "idle $(field idle_exit_s "$idle")"
ipid=$(field pid "$idle")
isock=$(field socket "$idle")
# Watched without connecting: a client would keep it busy.
for i in $(seq 100); do
    [ -S "$isock" ] || break
    sleep 0.1
done
[ -S "$isock" ] && bad "still listening after 10 s" || ok "it exited when idle"
for i in $(seq 50); do
    alive "$ipid" || break
    sleep 0.1
done
alive "$ipid" && bad "pid $ipid still runs" || ok "the process is gone"

grep -h 'hastls' "$LAB_DIR/getent.err" "$LAB_DIR/twohundred.err" 2>/dev/null | sed 's/^/    stderr | /'
finish
