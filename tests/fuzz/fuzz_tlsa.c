/* tests/fuzz/fuzz_tlsa.c: the TLSA codec on arbitrary RDATA.  Asserts that a
 * usable record's fields are in range, that its data lies inside the input,
 * and that formatting round-trips its length. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/tlsa.h"

#define CHECK(x)                                                                         \
    do {                                                                                 \
        if (!(x))                                                                        \
            abort();                                                                     \
    } while (0)

static char text[3 * 4 + 2 * 65536 + 1];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hastls_tlsa t;
    int rc = hastls_tlsa_decode(data, size, &t);
    if (size < 3) {
        CHECK(rc == HASTLS_TLSA_SHORT);
        return 0;
    }
    CHECK(rc != HASTLS_TLSA_SHORT || size - 3 > UINT16_MAX);
    if (rc == HASTLS_TLSA_SHORT)
        return 0;
    CHECK(t.data == data + 3 && t.dlen == size - 3);
    if (rc == HASTLS_TLSA_OK) {
        CHECK(t.usage <= 3 && t.selector <= 1 && t.mtype <= 2);
        CHECK(t.mtype != 1 || t.dlen == 32);
        CHECK(t.mtype != 2 || t.dlen == 64);
        CHECK(t.dlen > 0);
    }
    int n = hastls_tlsa_format(&t, text, sizeof text);
    CHECK(n > 0 && (size_t)n == strlen(text));
    CHECK(hastls_tlsa_format(&t, text, (size_t)n) == HASTLS_TLSA_NO_SPACE);

    struct hastls_rr rr = {HASTLS_DNS_TYPE_TLSA, (uint16_t)size, 0, data};
    struct hastls_tlsa out[1];
    size_t nu = hastls_tlsa_usable(&rr, size <= UINT16_MAX ? 1 : 0, out, 1);
    CHECK(nu == (size <= UINT16_MAX && rc == HASTLS_TLSA_OK));
    CHECK(hastls_dane_state(HASTLS_SEC_SECURE, 0, nu) ==
          (nu ? HASTLS_DANE_USE : HASTLS_DANE_NONE));
    return 0;
}
