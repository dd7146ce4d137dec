#!/usr/bin/env bash
# resolver_signals: the threads the resolver starts inside a program (the
# transport's event thread, libunbound's worker) block every signal, so a
# program that blocks SIGUSR1 and waits for it with sigwait() receives it
# after a lookup instead of being killed by it -- whether the resolver's
# threads started before or after the program blocked it.
set -u
. "$(dirname "$0")/../tools/shim_lib.sh"
out=$LAB_DIR/out
tool=$LAB_DIR/resolver_signals
if ! cc -o "$tool" "$TOOLS/resolver_signals.c" -pthread -lanl 2>"$out"; then
    bad "cannot build resolver_signals.c"
    sed 's/^/    | /' "$out"
    finish
fi

# Without the shim (glibc and the lab's resolver): the program itself works.
"$tool" lookup-first secure.lab.example >"$out" 2>&1
expect_status "without the shim: sigwait receives SIGUSR1" $? 10

# The resolver's threads run in the program when it resolves by itself (with
# the agent, tests/integration/agent.sh, the program starts none).
noagent=$(conf noagent agent=off)
for mode in block-first lookup-first; do
    HASTLS_CONF=$noagent LD_PRELOAD=$S "$tool" "$mode" secure.lab.example >"$out" 2>&1
    st=$?
    expect_status "$mode: sigwait receives SIGUSR1 (not killed by it)" "$st" 10
    expect_line "$mode: the name resolved under the shim" "$out" '^secure\.lab\.example 127\.0\.10\.1$'
    # Resolved by the shim's resolver: its threads were there to take the signal.
    HASTLS_CONF=$noagent LD_PRELOAD=$S HASTLS_LOG=debug "$tool" "$mode" secure.lab.example >"$out" 2>&1
    expect_line "$mode: the in-process resolver carried the lookup" "$out" 'resolver started'
done

# Served by the agent: the same.
for mode in block-first lookup-first; do
    LD_PRELOAD=$S "$tool" "$mode" secure.lab.example >"$out" 2>&1
    expect_status "$mode, agent: sigwait receives SIGUSR1" $? 10
done

# getaddrinfo_a with a SIGEV_THREAD notification: the shim starts the
# notification thread itself; its function runs with the signal mask glibc's
# own notification thread gives it (none blocked), not with the mask of the
# thread that called getaddrinfo_a (SIGUSR1 and SIGUSR2 blocked).
"$tool" gai-a-thread secure.lab.example >"$out" 2>&1
expect_status "without the shim: the notification came" $? 10
expect_line "without the shim: glibc's notification blocks no signal" "$out" '^notify blocks: none$'
LD_PRELOAD=$S "$tool" gai-a-thread secure.lab.example >"$out" 2>&1
expect_status "gai-a-thread: the notification came" $? 10
expect_line "gai-a-thread: the name resolved under the shim" "$out" '^secure\.lab\.example resolved$'
expect_line "gai-a-thread: the notification's mask is glibc's" "$out" '^notify blocks: none$'

finish
