/* tests/fuzz/fuzz_hosts.c: the hosts-file parser (shim/core/hosts.c) on arbitrary
 * bytes, then lookups by every name it kept and by every address, in every
 * family's view, checking that what comes back is well-formed; and the
 * host-name check (shim/core/hostname.c) on every token. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/config.h"
#include "shim/core/hostname.h"
#include "shim/core/hosts.h"

static struct hastls_hosts_entry entry;

/* The entry is well-formed: names NUL-terminated inside their buffers, the
 * alias count matching the bytes, addresses of FAMILY (any with AF_UNSPEC). */
static void check_entry(const struct hastls_hosts_entry *e, int family)
{
    if (strnlen(e->name, sizeof e->name) >= sizeof e->name || e->n > HASTLS_HOSTS_ADDRS ||
        e->aliases_len > sizeof e->aliases)
        __builtin_trap();
    size_t off = 0;
    for (size_t i = 0; i < e->naliases; i++) {
        size_t len = strnlen(e->aliases + off, e->aliases_len - off);
        if (off + len >= e->aliases_len)
            __builtin_trap();
        off += len + 1;
    }
    if (off != e->aliases_len)
        __builtin_trap();
    for (size_t i = 0; i < e->n; i++)
        if ((family != AF_UNSPEC && e->addr[i].family != family) ||
            (e->addr[i].family != AF_INET && e->addr[i].family != AF_INET6))
            __builtin_trap();
}

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
            (void)hastls_hostname_ok(name);
            static const int families[] = {AF_UNSPEC, AF_INET, AF_INET6};
            for (size_t f = 0; f < 3; f++) {
                if (hastls_hosts_find_entry(h, name, families[f], &entry)) {
                    check_entry(&entry, families[f]);
                    for (size_t k = 0; k < entry.n && families[f] != AF_UNSPEC; k++) {
                        struct hastls_hosts_entry back;
                        if (!hastls_hosts_find_addr_entry(h, families[f],
                                                          entry.addr[k].addr, &back))
                            __builtin_trap();
                        check_entry(&back, families[f]);
                    }
                }
            }
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
