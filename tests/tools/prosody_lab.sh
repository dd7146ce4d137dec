# prosody_lab.sh: a real XMPP server for the lab (sourced by tests and the
# demo).  prosody_lab_start DIR CERTDIR SOURCE...: prosody with its own
# config, data and log under DIR, serving STARTTLS on 5222 and 5223 on the
# SRV targets' addresses (tests/README.md: chat, pkix, bad.hosting.example,
# chat.insecure.lab.example) with CERTDIR/chat.pem, one virtual host per
# SOURCE with the user alice (password "secret").  Sets PROSODY to its pid
# and returns 0 once every port listens; else says why on stderr and
# returns 1 (prosody stopped).  prosody_lab_stop stops it.
PROSODY_LAB_ADDRS="127.0.10.40 127.0.10.41 127.0.10.42 127.0.10.43"

prosody_lab_start() {
    local dir=$1 certs=$2 h a port n
    shift 2
    mkdir -p "$dir/data" || return 1
    {
        printf 'run_as_root = true\ndaemonize = false\n'
        printf 'pidfile = "%s/prosody.pid"\ndata_path = "%s/data"\n' "$dir" "$dir"
        printf 'log = { { levels = { min = "info" }, to = "file", filename = "%s/prosody.log" } }\n' "$dir"
        printf 'modules_enabled = { "tls", "saslauth", "disco", "roster", "ping" }\n'
        printf 'modules_disabled = { "s2s", "offline", "c2s_limits", "admin_shell", "posix" }\n'
        printf 'c2s_ports = { 5222, 5223 }\nc2s_interfaces = { '
        printf '"%s", ' $PROSODY_LAB_ADDRS
        printf '}\n'
        printf 's2s_ports = {}\nhttp_ports = {}\nhttps_ports = {}\nc2s_direct_tls_ports = {}\n'
        printf 'c2s_require_encryption = true\nauthentication = "internal_plain"\nstorage = "internal"\n'
        printf 'ssl = { certificate = "%s/chat.pem", key = "%s/chat.key" }\n' "$certs" "$certs"
        for h in "$@"; do printf 'VirtualHost "%s"\n' "$h"; done
    } >"$dir/prosody.cfg.lua" || return 1
    for h in "$@"; do
        prosodyctl --config "$dir/prosody.cfg.lua" register alice "$h" secret >>"$dir/setup.log" 2>&1 || {
            echo "prosodyctl register alice@$h: $(tail -3 "$dir/setup.log")" >&2
            return 1
        }
    done
    prosody --config "$dir/prosody.cfg.lua" >"$dir/stdout" 2>&1 &
    PROSODY=$!
    for a in $PROSODY_LAB_ADDRS 127.0.10.41:5223; do
        n=0 port=5222
        case $a in *:*) port=${a#*:} a=${a%:*} ;; esac
        until (exec 3<>"/dev/tcp/$a/$port") 2>/dev/null; do
            n=$((n + 1))
            if [ $n -ge 500 ] || ! kill -0 "$PROSODY" 2>/dev/null; then
                echo "prosody does not listen on $a:$port: $(tail -5 "$dir/prosody.log" "$dir/stdout")" >&2
                prosody_lab_stop
                return 1
            fi
            sleep 0.02
        done
    done
    return 0
}

prosody_lab_stop() {
    [ -n "${PROSODY:-}" ] || return 0
    kill "$PROSODY" 2>/dev/null
    wait "$PROSODY" 2>/dev/null
    PROSODY=
}
