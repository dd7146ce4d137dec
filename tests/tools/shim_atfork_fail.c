/* tests/tools/shim_atfork_fail.c: a preloadable object whose
 * __register_atfork (what pthread_atfork calls in glibc) fails as when out of
 * memory, so that tests/integration/shim_fork_stress.sh can check that the
 * shim then refuses to run (fails closed) instead of running without its fork
 * handlers.
 * Built by the test: cc -shared -fPIC -o shim_atfork_fail.so shim_atfork_fail.c */
#include <errno.h>

int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
                      void *dso_handle)
{
    (void)prepare;
    (void)parent;
    (void)child;
    (void)dso_handle;
    return ENOMEM;
}
