#!/usr/bin/env bash
# shim_calls: libc entry points scripting languages do not reach, from a small
# C program (tests/tools/shim_calls.c) under the shim: sendmsg and sendmmsg
# with destinations (a refused message stops the batch there), errno kept by
# successful calls, gethostbyname_r/gethostbyname2/gethostbyname (ERANGE,
# NO_DATA, numeric names), res_nquery with its own state, and an address
# obtained with res_query governed like one from getaddrinfo.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
out=$LAB_DIR/out
cc -o "$LAB_DIR/shim_calls" "$TOOLS/shim_calls.c" -lresolv 2>"$out" || {
    bad "cannot build shim_calls.c"
    cat "$out"
    finish
}
LD_PRELOAD=$S "$LAB_DIR/shim_calls" >"$out" 2>&1
expect_line "errno kept by a lookup" "$out" '^errno_after_lookup 4242$'
expect_line "errno kept by an allowed connect" "$out" '^connect_ok 0 errno 4242$'
expect_line "sendmsg refused" "$out" '^sendmsg_blocked -1 EACCES$'
expect_line "sendmsg refusal logged" "$out" \
    '^hastls: blocked send to secure\.lab\.example\[127\.0\.10\.1\]:80: .+ \(client cfb\)$'
expect_line "sendmsg allowed" "$out" '^sendmsg_allowed 1$'
expect_line "sendmmsg sends up to the refused message" "$out" '^sendmmsg_partial 2$'
expect_line "sendmmsg refused first message" "$out" '^sendmmsg_first_refused -1 EACCES$'
expect_line "gethostbyname_r ERANGE" "$out" '^gethostbyname_r_small ERANGE null$'
expect_line "gethostbyname_r" "$out" '^gethostbyname_r 0 mail\.lab\.example 127\.0\.10\.4$'
expect_line "gethostbyname_r not found" "$out" '^gethostbyname_r_nx 0 null herr=HOST_NOT_FOUND$'
expect_line "gethostbyname2 AF_INET6" "$out" '^gethostbyname2_v6 fd00:1ab::7$'
expect_line "gethostbyname of a v6-only name" "$out" '^gethostbyname_v6only null herr=NO_DATA$'
expect_line "gethostbyname numeric" "$out" '^gethostbyname_numeric 127\.0\.10\.1$'
expect_line "res_nquery validated" "$out" '^res_nquery ok ad=1$'
expect_line "res_nquery NXDOMAIN" "$out" '^res_nquery_nx -1 herr=HOST_NOT_FOUND$'
expect_line "an address from res_query is governed" "$out" '^res_query_then_connect -1 EACCES$'
finish
