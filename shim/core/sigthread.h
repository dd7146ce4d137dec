/* shim/core/sigthread.h: threads the shim itself starts, and their signals.
 *
 * Owns: the rule that a thread the shim starts inside a program (the
 * notification thread of getaddrinfo_a with SIGEV_THREAD) comes to life with
 * every signal blocked: a new thread inherits its creator's mask, so the
 * creator blocks all of them around pthread_create and restores its own at
 * once.  The program's handlers never run on such a thread before it is
 * ready.  (The resolver has the same helper in shim/resolver/threads.h; the
 * shim does not link the resolver.)
 */
#ifndef HASTLS_SHIM_SIGTHREAD_H
#define HASTLS_SHIM_SIGTHREAD_H

#include <pthread.h>

#include "policy/checked.h"

/* pthread_create (ATTR may be NULL) with every signal blocked in the new
 * thread from its first instruction on.  Returns 0 or an error number. */
HASTLS_MUST_CHECK int hastls_sigthread_start(pthread_t *t, const pthread_attr_t *attr,
                                             void *(*fn)(void *), void *arg);

#endif
