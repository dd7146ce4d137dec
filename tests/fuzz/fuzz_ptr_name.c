/* tests/fuzz/fuzz_ptr_name.c: the step from a PTR answer to a host name
 * (shim/core/lookup.c through hastls_dns_ptr_target) on arbitrary bytes: the
 * input is a response; each PTR record of its answer section is read against
 * the whole message (compression pointers) and its RDATA alone, as a copy
 * outside the message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/dnswire.h"

#define TYPE_PTR 12

static void check_name(const char *name, size_t cap)
{
    size_t n = strnlen(name, cap);
    if (n == 0 || n >= cap || strcmp(name, ".") == 0)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hastls_rr rr[16];
    size_t n;
    char name[1025];
    if (hastls_dns_answer_records(data, size, TYPE_PTR, rr, 16, &n, NULL) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (hastls_dns_ptr_target(data, size, rr[i].rdata, rr[i].rdlen, name,
                                      sizeof name) == 0)
                check_name(name, sizeof name);
            uint8_t *alone = malloc(rr[i].rdlen ? rr[i].rdlen : 1);
            if (!alone)
                return 0;
            memcpy(alone, rr[i].rdata, rr[i].rdlen);
            if (hastls_dns_ptr_target(data, size, alone, rr[i].rdlen, name,
                                      sizeof name) == 0)
                check_name(name, sizeof name);
            free(alone);
        }
    }
    /* The whole input as RDATA alone, and a small output buffer. */
    if (hastls_dns_ptr_target(NULL, 0, data, size, name, sizeof name) == 0)
        check_name(name, sizeof name);
    if (hastls_dns_ptr_target(NULL, 0, data, size, name, 8) == 0)
        check_name(name, 8);
    return 0;
}
