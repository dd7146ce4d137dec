/* shim/core/ownfd.h: the descriptors libunbound opens inside a program.
 *
 * Owns: the rule that no descriptor of the resolver outlives exec() or fork()
 * into code that is not ours.  libunbound opens its own descriptors -- the
 * socket pairs that carry its queries and results between the calling thread
 * and its worker (ub_ctx_create), and a TCP stream to the resolver's relay for
 * each outgoing query (in its worker thread) -- and never asks for
 * close-on-exec.  A program that runs less trusted code would hand it those
 * streams: by writing result messages into its parent's result pipe, a child
 * forges DNSSEC-secure answers.
 *
 * Marking them afterwards leaves a window in which another thread's exec()
 * inherits them, and a scan of /proc/self/fd cannot tell libunbound's
 * descriptors from the program's.  So the shim's socket(), socketpair(),
 * accept4() and close() hooks (shim/hooks/socket.c) look at who calls them:
 * a call made from libunbound's code (its text segment, found once after the
 * resolver object is loaded) gets SOCK_CLOEXEC in the same system call and is
 * recorded here, whatever thread makes it; every other call passes through
 * untouched.  The fork child handler (state.c) closes every recorded
 * descriptor before the child runs any code of its own.  The resolver's own
 * descriptors (relay, upstream streams) are opened close-on-exec by the
 * resolver and closed by its forget().
 *
 * The table's lock (hastls_lock_ownfd, in the fork list) is held across the
 * creating or closing system call, so a fork() never sees a descriptor made
 * but not yet recorded.
 */
#ifndef HASTLS_SHIM_OWNFD_H
#define HASTLS_SHIM_OWNFD_H

#include <pthread.h>

#include "policy/checked.h"

/* The most descriptors libunbound may hold at once: its pool of TCP streams
 * (RESOLVER_TCP_STREAMS in shim/resolver/resolver.c) and its socket pairs,
 * with room to spare.  A creation beyond it fails with EMFILE. */
#define HASTLS_OWNFD_MAX 512

extern pthread_mutex_t hastls_lock_ownfd;

/* Finds libunbound's code among the loaded objects; called once the resolver
 * object is loaded, before it runs.  Until then no caller is libunbound.
 * Returns 0, or -1 when no loaded object is libunbound. */
HASTLS_MUST_CHECK int hastls_ownfd_find_resolver(void);

/* Whether a call returning to RET belongs to libunbound: RET lies in its
 * code, or the calling thread is one that libunbound started. */
int hastls_ownfd_from_resolver(const void *ret);

/* Whether RET lies in libunbound's code (for pthread_create). */
int hastls_ownfd_in_resolver_code(const void *ret);

/* Marks the calling thread as started by libunbound (its first act). */
void hastls_ownfd_mark_thread(void);

/* Around a call into the resolver: what the calling thread opens meanwhile
 * is the resolver's.  Nests. */
void hastls_ownfd_enter(void);
void hastls_ownfd_leave(void);

/* Records FD (the caller holds hastls_lock_ownfd).  Returns 0, or -1 when
 * the table is full. */
HASTLS_MUST_CHECK int hastls_ownfd_add(int fd);

/* Forgets FD if recorded (the caller holds hastls_lock_ownfd). */
void hastls_ownfd_remove(int fd);

/* In a fork child: closes every recorded descriptor and empties the table. */
void hastls_ownfd_close_all(void);

#endif
