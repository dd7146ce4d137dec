/* shim/core/sigthread.c: threads started with every signal blocked (see
 * sigthread.h). */
#include "shim/core/sigthread.h"

#include <errno.h>
#include <signal.h>

int hastls_sigthread_start(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                           void *arg)
{
    sigset_t all, old;
    if (sigfillset(&all) < 0)
        return EINVAL;
    int e = pthread_sigmask(SIG_SETMASK, &all, &old);
    if (e != 0)
        return e; /* nothing changed: never start it with signals open */
    e = pthread_create(t, attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return e;
}
