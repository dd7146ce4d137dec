/* shim/core/real.c: lazy next-symbol binding (see real.h). */
#include <dlfcn.h>
#include <stddef.h>

#include "shim/core/real.h"

void *hastls_real_sym(void **slot, const char *name)
{
    void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (p)
        return p;
    /* dlsym() may run before our constructor and from any thread; it takes
     * the loader's own lock and never calls back into a hook. */
    p = dlsym(RTLD_NEXT, name);
    if (p)
        __atomic_store_n(slot, p, __ATOMIC_RELEASE);
    return p;
}

void *hastls_real_lib(const char *symbol, const char *const *sonames, size_t n)
{
    void *sym = dlsym(RTLD_NEXT, symbol);
    Dl_info di;
    if (sym && dladdr(sym, &di) && di.dli_fname) {
        void *h = dlopen(di.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
        if (h)
            return h;
    }
    for (size_t i = 0; i < n; i++) {
        void *h = dlopen(sonames[i], RTLD_LAZY | RTLD_NOLOAD);
        if (h)
            return h;
    }
    return NULL;
}
