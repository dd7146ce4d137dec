/* shim/resolver/threads.h: threads the resolver starts, and their signals.
 *
 * Owns: the rule that every thread the resolver brings into a program -- the
 * transport's event thread and libunbound's worker, which libunbound creates
 * inside the first ub_resolve_async call -- starts with every signal blocked.
 * A new thread inherits its creator's mask, so the creator blocks all signals
 * around the creation and restores its own mask at once: the program's
 * handlers never run on our threads, and a program that blocks a signal and
 * waits for it with sigwait() still receives it.
 */
#ifndef HASTLS_RESOLVER_THREADS_H
#define HASTLS_RESOLVER_THREADS_H

#include <pthread.h>
#include <signal.h>

#include "policy/checked.h"

/* Blocks every signal in the calling thread, saving the old mask in *OLD.
 * Returns 0 or -1 (nothing changed). */
HASTLS_MUST_CHECK int hastls_signals_block(sigset_t *old);

/* Restores the mask saved by hastls_signals_block. */
void hastls_signals_restore(const sigset_t *old);

/* pthread_create with every signal blocked in the new thread from its first
 * instruction on.  Returns 0 or an error number. */
HASTLS_MUST_CHECK int hastls_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
