/* shim/resolver/threads.c: threads and their signals (see threads.h). */
#include "shim/resolver/threads.h"

#include <errno.h>

int hastls_signals_block(sigset_t *old)
{
    sigset_t all;
    HASTLS_GUARD(sigfillset(&all));
    HASTLS_GUARD_ZERO(pthread_sigmask(SIG_SETMASK, &all, old));
    return 0;
}

void hastls_signals_restore(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

int hastls_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t old;
    if (hastls_signals_block(&old) < 0)
        return EINVAL;
    int e = pthread_create(t, NULL, fn, arg);
    hastls_signals_restore(&old);
    return e;
}
