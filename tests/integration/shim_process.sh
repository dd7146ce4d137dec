#!/usr/bin/env bash
# shim_process: the shim inside real process life:
#  - dozens of python3 threads resolving and connecting at once;
#  - fork(): children inherit what the parent resolved (and enforce it), and
#    resolve on their own (a new resolver in the child);
#  - non-blocking connect (python3 asyncio) keeps its semantics;
#  - getaddrinfo_a (served synchronously; gai_error/gai_suspend/notification);
#  - stacking with a second preloaded library, in both orders;
#  - a program that never resolves never loads the resolver, libunbound or
#    OpenSSL (its /proc/self/maps);
#  - an invalid configuration stops the program before main() (status 1);
#  - a missing resolver object fails lookups (EAI_AGAIN, a reason) without
#    falling back to libc's cleartext resolver (agent = off: an agent
#    would answer).
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
out=$LAB_DIR/out

echo "== threads"
cat >"$LAB_DIR/threads.py" <<'PY'
import socket, threading, errno
targets = [("secure.lab.example", 443, "ok"), ("secure.lab.example", 80, "EACCES"),
           ("both.lab.example", 80, "ok"), ("clear.lab.example", 443, "EACCES"),
           ("mail.lab.example", 993, "ok"), ("mail.lab.example", 143, "EACCES"),
           ("v6.lab.example", 443, "ok"), ("dual.lab.example", 80, "EACCES")]
bad = []
def work(i):
    for k in range(4):
        host, port, want = targets[(i + k) % len(targets)]
        fam, st, pr, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        s = socket.socket(fam, st, pr)
        s.settimeout(5)
        try:
            s.connect(addr)
            got = "ok"
        except OSError as e:
            got = errno.errorcode.get(e.errno, str(e.errno))
            if got == "ECONNREFUSED":
                got = "ok"
        s.close()
        if got != want:
            bad.append("%s:%d %s (wanted %s)" % (host, port, got, want))
ts = [threading.Thread(target=work, args=(i,)) for i in range(48)]
for t in ts: t.start()
for t in ts: t.join()
print("threads done, %d wrong" % len(bad))
for b in bad[:10]: print(b)
PY
LD_PRELOAD=$S python3 "$LAB_DIR/threads.py" >"$out" 2>"$LAB_DIR/threads.err"
expect_line "48 threads x 4 lookups+connects all decided right" "$out" '^threads done, 0 wrong$'
expect_line "blocked lines written" "$LAB_DIR/threads.err" '^hastls: blocked connect to '
expect_no_line "no interleaved lines" "$LAB_DIR/threads.err" '^hastls: .*hastls: '

echo "== fork"
cat >"$LAB_DIR/fork.py" <<'PY'
import os, socket, errno, sys
def attempt(host, port):
    fam, st, pr, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    s = socket.socket(fam, st, pr)
    try:
        s.connect(addr)
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()
print("parent", attempt("secure.lab.example", 80), flush=True)
kids = []
for task in ("inherit", "fresh", "literal"):
    pid = os.fork()
    if pid == 0:
        if task == "inherit":   # the parent's lookup governs the child
            s = socket.socket()
            try:
                s.connect(("127.0.10.1", 80)); r = "ok"
            except OSError as e:
                r = errno.errorcode.get(e.errno)
        elif task == "fresh":   # the child resolves on its own resolver
            r = attempt("clear.lab.example", 443) + "," + attempt("both.lab.example", 443)
        else:
            r = attempt("odd.lab.example", 8080)
        # One write per line: the children run at once on one output file.
        os.write(1, ("child %s %s\n" % (task, r)).encode())
        os._exit(0)
    kids.append(pid)
for k in kids:
    os.waitpid(k, 0)
print("parent again", attempt("mail.lab.example", 143), attempt("mail.lab.example", 993), flush=True)
PY
LD_PRELOAD=$S python3 "$LAB_DIR/fork.py" >"$out" 2>&1
expect_line "parent blocked" "$out" '^parent EACCES$'
expect_line "child inherits the address map" "$out" '^child inherit EACCES$'
expect_line "child resolves anew and enforces" "$out" '^child fresh EACCES,ok$'
expect_line "child allowed" "$out" '^child literal ok$'
expect_line "parent still resolves after fork" "$out" '^parent again EACCES ok$'

echo "== asyncio (non-blocking connect)"
cat >"$LAB_DIR/aio.py" <<'PY'
import asyncio, ssl
async def main():
    ctx = ssl.create_default_context(cafile=__import__("os").environ["LAB_CA"])
    r, w = await asyncio.open_connection("secure.lab.example", 443, ssl=ctx)
    w.write(b"GET / HTTP/1.0\r\nHost: secure.lab.example\r\n\r\n")
    body = await r.read()
    print("tls", body.decode().strip().splitlines()[-1])
    w.close()
    try:
        await asyncio.open_connection("secure.lab.example", 80)
        print("plain connected")
    except PermissionError as e:
        print("plain", type(e).__name__, e.errno)
asyncio.run(main())
PY
LD_PRELOAD=$S python3 "$LAB_DIR/aio.py" >"$out" 2>&1
expect_line "asyncio TLS connection" "$out" '^tls OK secure\.lab\.example 443$'
expect_line "asyncio blocked connect raises EACCES" "$out" '^plain PermissionError 13$'

echo "== getaddrinfo_a"
if cc -o "$LAB_DIR/gai_a" "$TOOLS/shim_gai_a.c" -lanl -pthread 2>"$out"; then
    LD_PRELOAD=$S "$LAB_DIR/gai_a" >"$out" 2>&1
    expect_line "GAI_WAIT returns 0" "$out" '^wait 0$'
    expect_line "first request" "$out" '^secure\.lab\.example rc=0 127\.0\.10\.1$'
    expect_line "bogus request: EAI_FAIL" "$out" "^www\.bogus\.lab\.example rc=$(python3 -c 'import socket; print(socket.EAI_FAIL)') -$"
    expect_line "GAI_NOWAIT" "$out" '^nowait 0$'
    # 0, or EAI_ALLDONE: libc has nothing of ours in its queue
    expect_line "gai_suspend does not wait" "$out" "^suspend (0|$(python3 -c 'import socket; print(getattr(socket, "EAI_ALLDONE", -103))'))$"
    expect_line "SIGEV_THREAD notification" "$out" '^notified$'
    expect_line "third request" "$out" '^both\.lab\.example rc=0 127\.0\.10\.2$'
else
    bad "cannot build shim_gai_a.c"
fi

echo "== stacking with another preloaded library"
if cc -shared -fPIC -o "$LAB_DIR/libshim_stack.so" "$TOOLS/shim_stack.c" -ldl 2>"$out"; then
    # The other library first: it sees every call and hands it to the shim.
    # The shim first: names never reach the next getaddrinfo (the shim
    # answers them), but its connect() goes on to the other library, not
    # straight to libc (dlsym RTLD_NEXT).
    for order in "$LAB_DIR/libshim_stack.so $S" "$S $LAB_DIR/libshim_stack.so"; do
        rm -f "$LAB_DIR/stack.log"
        SHIM_STACK_LOG=$LAB_DIR/stack.log LD_PRELOAD=$order curl -sS http://secure.lab.example/ \
            >"$out" 2>&1
        expect_line "[$order] still blocked" "$out" '^hastls: blocked connect to secure\.lab\.example'
        SHIM_STACK_LOG=$LAB_DIR/stack.log LD_PRELOAD=$order curl -sS --cacert "$LAB_CA" \
            https://secure.lab.example/ >"$out" 2>&1
        expect_line "[$order] allowed connection works" "$out" '^OK secure\.lab\.example 443'
        expect_line "[$order] the other library saw the allowed connect" "$LAB_DIR/stack.log" \
            '^stack connect (0 ok|-1 Operation now in progress)$'
        case $order in
        "$S "*) expect_no_line "[$order] the blocked connect never reached it" "$LAB_DIR/stack.log" \
            'Permission denied' ;;
        *) expect_line "[$order] the other library saw getaddrinfo" "$LAB_DIR/stack.log" '^stack getaddrinfo$'
           expect_line "[$order] and the shim's refusal" "$LAB_DIR/stack.log" '^stack connect -1 Permission denied$' ;;
        esac
    done
else
    bad "cannot build shim_stack.c"
fi

echo "== a program that never resolves pays nothing"
LD_PRELOAD=$S cat /proc/self/maps >"$out" 2>&1
expect_line "the shim is mapped" "$out" 'libhastls\.so'
expect_no_line "no resolver, libunbound or OpenSSL" "$out" 'libhastls-resolver|libunbound|libssl|libcrypto'
# Without the agent (tests/integration/agent.sh tests it), the process
# resolves by itself.
noagent=$(conf noagent agent=off)
HASTLS_CONF=$noagent LD_PRELOAD=$S python3 -c 'import socket; socket.getaddrinfo("secure.lab.example", 443); print(open("/proc/self/maps").read())' >"$out" 2>&1
expect_line "a resolving program loads the resolver" "$out" 'libhastls-resolver\.so'

echo "== invalid configuration: fail closed"
bad_conf=$(conf badconf client=cfx)
HASTLS_CONF=$bad_conf LD_PRELOAD=$S sh -c 'echo ran' >"$out" 2>&1
expect_status "status 1" $? 1
expect_no_line "the program never ran" "$out" '^ran$'
expect_line "FILE:LINE: message" "$out" "^hastls: $bad_conf:[0-9]+: .*cfx"

echo "== resolver object missing: no fallback to libc"
# (An installed copy in the default PKGLIBDIR would be found: then skip.)
if [ -e /usr/local/lib/hastls/libhastls-resolver.so ]; then
    echo "skip: /usr/local/lib/hastls/libhastls-resolver.so is installed"
    finish
fi
mkdir -p "$LAB_DIR/alone"
cp "$SO" "$LAB_DIR/alone/libhastls.so"
"$PKTCOUNT" --port 53 -o "$LAB_DIR/alone.pkts" -- env HASTLS_CONF="$noagent" \
    LD_PRELOAD="${PRE}$LAB_DIR/alone/libhastls.so" \
    python3 "$PROBE" both.lab.example:443 >"$out" 2>&1
expect_line "lookup fails with EAI_AGAIN" "$out" '^both\.lab\.example:443 - gai:EAI_AGAIN$'
expect_line "says why" "$out" '^hastls: cannot start the resolver'
n=$(cat "$LAB_DIR/alone.pkts")
[ "$n" -eq 0 ] && ok "no port-53 packet" || bad "$n port-53 packets"

finish
