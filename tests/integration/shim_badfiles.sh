#!/usr/bin/env bash
# shim_badfiles: configuration files that are not what they should be stop a
# real program (/bin/true, python3) before main(), at once, with status 1 and
# "hastls: FILE:LINE: what is wrong" on stderr; never a hang, never a program
# that runs and then fails every lookup:
#  - HASTLS_CONF naming a FIFO (no writer: open() must not wait), a directory,
#    /dev/zero, a world-writable file;
#  - a configuration whose trust_anchor is a directory (libunbound's reader
#    would spin on it), whose ca_bundle is missing, or whose upstream is an
#    unbracketed IPv6 address;
#  - the same through the CLI verbs that load a configuration;
#  - the system file /etc/hastls/hastls.conf: a symbolic link is refused, a
#    regular file is used, and with no file the built-in defaults' trust
#    anchor must exist (in a private mount namespace, over a copy of /etc).
# Every program runs under `timeout 5` (timeout itself outside the shim, which
# is given to the program by env); status 124 is a hang and fails.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
H=$HASTLS_BUILD/hastls
d=$LAB_DIR/badfiles
mkdir -p "$d"
refusing="hastls: invalid configuration: refusing to run unprotected"

# under_shim DESCRIPTION WANT-STDERR CONF CMD...: CMD under the shim with
# HASTLS_CONF=CONF exits 1 without running, and its stderr is WANT-STDERR
# (the loader's lines) followed by the refusal line.
under_shim() {
    local what=$1 want=$2 conf=$3 st
    shift 3
    timeout 5 env HASTLS_CONF="$conf" LD_PRELOAD="$S" "$@" >"$d/out" 2>"$d/err"
    st=$?
    if [ "$st" -eq 124 ]; then
        bad "$what: $* hung (killed after 5 s)"
        return
    fi
    expect_status "$what: $1 exits 1" "$st" 1
    expect_no_line "$what: $1 never ran" "$d/out" '^ran$'
    if [ "$(cat "$d/err")" == "$want"$'\n'"$refusing" ]; then
        ok "$what: $1 says why"
    else
        bad "$what: $1's stderr, wanted:"
        printf '%s\n%s\n' "$want" "$refusing" | sed 's/^/    | /'
        echo "  got:"
        sed 's/^/    | /' "$d/err"
    fi
}

# both DESCRIPTION WANT-STDERR CONF: under_shim with /bin/true and python3.
both() {
    under_shim "$1" "$2" "$3" /bin/true
    under_shim "$1" "$2" "$3" python3 -c 'print("ran")'
}

# cli DESCRIPTION WANT-STATUS WANT-STDERR-LINE CMD...: a CLI verb that loads
# the configuration fails with WANT-STATUS and prints WANT-STDERR-LINE.
cli() {
    local what=$1 want_st=$2 line=$3 st
    shift 3
    timeout 5 "$@" >"$d/out" 2>"$d/err"
    st=$?
    if [ "$st" -eq 124 ]; then
        bad "$what: $* hung (killed after 5 s)"
        return
    fi
    expect_status "$what: status" "$st" "$want_st"
    if grep -Fqx -- "$line" "$d/err"; then ok "$what: says why"; else
        bad "$what: no stderr line [$line]"
        sed 's/^/    | /' "$d/err"
    fi
}

echo "== control: the lab's configuration runs the programs"
timeout 5 env LD_PRELOAD="$S" python3 -c 'print("ran")' >"$d/out" 2>&1
expect_status "python3 runs" $? 0
expect_line "python3 ran" "$d/out" '^ran$'

echo "== HASTLS_CONF: a FIFO without a writer"
mkfifo "$d/fifo.conf"
both "FIFO" "hastls: $d/fifo.conf:0: cannot read: a FIFO, not a regular file" "$d/fifo.conf"
# the FIFO is still there, unopened by any writer: nothing waited on it
[ -p "$d/fifo.conf" ] && ok "FIFO left as it was" || bad "FIFO gone"

echo "== HASTLS_CONF: a directory, /dev/zero"
mkdir "$d/dir.conf"
both "directory" "hastls: $d/dir.conf:0: cannot read: a directory, not a regular file" \
    "$d/dir.conf"
both "/dev/zero" "hastls: /dev/zero:0: cannot read: a character device, not a regular file" \
    /dev/zero

echo "== HASTLS_CONF: writable by everyone"
cp "$HASTLS_CONF" "$d/open.conf"
chmod 0666 "$d/open.conf"
both "world-writable" \
    "hastls: $d/open.conf:0: writable by everyone (mode 0666): remove that with chmod go-w" \
    "$d/open.conf"

echo "== HASTLS_CONF: a symbolic link to a good file is followed"
ln -s "$HASTLS_CONF" "$d/link.conf"
timeout 5 env HASTLS_CONF="$d/link.conf" LD_PRELOAD="$S" python3 -c 'print("ran")' >"$d/out" 2>&1
expect_status "through a link: python3 runs" $? 0
expect_line "through a link: python3 ran" "$d/out" '^ran$'

echo "== trust_anchor: a directory"
mkdir "$d/anchor.d"
ta_dir=$(conf badfiles-ta "trust_anchor=$d/anchor.d")
ta_line=$(grep -n '^trust_anchor' "$ta_dir" | cut -d: -f1)
both "trust_anchor a directory" \
    "hastls: $ta_dir:$ta_line: trust_anchor '$d/anchor.d': cannot read: a directory, not a regular file" \
    "$ta_dir"

echo "== ca_bundle: missing"
ca_gone=$(conf badfiles-ca "ca_bundle=$d/no-such-ca.pem")
ca_line=$(grep -n '^ca_bundle' "$ca_gone" | cut -d: -f1)
both "ca_bundle missing" \
    "hastls: $ca_gone:$ca_line: ca_bundle '$d/no-such-ca.pem': cannot read: No such file or directory" \
    "$ca_gone"

echo "== upstream: an IPv6 address without brackets"
v6=$(conf badfiles-v6 "upstream=fd00:1ab::53:853#dot.lab.example")
v6_line=$(grep -n '^upstream' "$v6" | cut -d: -f1)
both "unbracketed IPv6" \
    "hastls: $v6:$v6_line: bad upstream 'fd00:1ab::53:853#dot.lab.example': an IPv6 address must be written in brackets: [fd00:1ab::53:853]#dot.lab.example, or [fd00:1ab::53]@853#dot.lab.example if 853 is the port" \
    "$v6"
# the bracketed form works: a real lookup over DoT to the lab's IPv6 upstream
v6ok=$(conf badfiles-v6ok "upstream=[fd00:1ab::53]@853#dot.lab.example")
timeout 20 env HASTLS_CONF="$v6ok" LD_PRELOAD="$S" python3 -c \
    'import socket; print(socket.getaddrinfo("secure.lab.example", 443, socket.AF_INET)[0][4][0])' \
    >"$d/out" 2>&1
expect_status "bracketed IPv6 upstream: lookup" $? 0
expect_line "bracketed IPv6 upstream: the answer" "$d/out" '^127\.0\.10\.1$'

echo "== the CLI verbs that load a configuration"
# (The sanitizer run builds only the shim and the resolver: no CLI there.)
[ -x "$H" ] || echo "skip: no $H in this build"
[ -x "$H" ] && for f in "$d/fifo.conf" "$ta_dir" "$ca_gone"; do
    case $f in
    *fifo.conf) line="hastls: $f:0: cannot read: a FIFO, not a regular file" ;;
    "$ta_dir") line="hastls: $ta_dir:$ta_line: trust_anchor '$d/anchor.d': cannot read: a directory, not a regular file" ;;
    *) line="hastls: $ca_gone:$ca_line: ca_bundle '$d/no-such-ca.pem': cannot read: No such file or directory" ;;
    esac
    n=$(basename "$f")
    cli "config check $n" 1 "$line" "$H" config check "$f"
    cli "config check (HASTLS_CONF) $n" 1 "$line" env HASTLS_CONF="$f" "$H" config check
    cli "config show $n" 1 "$line" "$H" config show "$f"
    cli "check --config $n" 3 "$line" "$H" check --config "$f" secure.lab.example
    cli "lookup (HASTLS_CONF) $n" 1 "$line" env HASTLS_CONF="$f" "$H" lookup secure.lab.example
done

echo "== the system file, in a private mount namespace over a copy of /etc"
# /etc/hastls does not exist on the host and must not be created there: a
# copy of /etc (as the lab shows it) is mounted over /etc for one command.
sys() { # sys SETUP CMD...: runs CMD with /etc/hastls as SETUP made it
    local setup=$1
    shift
    rm -rf "${d:?}/etc"
    mkdir "$d/etc"
    cp -a /etc/. "$d/etc/" 2>/dev/null
    mkdir -p "$d/etc/hastls"
    eval "$setup"
    unshare -m sh -c 'mount --bind "$0" /etc && exec "$@"' "$d/etc" \
        env -u HASTLS_CONF "$@"
}
if ! unshare -m sh -c 'mount --bind "$0" "$0"' "$d" 2>/dev/null; then
    echo "skip: no nested mount namespace here"
else
    cp "$HASTLS_CONF" "$d/good.conf"
    sys 'ln -s "$d/good.conf" "$d/etc/hastls/hastls.conf"' \
        timeout 5 env LD_PRELOAD="$S" /bin/true >"$d/out" 2>"$d/err"
    st=$?
    expect_status "system file a symbolic link: refused" "$st" 1
    expect_line "system file a symbolic link: says why" "$d/err" \
        "^hastls: /etc/hastls/hastls.conf:0: cannot read: a symbolic link \(the system configuration must be a regular file in place\)$"
    sys 'ln -s "$d/nowhere.conf" "$d/etc/hastls/hastls.conf"' \
        timeout 5 env LD_PRELOAD="$S" /bin/true >"$d/out" 2>"$d/err"
    expect_status "system file a dangling link: refused, not the defaults" $? 1
    if [ -x "$H" ]; then
        sys 'ln -s "$d/good.conf" "$d/etc/hastls/hastls.conf"' \
            timeout 5 "$H" config check >"$d/out" 2>"$d/err"
        expect_status "system file a symbolic link: config check agrees" $? 1
    fi
    sys 'cp "$d/good.conf" "$d/etc/hastls/hastls.conf"' \
        timeout 5 env LD_PRELOAD="$S" python3 -c 'print("ran")' >"$d/out" 2>"$d/err"
    expect_status "system file regular: python3 runs" $? 0
    expect_line "system file regular: python3 ran" "$d/out" '^ran$'
    if [ -x "$H" ]; then
        sys 'cp "$d/good.conf" "$d/etc/hastls/hastls.conf"' \
            timeout 5 "$H" config check >"$d/out" 2>"$d/err"
        expect_status "system file regular: config check" $? 0
        expect_line "system file regular: config check names it" "$d/err" \
            '^hastls: checking /etc/hastls/hastls.conf$'
    fi

    # No file at all: the built-in defaults, whose trust anchor
    # (/usr/share/dns/root.key, dns-root-data) is hidden here.
    mkdir -p "$d/empty"
    if [ -e /usr/share/dns ]; then
        unshare -m sh -c 'mount --bind "$0" /usr/share/dns && exec "$@"' "$d/empty" \
            env -u HASTLS_CONF timeout 5 env LD_PRELOAD="$S" python3 -c 'print("ran")' \
            >"$d/out" 2>"$d/err"
        st=$?
        [ "$st" -eq 124 ] && bad "built-in defaults: python3 hung"
        expect_status "built-in defaults without their trust anchor: refused" "$st" 1
        expect_no_line "built-in defaults without their trust anchor: never ran" "$d/out" '^ran$'
        expect_line "built-in defaults without their trust anchor: says why" "$d/err" \
            "^hastls: trust_anchor '/usr/share/dns/root.key' \(built-in default\): cannot read: No such file or directory$"
    else
        echo "skip: no /usr/share/dns (dns-root-data) to hide"
    fi
fi

finish
