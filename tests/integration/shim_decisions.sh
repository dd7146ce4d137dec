#!/usr/bin/env bash
# shim_decisions: every class of the decision table (seed 000, section 4) for
# real connections under the shim, with clients cio, cfb and cso:
#  - python3 (getaddrinfo + connect) over the lab's hosts and ports: allowed
#    connections pass (they reach the service, or ECONNREFUSED where nothing
#    listens), refused ones fail with EACCES;
#  - bogus HASTLS blocks (bogus = block) and not with bogus = ignore; an
#    unsigned record is never enforced; bogus address answers fail the lookup;
#  - the exact "hastls: blocked connect to NAME[ADDR]:PORT: REASON (client C)"
#    line, once per refusal; the CFB cleartext info line; report mode;
#  - curl, wget and openssl s_client, and an [app:curl] override, including
#    [app:python3] matched through argv[0] (the binary is python3.11).
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"

# HOST PORT CIO CFB CSO   (A allow, B block, or the expected lookup error)
table='
secure.lab.example 443 A A A
secure.lab.example 80 B B B
secure.lab.example 8080 A A A
both.lab.example 80 A A B
both.lab.example 443 A A A
clear.lab.example 80 A A B
clear.lab.example 443 A B B
mail.lab.example 25 A A A
mail.lab.example 993 A A A
mail.lab.example 995 A A A
mail.lab.example 143 B B B
mail.lab.example 110 B B B
odd.lab.example 8080 A A B
odd.lab.example 8443 A A A
odd.lab.example 80 A A A
norecord.lab.example 80 A A A
norecord.lab.example 443 A A A
alias.lab.example 80 B B B
alias.lab.example 443 A A A
v6.lab.example 80 B B B
v6.lab.example 443 A A A
dual.lab.example 80 B B B
dual.lab.example 443 A A A
badsig.lab.example 80 B B B
badsig.lab.example 443 B B B
www.insecure.lab.example 80 A A A
www.insecure.lab.example 443 A A A
www.bogus.lab.example 443 gai:EAI_FAIL gai:EAI_FAIL gai:EAI_FAIL
www.expired.lab.example 443 gai:EAI_FAIL gai:EAI_FAIL gai:EAI_FAIL
hostsfile.lab.example 80 A A A
'
targets=$(echo "$table" | awk 'NF {print $1 ":" $2}')

# check CLIENT COLUMN OUTFILE [FAMILY-FLAG]
check_table() {
    local client=$1 col=$2 out=$3
    while read -r host port cio cfb cso; do
        [ -n "$host" ] || continue
        local want
        case $col in 3) want=$cio ;; 4) want=$cfb ;; 5) want=$cso ;; esac
        local got
        got=$(awk -v t="$host:$port" '$1 == t {print $3}' "$out")
        case $want in
        A) [ "$got" = ok ] || [ "$got" = refused ] ;;
        B) [ "$got" = EACCES ] ;;
        *) [ "$got" = "$want" ] ;;
        esac && ok "$client $host:$port -> $got" || bad "$client $host:$port -> '$got', wanted $want"
    done <<<"$table"
}

col=3
for client in cio cfb cso; do
    c=$(conf "$client" client=$client)
    HASTLS_CONF=$c LD_PRELOAD=$S python3 "$PROBE" $targets >"$LAB_DIR/$client.out" 2>"$LAB_DIR/$client.err"
    check_table "$client" $col "$LAB_DIR/$client.out"
    # One line per refusal, in the contract's format.
    nblock=$(grep -c ' EACCES$' "$LAB_DIR/$client.out")
    expect_count "$client: one blocked line per refusal" "$LAB_DIR/$client.err" \
        "^hastls: blocked connect to [a-z0-9.]+\[[0-9a-f.:]+\]:[0-9]+: .+ \(client $client\)$" "$nblock"
    col=$((col + 1))
done

echo "== both address families of dual.lab.example"
HASTLS_CONF=$(conf cfb client=cfb) LD_PRELOAD=$S python3 "$PROBE" -4 dual.lab.example:80 \
    dual.lab.example:443 >"$LAB_DIR/dual4.out" 2>&1
HASTLS_CONF=$(conf cfb client=cfb) LD_PRELOAD=$S python3 "$PROBE" -6 dual.lab.example:80 \
    dual.lab.example:443 >"$LAB_DIR/dual6.out" 2>&1
expect_line "IPv4 80 blocked" "$LAB_DIR/dual4.out" '^dual.lab.example:80 127\.0\.10\.8 EACCES$'
expect_line "IPv4 443 allowed" "$LAB_DIR/dual4.out" '^dual.lab.example:443 127\.0\.10\.8 ok$'
expect_line "IPv6 80 blocked" "$LAB_DIR/dual6.out" '^dual.lab.example:80 fd00:1ab::8 EACCES$'
expect_line "IPv6 443 allowed" "$LAB_DIR/dual6.out" '^dual.lab.example:443 fd00:1ab::8 ok$'
expect_line "IPv6 line" "$LAB_DIR/dual6.out" \
    '^hastls: blocked connect to dual\.lab\.example\[fd00:1ab::8\]:80: .+ \(client cfb\)$'

echo "== the exact line, errno and UDP"
HASTLS_CONF=$(conf cfb client=cfb) LD_PRELOAD=$S python3 "$PROBE" secure.lab.example:80 \
    >"$LAB_DIR/one.out" 2>"$LAB_DIR/one.err"
expect_line "EACCES" "$LAB_DIR/one.out" '^secure.lab.example:80 127\.0\.10\.1 EACCES$'
expect_count "exactly one stderr line" "$LAB_DIR/one.err" '.' 1
expect_line "the contract's line" "$LAB_DIR/one.err" \
    '^hastls: blocked connect to secure\.lab\.example\[127\.0\.10\.1\]:80: .*(443|TLS).* \(client cfb\)$'
HASTLS_CONF=$(conf cfb client=cfb) LD_PRELOAD=$S python3 "$PROBE" --udp secure.lab.example:80 \
    >"$LAB_DIR/udp.out" 2>&1
expect_line "UDP connect governed" "$LAB_DIR/udp.out" '^secure.lab.example:80 127\.0\.10\.1 EACCES$'
HASTLS_CONF=$(conf cfb client=cfb) LD_PRELOAD=$S python3 "$PROBE" --send secure.lab.example:80 \
    secure.lab.example:443 >"$LAB_DIR/sendto.out" 2>&1
expect_line "UDP sendto governed" "$LAB_DIR/sendto.out" '^secure.lab.example:80 127\.0\.10\.1 EACCES$'
expect_line "UDP sendto allowed" "$LAB_DIR/sendto.out" '^secure.lab.example:443 127\.0\.10\.1 ok$'
expect_line "sendto line" "$LAB_DIR/sendto.out" \
    '^hastls: blocked send to secure\.lab\.example\[127\.0\.10\.1\]:80: .+ \(client cfb\)$'
# A literal address never looked up is not governed (reaches the impostor);
# with agent = off nothing another process resolved is shared (the shared
# address memory: agent_shared.sh).
HASTLS_CONF=$(conf cfb client=cfb agent=off) LD_PRELOAD=$S python3 "$PROBE" 127.0.10.1:80 >"$LAB_DIR/lit.out" 2>&1
expect_line "literal address allowed" "$LAB_DIR/lit.out" '^127.0.10.1:80 127\.0\.10\.1 ok$'

echo "== log level: error keeps refusals, drops warnings"
HASTLS_LOG=error LD_PRELOAD=$S python3 "$PROBE" www.bogus.lab.example:443 secure.lab.example:80 \
    >"$LAB_DIR/lvl.out" 2>&1
expect_line "blocked line at log=error" "$LAB_DIR/lvl.out" '^hastls: blocked connect to secure\.lab\.example'
expect_no_line "no warning at log=error" "$LAB_DIR/lvl.out" '^hastls: lookup of www\.bogus'
expect_line "lookup still failed" "$LAB_DIR/lvl.out" '^www\.bogus\.lab\.example:443 - gai:EAI_FAIL$'

echo "== bogus = ignore"
HASTLS_CONF=$(conf ign bogus=ignore) LD_PRELOAD=$S python3 "$PROBE" badsig.lab.example:443 \
    >"$LAB_DIR/ign.out" 2>&1
expect_line "bogus record ignored" "$LAB_DIR/ign.out" '^badsig.lab.example:443 127\.0\.10\.9 ok$'

echo "== report mode"
HASTLS_CONF=$(conf rep mode=report) LD_PRELOAD=$S curl -sS http://secure.lab.example/ \
    >"$LAB_DIR/rep.out" 2>"$LAB_DIR/rep.err"
expect_status "curl proceeds" $? 0
expect_line "reaches the impostor" "$LAB_DIR/rep.out" 'IMPOSTOR'
expect_line "would-block line" "$LAB_DIR/rep.err" \
    '^hastls: would block connect to secure\.lab\.example\[127\.0\.10\.1\]:80: .+ \(client cfb\)$'
expect_no_line "nothing blocked" "$LAB_DIR/rep.err" '^hastls: blocked'

echo "== curl"
LD_PRELOAD=$S curl -sS http://secure.lab.example/ >"$LAB_DIR/c1.out" 2>"$LAB_DIR/c1.err"
expect_status "curl http://secure fails" $? 7
expect_line "curl: blocked line" "$LAB_DIR/c1.err" \
    '^hastls: blocked connect to secure\.lab\.example\[127\.0\.10\.1\]:80: .+ \(client cfb\)$'
expect_no_line "curl never reached the impostor" "$LAB_DIR/c1.out" IMPOSTOR
LD_PRELOAD=$S curl -sS --cacert "$LAB_CA" https://secure.lab.example/ >"$LAB_DIR/c2.out" 2>&1
expect_line "curl https://secure" "$LAB_DIR/c2.out" '^OK secure.lab.example 443'
HASTLS_LOG=info LD_PRELOAD=$S curl -sS http://both.lab.example/ >"$LAB_DIR/c3.out" 2>"$LAB_DIR/c3.err"
expect_line "curl http://both (cfb)" "$LAB_DIR/c3.out" '^OK both.lab.example 80'
expect_line "cfb cleartext info line" "$LAB_DIR/c3.err" \
    '^hastls: cleartext connect to both\.lab\.example\[127\.0\.10\.2\]:80 allowed: .+ \(client cfb\)$'
LD_PRELOAD=$S curl -sS http://odd.lab.example:8080/ >"$LAB_DIR/c4.out" 2>&1
expect_line "curl odd:8080" "$LAB_DIR/c4.out" '^OK odd.lab.example 8080'
LD_PRELOAD=$S curl -sS http://alias.lab.example/ >"$LAB_DIR/c5.out" 2>&1
expect_line "curl alias (CNAME to secure) blocked under its own name" "$LAB_DIR/c5.out" \
    '^hastls: blocked connect to alias\.lab\.example\[127\.0\.10\.1\]:80'
LD_PRELOAD=$S curl -sS -g "http://v6.lab.example/" >"$LAB_DIR/c6.out" 2>&1
expect_line "curl v6 http blocked" "$LAB_DIR/c6.out" \
    '^hastls: blocked connect to v6\.lab\.example\[fd00:1ab::7\]:80'
LD_PRELOAD=$S curl -sS --cacert "$LAB_CA" https://v6.lab.example/ >"$LAB_DIR/c7.out" 2>&1
expect_line "curl v6 https" "$LAB_DIR/c7.out" '^OK v6.lab.example 443'

echo "== [app:curl] and [app:python3] overrides"
c=$(conf app -- '[app:curl]' 'client = cso')
HASTLS_CONF=$c LD_PRELOAD=$S curl -sS http://both.lab.example/ >"$LAB_DIR/a1.out" 2>&1
expect_line "curl is cso" "$LAB_DIR/a1.out" \
    '^hastls: blocked connect to both\.lab\.example\[127\.0\.10\.2\]:80: .+ \(client cso\)$'
HASTLS_CONF=$c LD_PRELOAD=$S python3 "$PROBE" both.lab.example:80 >"$LAB_DIR/a2.out" 2>&1
expect_line "python3 stays cfb" "$LAB_DIR/a2.out" '^both.lab.example:80 127\.0\.10\.2 ok$'
c=$(conf app2 -- '[app:python3]' 'client = cso')
HASTLS_CONF=$c LD_PRELOAD=$S python3 "$PROBE" both.lab.example:80 >"$LAB_DIR/a3.out" 2>&1
expect_line "[app:python3] matches python3 (argv[0])" "$LAB_DIR/a3.out" \
    '^both.lab.example:80 127\.0\.10\.2 EACCES$'

echo "== wget"
LD_PRELOAD=$S wget -q -O- http://both.lab.example/ >"$LAB_DIR/w1.out" 2>&1
expect_line "wget http://both" "$LAB_DIR/w1.out" '^OK both.lab.example 80'
LD_PRELOAD=$S wget --tries=1 -q -O- http://secure.lab.example/ >"$LAB_DIR/w2.out" 2>&1
expect_status "wget http://secure fails" $? 4
expect_line "wget: blocked line" "$LAB_DIR/w2.out" \
    '^hastls: blocked connect to secure\.lab\.example\[127\.0\.10\.1\]:80'
LD_PRELOAD=$S wget -q -O- --ca-certificate="$LAB_CA" https://secure.lab.example/ >"$LAB_DIR/w3.out" 2>&1
expect_line "wget https://secure" "$LAB_DIR/w3.out" '^OK secure.lab.example 443'

echo "== openssl s_client"
LD_PRELOAD=$S openssl s_client -connect secure.lab.example:443 -CAfile "$LAB_CA" \
    -verify_return_error -brief </dev/null >"$LAB_DIR/o1.out" 2>&1
expect_line "s_client secure:443 verifies" "$LAB_DIR/o1.out" 'Verification: OK'
LD_PRELOAD=$S openssl s_client -connect clear.lab.example:443 -CAfile "$LAB_CA" -brief \
    </dev/null >"$LAB_DIR/o2.out" 2>&1
expect_line "s_client clear:443 refused (no-tls, cfb)" "$LAB_DIR/o2.out" \
    '^hastls: blocked connect to clear\.lab\.example\[127\.0\.10\.3\]:443: .+ \(client cfb\)$'
LD_PRELOAD=$S openssl s_client -connect mail.lab.example:993 -CAfile "$LAB_CA" \
    -verify_return_error -brief </dev/null >"$LAB_DIR/o3.out" 2>&1
expect_line "s_client mail:993" "$LAB_DIR/o3.out" 'Verification: OK'

finish
