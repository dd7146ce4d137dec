/* shim/core/state.h: the process-wide state of libhastls.so.
 *
 * - The configuration, loaded once (constructor, or the first hook called
 *   before it).  An invalid configuration is fatal: its error lines are
 *   printed as "hastls: FILE:LINE: ..." and the process exits with status 1
 *   (_exit, before main() runs when possible).  Running the program without
 *   the protection it was started to have would be worse than not running it;
 *   torsocks does the same.
 * - The front cache and the address map (created on the first lookup).
 * - The resolver: libhastls-resolver.so is dlopen()ed on the first lookup,
 *   found next to libhastls.so itself (dladdr), else in HASTLS_PKGLIBDIR.  If
 *   it cannot be loaded or created, lookups fail (EAI_AGAIN) with a log line;
 *   they never fall back to libc's cleartext resolver.
 * - fork(): pthread_atfork handlers take every lock of the one list in
 *   shim/core/locks.h before fork, release them in the parent, re-initialize
 *   them in the child, and make the child forget the parent's resolver (its
 *   threads do not exist there); the child creates a new one on its first
 *   lookup.  If the handlers cannot be installed (pthread_atfork fails, out
 *   of memory), the process exits at start with status 1 and a
 *   "hastls: cannot install the fork handlers ..." line, as for an invalid
 *   configuration: it fails closed rather than run as if fork() were safe.
 * - A thread-local guard: while set, hooks pass calls straight through (the
 *   shim's and the resolver's own calls).
 */
#ifndef HASTLS_SHIM_STATE_H
#define HASTLS_SHIM_STATE_H

#include "policy/config.h"
#include "shim/core/addrmap.h"
#include "shim/core/cache.h"
#include "shim/resolver/resolver.h"

/* The configuration (loads it on first use). Never NULL. */
const struct hastls_config *hastls_state_config(void);

/* The global cache and address map, made on first use; NULL only when out
 * of memory. */
struct hastls_cache *hastls_state_cache(void);
struct hastls_addrmap *hastls_state_addrmap(void);

/* The address map if a lookup made it, else NULL (connect() before any
 * lookup has nothing to decide from). */
struct hastls_addrmap *hastls_state_addrmap_if_any(void);

/* The resolver: the user's agent (shim/core/agent.h) when the process may use
 * one, else the in-process resolver, loaded and created on the first call.
 * Returns 0 with *API and *R set, or -1 (already logged). */
int hastls_state_resolver(const struct hastls_resolver_api **api,
                          struct hastls_resolver **r);

/* The reentrancy guard (thread-local, initial-exec: no allocation on access). */
extern __thread int hastls_guard_depth __attribute__((tls_model("initial-exec")));
static inline int hastls_guarded(void)
{
    return hastls_guard_depth != 0;
}
static inline void hastls_guard_enter(void)
{
    hastls_guard_depth++;
}
static inline void hastls_guard_leave(void)
{
    hastls_guard_depth--;
}

#endif
