#!/usr/bin/env bash
# resolver_threads: 50 lookups of different names from 8 threads at once share
# one TLS connection: exactly one handshake with the upstream, every answer
# correct (pipelined queries, answers matched out of order by our own IDs).
# Then 600 queries from 128 threads: all answered, still one handshake.
set -u
H=$HASTLS_BUILD/hastls
names=$LAB_DIR/names.txt
: >"$names"
hosts=(secure both clear mail odd norecord alias v6 dual xmpp)
for i in $(seq 1 40); do echo "n$i.lab.example" >>"$names"; done
for h in "${hosts[@]}"; do echo "$h.lab.example" >>"$names"; done
out=$LAB_DIR/threads.out
"$H" lookup --stats --threads 8 --names "$names" A HASTLS >"$out" 2>&1
st=$?
sed 's/^/    /' "$out"
fails=0
ok() { echo "ok   $1"; }
bad() {
    echo "FAIL $1"
    fails=$((fails + 1))
}
[ "$st" -eq 0 ] && ok "every answer secure (status 0)" || bad "status $st"
n=$(grep -c '^n[0-9]*\.lab\.example A: secure rcode=NXDOMAIN ' "$out")
[ "$n" -eq 40 ] && ok "40 nonexistent names securely denied" || bad "$n of 40 NXDOMAIN answers"
n=$(grep -Ec '^[a-z0-9]+\.lab\.example (A|HASTLS): ' "$out")
[ "$n" -eq 100 ] && ok "100 answers (50 names, 2 types)" || bad "$n answers of 100"
grep -A1 '^secure.lab.example A:' "$out" | grep -q '^  127\.0\.10\.1$' && ok "secure A" || bad "secure A"
grep -A1 '^mail.lab.example HASTLS:' "$out" | grep -q '^  (25 25 0 993 0 995)$' &&
    ok "mail HASTLS" || bad "mail HASTLS"
grep -A1 '^alias.lab.example A:' "$out" | grep -q '^  127\.0\.10\.1$' && ok "alias A" || bad "alias A"
grep -A1 '^odd.lab.example HASTLS:' "$out" | grep -q '^  (8080 8443)$' && ok "odd HASTLS" || bad "odd HASTLS"
# Fewer queries than answers go out: libunbound synthesises NXDOMAIN from
# cached NSEC records (RFC 8198), so only require many.
grep -Eq '^stats: tls_handshakes=1 tls_resumptions=0 queries_tls=[1-9][0-9]+ queries_cleartext=0$' "$out" &&
    ok "exactly one TLS handshake for all queries" || bad "handshakes: $(grep '^stats:' "$out")"
# Far more concurrent queries than libunbound's pool of TCP streams to the
# transport would take by default: 128 threads, 200 names, 3 types each.
names2=$LAB_DIR/names2.txt
seq 1 200 | sed 's/.*/load&.lab.example/' >"$names2"
out2=$LAB_DIR/threads2.out
"$H" lookup --stats --threads 128 --names "$names2" A AAAA HASTLS >"$out2" 2>&1
st=$?
grep -v '^load' "$out2" | sed 's/^/    /'
[ "$st" -eq 0 ] && ok "128 threads: status 0" || bad "128 threads: status $st"
n=$(grep -Ec '^load[0-9]+\.lab\.example (A|AAAA|HASTLS): secure rcode=NXDOMAIN ' "$out2")
[ "$n" -eq 600 ] && ok "128 threads: 600 secure answers" || bad "128 threads: $n secure answers of 600"
grep -q '^stats: tls_handshakes=1 ' "$out2" && ok "128 threads: one handshake" ||
    bad "128 threads: $(grep '^stats:' "$out2")"

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
