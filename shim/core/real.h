/* shim/core/real.h: the next definition of each interposed libc symbol.
 *
 * Every symbol is bound on its first use with dlsym(RTLD_NEXT, name), never
 * with dlopen("libc.so.6"): the next object in the search order may be another
 * preloaded library (a second shim, a malloc tracer), and binding to libc
 * directly would skip it.  Binding is lazy and needs no constructor, because
 * other constructors (or libc itself) may call a hook before ours ran.
 */
#ifndef HASTLS_SHIM_REAL_H
#define HASTLS_SHIM_REAL_H

#include <stddef.h>

/* Returns the next definition of NAME, caching it in *SLOT (atomically: two
 * threads racing store the same pointer).  Returns NULL when no later object
 * defines NAME; the caller then fails with ENOSYS. */
void *hastls_real_sym(void **slot, const char *name);

/* The object that defines SYMBOL for the program: the next one after the
 * shim (dlsym(RTLD_NEXT)), else the first of the N SONAMES already loaded,
 * e.g. privately (RTLD_LOCAL) by a module of the program.  A handle from
 * dlopen(RTLD_NOLOAD), or NULL when none is loaded: the TLS hooks find a
 * TLS library's functions there, never loading one. */
void *hastls_real_lib(const char *symbol, const char *const *sonames, size_t n);

/* HASTLS_REAL(connect) evaluates to a pointer to the next connect(), typed
 * like connect.  The slot is per call site's translation unit. */
#define HASTLS_REAL(name)                                                                \
    ({                                                                                   \
        static void *hastls_real_slot_##name;                                            \
        (__typeof__(&name))hastls_real_sym(&hastls_real_slot_##name, #name);             \
    })

#endif
