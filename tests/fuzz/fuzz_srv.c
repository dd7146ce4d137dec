/* tests/fuzz/fuzz_srv.c: the SRV codec on arbitrary RDATA, read alone and
 * inside a message (the input's last bytes as the RDATA, the rest before
 * it).  Asserts that a decoded target is a presentation name that formats
 * back, and that ordering keeps the records. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/srv.h"

#define CHECK(x)                                                                         \
    do {                                                                                 \
        if (!(x))                                                                        \
            abort();                                                                     \
    } while (0)

static void check(const struct hastls_srv *s)
{
    char buf[HASTLS_NAME_MAX + 32];
    size_t tl = strlen(s->target);
    CHECK(tl > 0 && tl < HASTLS_NAME_MAX);
    int n = hastls_srv_format(s, buf, sizeof buf);
    CHECK(n > 0 && (size_t)n == strlen(buf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hastls_srv s[2];
    int rc = hastls_srv_decode(NULL, 0, data, size, &s[0]);
    if (size < 6)
        CHECK(rc == HASTLS_SRV_SHORT);
    if (rc == HASTLS_SRV_OK)
        check(&s[0]);
    size_t rdlen = size > 0 ? data[0] : 0;
    if (rdlen <= size) {
        int rc2 = hastls_srv_decode(data, size, data + size - rdlen, rdlen, &s[1]);
        if (rc2 == HASTLS_SRV_OK)
            check(&s[1]);
        if (rc == HASTLS_SRV_OK && rc2 == HASTLS_SRV_OK) {
            struct hastls_srv v[2] = {s[0], s[1]};
            hastls_srv_order(v, 2);
            CHECK(v[0].priority <= v[1].priority);
            CHECK(
                (!strcmp(v[0].target, s[0].target) &&
                 !strcmp(v[1].target, s[1].target)) ||
                (!strcmp(v[0].target, s[1].target) && !strcmp(v[1].target, s[0].target)));
        }
    }
    return 0;
}
