#!/usr/bin/env bash
# wrappers.sh: scripts/hastls-run, `hastls run` and scripts/hastls-shell with
# the real shim: arguments and exit statuses pass through untouched, the shim
# is first in LD_PRELOAD (and really loaded) with earlier entries kept, the
# options set HASTLS_CONF/HASTLS_APP/HASTLS_MODE, and programs the loader
# would not load the shim into (setuid, setgid, file capabilities, static) are
# refused with 126 instead of running unprotected.  hastls-run is `hastls run`
# under its own name; hastls-shell is sourced by bash, dash (and zsh).
#
# Runs inside the lab (scripts/lab run bash FILE), or directly:
#   HASTLS_BUILD=$PWD/build bash tests/integration/wrappers.sh
set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${HASTLS_BUILD:?HASTLS_BUILD must name the build directory}
shim=$(readlink -f "$build/libhastls.so")
[ -f "$shim" ] || { echo "no $build/libhastls.so: build first" >&2; exit 1; }
[ -x "$build/hastls" ] || { echo "no $build/hastls: build first" >&2; exit 1; }

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
. "$repo/tests/tools/checks.sh"

# The two runners under test, each finding the shim itself.  In a source tree
# the scripts take ../build next to them; the build directory under test may
# have another name, so they run from a copy of the tree's layout whose
# build/ is it.
tree=$t/tree
mkdir -p "$tree/scripts"
cp "$repo/scripts/hastls-run" "$repo/scripts/hastls-shell" "$tree/scripts/"
ln -s "$build" "$tree/build"
run_script() { env -u HASTLS_SHIM "$tree/scripts/hastls-run" "$@"; }
run_cli() { env -u HASTLS_SHIM "$build/hastls" run "$@"; }
# The runner's command without the env wrapper, for tests that set HASTLS_SHIM.
raw() { if [ "$1" = run_script ]; then echo "$tree/scripts/hastls-run"; else echo "$build/hastls run"; fi; }

# Two harmless objects to stand for other preloaded libraries.
for n in one two; do
    printf 'int hastls_test_%s(void) { return 1; }\n' "$n" >"$t/$n.c"
    cc -shared -fPIC -o "$t/lib$n.so" "$t/$n.c" || bad "build lib$n.so" "cc failed"
done
# A configuration for --config: the lab's own, when there is one.
if [ -n "${HASTLS_CONF:-}" ] && [ -f "$HASTLS_CONF" ]; then
    cp "$HASTLS_CONF" "$t/my.conf"
else
    printf '[policy]\nclient = cfb\n' >"$t/my.conf"
fi

for runner in run_script run_cli; do
    r=$runner

    # --- arguments, byte for byte ------------------------------------------
    args=("a b" '"double"' "'single'" "" "new
line" '*' '$HOME' 'back\slash' "  lead" "trail  " "-x" "--" "é")
    want=$(printf '<%s>\n' "${args[@]}"; echo end)
    got=$(cd "$t" && $r -- sh -c 'printf "<%s>\n" "$@"; echo end' sh "${args[@]}")
    expect_eq "$r: arguments pass unchanged" "$want" "$got"
    # Without "--", and CMD's own options are not taken for the runner's.
    got=$($r printf '%s|' --config -x "")
    expect_eq "$r: options after CMD belong to CMD" "--config|-x||" "$got"
    # argv[0] as given (execvp keeps the name, not the path found).
    got=$($r cat /proc/self/cmdline | tr '\0' '\n' | head -n 1)
    expect_eq "$r: argv[0] kept" "cat" "$got"

    # --- exit status -----------------------------------------------------------
    for st in 0 3 255; do
        $r sh -c "exit $st"
        expect_eq "$r: exit status $st" "$st" "$?"
    done
    # (In a subshell whose stderr is dropped: bash reports the signal there.)
    ($r sh -c 'kill -TERM $$') 2>/dev/null
    expect_eq "$r: death by SIGTERM" 143 "$?"
    ($r sh -c 'kill -KILL $$') 2>/dev/null
    expect_eq "$r: death by SIGKILL" 137 "$?"

    # --- LD_PRELOAD ---------------------------------------------------------
    got=$(unset LD_PRELOAD; $r sh -c 'echo "$LD_PRELOAD"')
    expect_eq "$r: LD_PRELOAD set when unset" "$shim" "$got"
    got=$(LD_PRELOAD="$t/libone.so $t/libtwo.so" $r sh -c 'echo "$LD_PRELOAD"')
    expect_eq "$r: shim prepended, space-separated entries kept" \
        "$shim:$t/libone.so:$t/libtwo.so" "$got"
    got=$(LD_PRELOAD="$t/libone.so:$t/libtwo.so" $r sh -c 'echo "$LD_PRELOAD"')
    expect_eq "$r: shim prepended, colon-separated entries kept" \
        "$shim:$t/libone.so:$t/libtwo.so" "$got"
    got=$(LD_PRELOAD="$t/libone.so:$shim" $r sh -c 'echo "$LD_PRELOAD"')
    expect_eq "$r: shim not repeated" "$shim:$t/libone.so" "$got"
    mkdir -p "$t/other"
    cp "$shim" "$t/other/libhastls.so"
    got=$(LD_PRELOAD="$t/other/libhastls.so $t/libone.so" $r sh -c 'echo "$LD_PRELOAD"')
    expect_eq "$r: another libhastls.so dropped" "$shim:$t/libone.so" "$got"
    # The loader really mapped the shim and the other objects into CMD.
    got=$(LD_PRELOAD="$t/libone.so" $r cat /proc/self/maps |
        grep -c -e "$shim" -e "$t/libone.so" | tr -d ' ')
    [ "${got:-0}" -ge 2 ] && ok "$r: shim and other object loaded in CMD" ||
        bad "$r: shim and other object loaded in CMD" "maps lines: $got"

    # --- options set the shim's environment ----------------------------------
    got=$(cd "$t" && unset HASTLS_APP HASTLS_MODE &&
        $r --config my.conf --app curl --report -- \
            sh -c 'echo "$HASTLS_CONF|$HASTLS_APP|$HASTLS_MODE"')
    expect_eq "$r: --config (absolute), --app, --report" "$t/my.conf|curl|report" "$got"
    got=$(HASTLS_MODE=report $r --enforce --app=/usr/bin/wget sh -c 'echo "$HASTLS_APP|$HASTLS_MODE"')
    expect_eq "$r: --app=PATH, --enforce overrides" "/usr/bin/wget|enforce" "$got"
    got=$(HASTLS_MODE=report HASTLS_APP=x $r sh -c 'echo "$HASTLS_APP|$HASTLS_MODE"')
    expect_eq "$r: variables pass on without options" "x|report" "$got"
    $r --config "$t/absent.conf" true 2>"$t/err"
    expect_eq "$r: missing --config file" 125 "$?"

    # --- finding CMD ---------------------------------------------------------
    mkdir -p "$t/bin"
    printf '#!/bin/sh\necho "found $*"\n' >"$t/bin/hastls-test-cmd"
    chmod +x "$t/bin/hastls-test-cmd"
    got=$(PATH="$t/bin:$PATH" $r hastls-test-cmd x y)
    expect_eq "$r: CMD found in PATH" "found x y" "$got"
    printf 'echo "plain $1"\n' >"$t/bin/hastls-test-plain"
    chmod +x "$t/bin/hastls-test-plain"
    got=$($r "$t/bin/hastls-test-plain" z)
    expect_eq "$r: file without #! runs with /bin/sh" "plain z" "$got"
    $r hastls-no-such-command-xyz 2>"$t/err"
    expect_eq "$r: CMD not found" 127 "$?"
    # Messages carry the name the runner was started as.
    if [ $r = run_script ]; then name=hastls-run; else name="hastls run"; fi
    expect_eq "$r: message names the runner" \
        "$name: hastls-no-such-command-xyz: command not found" "$(cat "$t/err")"
    printf '#!%s/no-such-interpreter\n' "$t" >"$t/bin/badinterp"
    chmod +x "$t/bin/badinterp"
    $r "$t/bin/badinterp" 2>"$t/err"
    st=$?
    if [ "$st" = 126 ] && grep -q "interpreter $t/no-such-interpreter not found" "$t/err"; then
        ok "$r: script with a missing interpreter"
    else
        bad "$r: script with a missing interpreter" "status $st, $(cat "$t/err")"
    fi
    printf 'echo no\n' >"$t/bin/noexec"
    $r "$t/bin/noexec" 2>"$t/err"
    expect_eq "$r: CMD not executable" 126 "$?"

    # --- usage ------------------------------------------------------------------
    $r --help >"$t/out"
    expect_eq "$r: --help exits 0" 0 "$?"
    grep -q "^usage: $name \[OPTIONS\]" "$t/out" && ok "$r: --help names the runner" ||
        bad "$r: --help names the runner" "$(head -n 1 "$t/out")"
    expect_eq "$r: --version" "$name $(sed -n 's/^VERSION *:*= *//p' "$repo/Makefile")" \
        "$($r --version)"
    expect_eq "$r: -V" "$($r --version)" "$($r -V)"
    grep -q -- '--allow-unprotected' "$t/out" && ok "$r: --help lists the options" ||
        bad "$r: --help lists the options" "$(head -n 3 "$t/out")"
    $r --no-such-option true 2>"$t/err"
    expect_eq "$r: unknown option" 125 "$?"
    $r 2>"$t/err"
    expect_eq "$r: no CMD" 125 "$?"
    # shellcheck disable=SC2046
    HASTLS_SHIM="$t/absent.so" $(raw $r) true 2>"$t/err"
    expect_eq "$r: HASTLS_SHIM names a missing file" 125 "$?"
    # shellcheck disable=SC2046
    got=$(unset LD_PRELOAD; HASTLS_SHIM="$t/other/libhastls.so" $(raw $r) sh -c 'echo "$LD_PRELOAD"')
    expect_eq "$r: HASTLS_SHIM chooses the shim" "$t/other/libhastls.so" "$got"

    # --- programs that would run unprotected ---------------------------------
    # A copy of touch(1): had it run, the file would exist.
    cp "$(command -v touch)" "$t/suid-touch"
    chmod u+s "$t/suid-touch"
    $r "$t/suid-touch" "$t/ran-suid" 2>"$t/err"
    st=$?
    if [ "$st" = 126 ] && [ ! -e "$t/ran-suid" ] && grep -q 'set-user-ID' "$t/err"; then
        ok "$r: setuid program refused"
    else
        bad "$r: setuid program refused" "status $st, $(cat "$t/err")"
    fi
    cp "$(command -v touch)" "$t/sgid-touch"
    chmod g+s "$t/sgid-touch"
    $r "$t/sgid-touch" "$t/ran-sgid" 2>"$t/err"
    st=$?
    if [ "$st" = 126 ] && [ ! -e "$t/ran-sgid" ] && grep -q 'set-group-ID' "$t/err"; then
        ok "$r: setgid program refused"
    else
        bad "$r: setgid program refused" "status $st, $(cat "$t/err")"
    fi
    # Set-group-ID without group execute is mandatory locking, not set-ID.
    cp "$(command -v touch)" "$t/lock-touch"
    chmod 2745 "$t/lock-touch"
    $r "$t/lock-touch" "$t/ran-lock" 2>"$t/err"
    st=$?
    [ "$st" = 0 ] && [ -e "$t/ran-lock" ] && ok "$r: mode 2745 is not set-group-ID" ||
        bad "$r: mode 2745 is not set-group-ID" "status $st, $(cat "$t/err")"
    $r --allow-unprotected "$t/suid-touch" "$t/ran-suid" 2>"$t/err"
    st=$?
    if [ "$st" = 0 ] && [ -e "$t/ran-suid" ] && grep -q 'UNPROTECTED' "$t/err"; then
        ok "$r: --allow-unprotected runs it with a warning"
    else
        bad "$r: --allow-unprotected runs it with a warning" "status $st, $(cat "$t/err")"
    fi
    rm -f "$t/ran-suid"
    # A script is judged by its interpreter: set-ID bits on it mean nothing.
    cp "$t/bin/hastls-test-cmd" "$t/suid-script"
    chmod u+s "$t/suid-script"
    got=$($r "$t/suid-script" s 2>"$t/err")
    expect_eq "$r: setuid bit on a script ignored, like the kernel does" "found s" "$got"

    cp "$(command -v touch)" "$t/cap-touch"
    if command -v setcap >/dev/null 2>&1 || [ -x /usr/sbin/setcap ] || [ -x /sbin/setcap ]; then
        setcap_bin=$(command -v setcap || echo /usr/sbin/setcap)
        if "$setcap_bin" cap_net_raw+ep "$t/cap-touch" 2>/dev/null; then
            $r "$t/cap-touch" "$t/ran-cap" 2>"$t/err"
            st=$?
            if [ "$st" = 126 ] && [ ! -e "$t/ran-cap" ] && grep -q 'capabilities' "$t/err"; then
                ok "$r: program with file capabilities refused"
            else
                bad "$r: program with file capabilities refused" "status $st, $(cat "$t/err")"
            fi
        else
            echo "note $r: setcap not permitted here; file capabilities not tested"
        fi
    else
        echo "note $r: no setcap (libcap2-bin); file capabilities not tested"
    fi

    printf 'int main(int c, char **v) { (void)v; return 40 + c; }\n' >"$t/static.c"
    if cc -static -o "$t/static" "$t/static.c" 2>/dev/null; then
        $r "$t/static" 2>"$t/err"
        st=$?
        if [ "$st" = 126 ] && grep -q 'statically linked' "$t/err"; then
            ok "$r: static program refused"
        else
            bad "$r: static program refused" "status $st, $(cat "$t/err")"
        fi
        $r --allow-unprotected "$t/static" a b 2>"$t/err"
        expect_eq "$r: static program with --allow-unprotected" 43 "$?"
        printf '#!%s\n' "$t/static" >"$t/static-script"
        chmod +x "$t/static-script"
        $r "$t/static-script" 2>"$t/err"
        expect_eq "$r: script whose interpreter is static refused" 126 "$?"
        if cc -static-pie -fPIE -o "$t/static-pie" "$t/static.c" 2>/dev/null; then
            $r "$t/static-pie" 2>"$t/err"
            expect_eq "$r: static PIE program refused" 126 "$?"
        fi
        # The same program linked dynamically runs.
        cc -o "$t/dynamic" "$t/static.c"
        $r "$t/dynamic" a
        expect_eq "$r: dynamic build of it runs" 42 "$?"
    else
        echo "note $r: no static libc; static programs not tested"
    fi
    # A 32-bit i386 header with a PT_INTERP program header: the loader of a
    # 64-bit system would skip the shim in it.  (Refused before exec, so the
    # file need not be a whole program.)
    {
        printf '\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00'
        printf '\x02\x00\x03\x00\x01\x00\x00\x00\x00\x00\x00\x00\x34\x00\x00\x00'
        printf '\x00\x00\x00\x00\x00\x00\x00\x00\x34\x00\x20\x00\x01\x00\x00\x00'
        printf '\x00\x00\x00\x00'
        printf '\x03\x00\x00\x00'
        printf '\x00%.0s' $(seq 28)
    } >"$t/elf32"
    chmod +x "$t/elf32"
    $r "$t/elf32" 2>"$t/err"
    st=$?
    if [ "$st" = 126 ] && grep -q 'another ELF class or machine' "$t/err"; then
        ok "$r: 32-bit program refused"
    else
        bad "$r: 32-bit program refused" "status $st, $(cat "$t/err")"
    fi
    # The same header without PT_INTERP reads as static.
    printf '\x01' | dd of="$t/elf32" bs=1 seek=52 conv=notrunc status=none
    $r "$t/elf32" 2>"$t/err"
    grep -q 'statically linked' "$t/err" && ok "$r: program headers read (32-bit)" ||
        bad "$r: program headers read (32-bit)" "$(cat "$t/err")"
done

# --- the options reach the shim (lab only) ----------------------------------------
# clear.lab.example has the record (80 0): port 443 is in class no-tls, which
# CFB (the lab's client) blocks and CIO allows.  bash's /dev/tcp resolves with
# getaddrinfo() and connects with connect(), both through the shim.
if [ -n "${LAB_DIR:-}" ] && [ -n "${HASTLS_CONF:-}" ]; then
    probe='exec 3<>/dev/tcp/clear.lab.example/443 && echo connected'
    { cat "$HASTLS_CONF"; printf '\n[app:hastls-tester]\nclient = cio\n'; } >"$t/app.conf"
    for runner in run_script run_cli; do
        r=$runner
        got=$($r bash -c "$probe" 2>"$t/err")
        st=$?
        if [ "$st" != 0 ] && [ -z "$got" ] &&
            grep -q '^hastls: blocked connect to clear.lab.example\[127.0.10.3\]:443: .*(client cfb)$' "$t/err"; then
            ok "$r: the shim blocks in CMD (enforce)"
        else
            bad "$r: the shim blocks in CMD (enforce)" "status $st, out [$got], $(cat "$t/err")"
        fi
        got=$($r --report bash -c "$probe" 2>"$t/err")
        if [ "$got" = connected ] && grep -q '^hastls: would block connect to clear.lab.example' "$t/err"; then
            ok "$r: --report lets it through and says so"
        else
            bad "$r: --report lets it through and says so" "out [$got], $(cat "$t/err")"
        fi
        got=$($r --config "$t/app.conf" --app hastls-tester bash -c "$probe" 2>"$t/err")
        if [ "$got" = connected ] && ! grep -q 'block' "$t/err"; then
            ok "$r: --config and --app select [app:hastls-tester] (cio)"
        else
            bad "$r: --config and --app select [app:hastls-tester] (cio)" "out [$got], $(cat "$t/err")"
        fi
        got=$($r --config "$t/app.conf" bash -c "$probe" 2>"$t/err")
        [ -z "$got" ] && grep -q 'blocked connect' "$t/err" &&
            ok "$r: without --app the section does not apply" ||
            bad "$r: without --app the section does not apply" "out [$got], $(cat "$t/err")"
        # A bad configuration stops CMD before it runs (fail closed).
        printf '[policy]\nclient = maybe\n' >"$t/bad.conf"
        got=$($r --config "$t/bad.conf" echo ran 2>"$t/err")
        st=$?
        if [ "$st" != 0 ] && [ -z "$got" ] &&
            grep -q "^hastls: $t/bad.conf:2: " "$t/err" &&
            grep -q 'refusing to run unprotected' "$t/err"; then
            ok "$r: invalid --config file: CMD does not run"
        else
            bad "$r: invalid --config file: CMD does not run" "status $st, out [$got], $(cat "$t/err")"
        fi
    done
else
    echo "note: not in the lab; the shim's reaction to the options is not tested"
fi

# --- hastls-run without the hastls program ------------------------------------
mkdir -p "$t/lonely/scripts"
cp "$repo/scripts/hastls-run" "$t/lonely/scripts/"
"$t/lonely/scripts/hastls-run" true 2>"$t/err"
st=$?
if [ "$st" = 125 ] && grep -q '^hastls-run: cannot find the hastls program' "$t/err"; then
    ok "hastls-run without hastls: 125 and why"
else
    bad "hastls-run without hastls: 125 and why" "status $st, $(cat "$t/err")"
fi
# hastls-run is a wrapper of `hastls run`, not a second implementation.
if grep -qE 'elf_|PT_INTERP|getcap|LD_PRELOAD=' "$repo/scripts/hastls-run"; then
    bad "hastls-run only finds and runs hastls" "$(grep -nE 'elf_|PT_INTERP|getcap|LD_PRELOAD=' "$repo/scripts/hastls-run")"
else
    ok "hastls-run only finds and runs hastls"
fi

# --- version -----------------------------------------------------------------
version=$(sed -n 's/^VERSION *:*= *//p' "$repo/Makefile")
expect_eq "hastls-run --version" "hastls-run $version" "$(run_script --version)"
expect_eq "hastls --version" "hastls $version" "$("$build/hastls" --version)"
"$build/hastls" --help | grep -q '^ *run ' && ok "hastls --help lists run" ||
    bad "hastls --help lists run" "$("$build/hastls" --help)"

# --- hastls-shell -------------------------------------------------------------
"$repo/scripts/hastls-shell" >"$t/out" 2>&1
st=$?
if [ "$st" = 2 ] && grep -q 'must be' "$t/out"; then
    ok "hastls-shell executed explains how to source it"
else
    bad "hastls-shell executed explains how to source it" "status $st: $(cat "$t/out")"
fi
got=$(LD_PRELOAD="$t/libone.so $t/libtwo.so" HASTLS_SHIM=$shim bash -c '
    . "$1" on >/dev/null || exit 9; echo "on=$LD_PRELOAD"
    . "$1" on >/dev/null; echo "again=$LD_PRELOAD"
    . "$1" show | head -n 1
    . "$1" off >/dev/null; echo "off=$LD_PRELOAD"
    . "$1" bogus 2>/dev/null; echo "bogus=$?"
    set | grep -c "^_hastls" ' sh "$repo/scripts/hastls-shell")
want="on=$shim:$t/libone.so:$t/libtwo.so
again=$shim:$t/libone.so:$t/libtwo.so
hastls: on ($shim)
off=$t/libone.so:$t/libtwo.so
bogus=2
0"
expect_eq "hastls-shell on/show/off in bash, others kept, nothing left behind" "$want" "$got"
got=$(HASTLS_SHIM=$shim env -u LD_PRELOAD bash -c '
    . "$1" on >/dev/null; sh -c "grep -c libhastls.so /proc/self/maps"
    . "$1" off >/dev/null; echo "${LD_PRELOAD-unset}"' sh "$repo/scripts/hastls-shell")
want="1
unset"
[ "$(echo "$got" | head -n 1)" -ge 1 ] 2>/dev/null && [ "$(echo "$got" | tail -n 1)" = unset ] &&
    ok "hastls-shell: programs started after on load the shim; off unsets" ||
    bad "hastls-shell: programs started after on load the shim; off unsets" "$got"
# dash passes no words to a sourced file (set -- on first) and does not say
# which file it reads: hastls-shell finds itself from the shell's open
# descriptors, named with a path, relative to another directory, found in
# PATH, and in a subshell; no HASTLS_SHIM.
if command -v dash >/dev/null 2>&1; then
    hs=$tree/scripts/hastls-shell
    got=$(env -u HASTLS_SHIM -u LD_PRELOAD dash -c '
        p=$1; set -- on; . "$p" >/dev/null; echo "path=$LD_PRELOAD"
        set -- off; . "$p" >/dev/null; echo "off=${LD_PRELOAD-unset}"' sh "$hs")
    expect_eq "hastls-shell in dash, sourced by path" "path=$shim
off=unset" "$got"
    got=$(cd "$tree" && env -u HASTLS_SHIM -u LD_PRELOAD dash -c '
        set -- on; . scripts/hastls-shell >/dev/null; echo "$LD_PRELOAD"')
    expect_eq "hastls-shell in dash, relative path" "$shim" "$got"
    got=$(cd "$t" && env -u HASTLS_SHIM -u LD_PRELOAD PATH="$tree/scripts:$PATH" dash -c '
        (set -- on; . hastls-shell >/dev/null; echo "sub=$LD_PRELOAD")
        set -- on; . hastls-shell >/dev/null; echo "path=$LD_PRELOAD"
        set | grep -c "^_hastls"')
    expect_eq "hastls-shell in dash, found in PATH, also in a subshell" "sub=$shim
path=$shim
0" "$got"
    got=$(HASTLS_SHIM="$t/other/libhastls.so" env -u LD_PRELOAD dash -c '
        p=$1; set -- on; . "$p" >/dev/null; echo "$LD_PRELOAD"' sh "$hs")
    expect_eq "hastls-shell in dash, HASTLS_SHIM" "$t/other/libhastls.so" "$got"
    if [ -n "${LAB_DIR:-}" ]; then
        # A program started after `on` resolves through the shim (its debug
        # line) and gets the lab's address.
        env -u HASTLS_SHIM -u LD_PRELOAD HASTLS_LOG=debug dash -c '
            p=$1; set -- on; . "$p" >/dev/null; getent ahosts secure.lab.example' sh "$hs" \
            >"$t/out" 2>"$t/err"
        if grep -q '^127\.0\.10\.1 ' "$t/out" &&
            grep -q '^hastls: secure\.lab\.example: 1 A, 0 AAAA (secure/secure), HASTLS' "$t/err"; then
            ok "hastls-shell in dash: a lookup goes through the shim"
        else
            bad "hastls-shell in dash: a lookup goes through the shim" \
                "out [$(cat "$t/out")], err [$(cat "$t/err")]"
        fi
    fi
else
    echo "note: no dash; hastls-shell under dash not tested"
fi

if command -v zsh >/dev/null 2>&1; then
    got=$(LD_PRELOAD="$t/libone.so" HASTLS_SHIM=$shim zsh -c '
        . "$1" on >/dev/null; echo "$LD_PRELOAD"; . "$1" off >/dev/null; echo "$LD_PRELOAD"
        set | grep -c "^_hastls"' sh "$repo/scripts/hastls-shell")
    expect_eq "hastls-shell in zsh" "$shim:$t/libone.so
$t/libone.so
0" "$got"
fi

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
