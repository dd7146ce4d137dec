/* tests/fuzz/fuzz_resolvconf.c: the resolv.conf search-list parser
 * (shim/core/search.c) on arbitrary bytes, then the candidate names for a few
 * names: every domain and candidate is a terminated, bounded string. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "shim/core/search.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hastls_search s;
    hastls_search_parse((const char *)data, size, &s);
    if (s.n > HASTLS_SEARCH_MAX || s.ndots < 0 || s.ndots > 15)
        __builtin_trap();
    for (size_t i = 0; i < s.n; i++)
        if (strnlen(s.domain[i], HASTLS_NAME_MAX) >= HASTLS_NAME_MAX)
            __builtin_trap();
    static const char *const names[] = {"a", "www.example", "x.y.z.w"};
    char out[HASTLS_SEARCH_MAX + 1][HASTLS_NAME_MAX];
    for (size_t k = 0; k < 3; k++) {
        size_t n = hastls_search_candidates(&s, names[k], out, HASTLS_SEARCH_MAX + 1);
        if (n == 0 || n > s.n + 1)
            __builtin_trap();
        for (size_t i = 0; i < n; i++)
            if (strnlen(out[i], HASTLS_NAME_MAX) >= HASTLS_NAME_MAX)
                __builtin_trap();
    }
    return 0;
}
