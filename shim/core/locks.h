/* shim/core/locks.h: every lock libhastls.so owns, in one list.
 *
 * fork() copies only the thread that calls it.  A lock that another thread
 * holds at that moment stays held in the child for ever, and the child's
 * first call that needs it never returns.  So the pthread_atfork handlers in
 * state.c take every lock of HASTLS_LOCKS before fork(), in the list's order,
 * release them in the parent afterwards and re-initialize them in the child.
 * That is only as good as the list is complete:
 *
 *     Every new lock of the shim (shim/core, shim/hooks) must be added to
 *     HASTLS_LOCKS below.  A lock missing here deadlocks the child of a
 *     fork() that happens while another thread holds it.
 *
 * Entries:
 *   MUTEX(NAME)   a process-wide pthread_mutex_t, defined (not static, with
 *                 PTHREAD_MUTEX_INITIALIZER) in the file named in its comment
 *   RWLOCK(NAME)  the same for a pthread_rwlock_t (taken for writing)
 *   HANDLERS(PREPARE, PARENT, CHILD)
 *                 a module whose locks sit in its own private state and need
 *                 more than re-initializing in the child: its three functions
 *                 run at the entry's place in each handler
 *   TABLE(VAR, LOCK_ALL, UNLOCK_ALL, REINIT)
 *                 the locks inside an object state.c keeps in the variable
 *                 VAR, reached through the object's own functions (the shards
 *                 of the front cache, the address map's lock); skipped while
 *                 the object does not exist yet
 *
 * Lock order: code that holds two of these locks takes them in this list's
 * order, so prepare cannot deadlock against a thread that is taking them.
 * Such pairs: the agent client falls back to the in-process resolver
 * (hastls_lock_resolver) while it may hold its own; creating the resolver
 * makes libunbound open descriptors (hastls_lock_ownfd, in the socket hooks).
 *
 * tests/integration/shim_fork_stress.sh fails when a file of shim/core or
 * shim/hooks declares a lock but is not named in this list, and forks
 * repeatedly while threads keep every lock busy.
 *
 * Not in the list, on purpose:
 * - the resolver's own locks (libhastls-resolver.so): the child never uses
 *   the parent's resolver; state.c's child handler makes it forget that one
 *   (its threads do not exist in the child) and the child creates its own;
 * - pthread_once controls (state.c, gethostbyname.c): glibc runs an
 *   initializer again in a child forked while another thread was running it.
 */
#ifndef HASTLS_SHIM_LOCKS_H
#define HASTLS_SHIM_LOCKS_H

#include <pthread.h>

/* clang-format off */
#define HASTLS_LOCKS(MUTEX, RWLOCK, HANDLERS, TABLE)                               \
    HANDLERS(hastls_agent_fork_prepare, hastls_agent_fork_parent,                  \
             hastls_agent_fork_child) /* agent.c: the agent client's connection and start */ \
    MUTEX(hastls_lock_resolver)      /* state.c: loading and creating the resolver */ \
    MUTEX(hastls_lock_dnsredir)      /* dnsredir.c: the responder, the servers */  \
    MUTEX(hastls_lock_ownfd)         /* ownfd.c: libunbound's descriptors */       \
    RWLOCK(hastls_lock_hosts)        /* hosts.c: the hosts-file table */           \
    MUTEX(hastls_lock_search)        /* search.c: the resolv.conf search list */   \
    MUTEX(hastls_lock_serv)          /* ai.c: the service-name table */            \
    MUTEX(hastls_lock_addrconfig)    /* ai.c: the AI_ADDRCONFIG answer */          \
    MUTEX(hastls_lock_hostpins)      /* hostpins.c: the process's copy of the pins */ \
    MUTEX(hastls_lock_dane)          /* dane.c: the TLSA cache */                  \
    MUTEX(hastls_lock_dane_ctx)      /* hooks/openssl.c: SSL_CTX_dane_enable */    \
    MUTEX(hastls_lock_srvmemo)       /* srvmemo.c: the SRV answers */               \
    MUTEX(hastls_lock_gnutls)        /* hooks/gnutls.c: the GnuTLS sessions' table */ \
    TABLE(cache, hastls_cache_lock_all, hastls_cache_unlock_all,                   \
          hastls_cache_reinit_locks) /* cache.c: one lock per shard */             \
    TABLE(addrmap, hastls_addrmap_lock, hastls_addrmap_unlock,                     \
          hastls_addrmap_reinit_lock) /* addrmap.c: its reader/writer lock */
/* clang-format on */

#define HASTLS_LOCK_DECLARE_MUTEX(name) extern pthread_mutex_t name;
#define HASTLS_LOCK_DECLARE_RWLOCK(name) extern pthread_rwlock_t name;
#define HASTLS_LOCK_DECLARE_NONE(...)
HASTLS_LOCKS(HASTLS_LOCK_DECLARE_MUTEX, HASTLS_LOCK_DECLARE_RWLOCK,
             HASTLS_LOCK_DECLARE_NONE, HASTLS_LOCK_DECLARE_NONE)

#endif
