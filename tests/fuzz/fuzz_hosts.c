/* tests/fuzz/fuzz_hosts.c: the hosts-file parser (shim/core/hosts.c) on arbitrary
 * bytes, then lookups by every name it kept and by every address, checking
 * that what comes back is well-formed. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/config.h"
#include "shim/core/hosts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hastls_hosts *h = hastls_hosts_parse((const char *)data, size);
    if (!h)
        return 0;
    /* Look up the tokens of the input itself: many are names it holds. */
    char name[HASTLS_NAME_MAX + 8];
    size_t len = 0;
    for (size_t i = 0; i <= size; i++) {
        char ch = i < size ? (char)data[i] : ' ';
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\0' ||
            len == sizeof name - 1) {
            name[len] = '\0';
            struct hastls_ip out[4];
            size_t n = 99;
            char canon[HASTLS_NAME_MAX];
            int found = hastls_hosts_find_name(h, name, AF_UNSPEC, out, 4, &n, canon);
            if (n > 4 || (!found && n != 0))
                __builtin_trap();
            if (found && strlen(canon) >= HASTLS_NAME_MAX)
                __builtin_trap();
            for (size_t k = 0; k < n; k++) {
                if (out[k].family != AF_INET && out[k].family != AF_INET6)
                    __builtin_trap();
                char back[HASTLS_NAME_MAX];
                if (!hastls_hosts_find_addr(h, out[k].family, out[k].addr, back))
                    __builtin_trap();
            }
            len = 0;
        } else {
            name[len++] = ch;
        }
    }
    hastls_hosts_free(h);
    return 0;
}
