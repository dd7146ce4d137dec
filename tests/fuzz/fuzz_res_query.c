/* tests/fuzz/fuzz_res_query.c: res_send(3)'s handling of the program's query
 * message (shim/hooks/res.c takes its question through
 * hastls_dns_query_question) on arbitrary bytes, and the TC bit the shim sets
 * on an answer truncated to the program's buffer (hastls_dns_set_tc). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/dnswire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char name[1025];
    uint16_t type, cls;
    memset(name, 'x', sizeof name);
    if (hastls_dns_query_question(data, size, name, sizeof name, &type, &cls) == 0) {
        /* A name in presentation form, terminated inside the buffer. */
        size_t n = strnlen(name, sizeof name);
        if (n == 0 || n >= sizeof name)
            __builtin_trap();
        /* Accepted only what the transport would relay. */
        size_t qend;
        if (hastls_dns_check_query(data, size, &qend) < 0 || qend > size)
            __builtin_trap();
    }
    /* The TC bit on every truncation of the input taken as an answer. */
    static uint8_t copy[HASTLS_DNS_MAX_MSG];
    size_t len = size < sizeof copy ? size : sizeof copy;
    memcpy(copy, data, len);
    int rc = hastls_dns_set_tc(copy, len);
    if ((rc == 0) != (len >= 3))
        __builtin_trap();
    if (rc == 0 && (!(copy[2] & 0x02) || (copy[2] & ~0x02) != (data[2] & ~0x02) ||
                    memcmp(copy + 3, data + 3, len - 3) != 0 || memcmp(copy, data, 2)))
        __builtin_trap();
    return 0;
}
