/* tests/fuzz/fuzz_sharedtab.c: a reader of the shared address table
 * (shim/core/sharedtab.c) over slot bytes it cannot trust: the input becomes
 * the slots of a 16-slot table, then every key found in the input is looked
 * up; whatever comes back must be a valid entry. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shim/core/sharedtab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *mem;
    static size_t msize;
    if (!mem) {
        msize = hastls_sharedtab_size(16);
        mem = calloc(1, msize);
        if (!mem)
            abort();
    }
    memset(mem, 0, msize);
    struct hastls_sharedtab *t = hastls_sharedtab_init(mem, msize);
    if (!t)
        __builtin_trap();
    /* The header is the writer's; the slots are the input. */
    size_t hdr = 32, room = msize - hdr;
    memcpy(mem + hdr, data, size < room ? size : room);
    struct hastls_sharedtab *r = hastls_sharedtab_attach(mem, msize);
    if (!r)
        __builtin_trap();
    for (size_t off = 0; off + 16 <= size; off += 16) {
        struct hastls_sharedtab_entry e[HASTLS_SHAREDTAB_PROBE];
        int busy;
        size_t n = hastls_sharedtab_get(r, data + off, e, HASTLS_SHAREDTAB_PROBE, &busy);
        if (n > HASTLS_SHAREDTAB_PROBE)
            __builtin_trap();
        for (size_t i = 0; i < n; i++)
            if (memcmp(e[i].key, data + off, 16) ||
                !memchr(e[i].name, 0, HASTLS_NAME_MAX) || !e[i].name[0] ||
                (unsigned)e[i].rec > HASTLS_REC_LAST || e[i].n > HASTLS_SHAREDTAB_PAIRS)
                __builtin_trap();
    }
    hastls_sharedtab_detach(r);
    hastls_sharedtab_detach(t);
    return 0;
}
