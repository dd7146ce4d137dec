/* tests/fuzz/fuzz_httpsrr.c: the HTTPS RDATA check (policy/httpsrr.c) on
 * arbitrary bytes: it never reads outside them, gives a reason for every
 * refusal, and what it accepts is the signal when secure. */
#include <stddef.h>
#include <stdint.h>

#include "policy/httpsrr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    int rc = hastls_https_rdata_check(data, size, &why);
    if (rc != 0 && (rc != -1 || !why))
        __builtin_trap();
    if (size <= 65535) {
        struct hastls_rr rr = {HASTLS_DNS_TYPE_HTTPS, (uint16_t)size, 60, data};
        if (hastls_https_signal(HASTLS_SEC_SECURE, 0, &rr, 1) != (rc == 0))
            __builtin_trap();
    }
    return 0;
}
