/* tests/fuzz/fuzz_hastls_rr.c: the HASTLS codec and the decision on arbitrary
 * bytes, read both as RDATA and as presentation text.  Asserts the round
 * trips (decode/encode, parse/format) and the decision table's invariants. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/decide.h"
#include "policy/hastls_rr.h"

#define CHECK(x)                                                                         \
    do {                                                                                 \
        if (!(x))                                                                        \
            abort();                                                                     \
    } while (0)

static struct hastls_pair p1[HASTLS_RDATA_MAX_PAIRS], p2[HASTLS_RDATA_MAX_PAIRS];
static uint8_t wire[65536];
static char text[HASTLS_RDATA_MAX_PAIRS * 12 + 3];

/* The decision for a few ports, against what the table promises. */
static void check_decisions(const struct hastls_pair *p, size_t n, const uint8_t *data,
                            size_t size)
{
    uint16_t ports[4] = {80, 443, 0, 0};
    if (size >= 2)
        ports[2] = (uint16_t)(data[0] << 8 | data[1]);
    if (n)
        ports[3] = p[0].insecure ? p[0].insecure : p[0].secure;
    for (int k = 0; k < 4; k++) {
        struct hastls_decision d[3];
        for (int c = 0; c < 3; c++)
            d[c] = hastls_decide(p, n, ports[k], (enum hastls_client)c);
        /* the class does not depend on the client */
        CHECK(d[0].cls == d[1].cls && d[1].cls == d[2].cls);
        int listed = 0;
        for (size_t j = 0; j < n; j++)
            listed |= ports[k] && (p[j].insecure == ports[k] || p[j].secure == ports[k]);
        switch (d[0].cls) {
        case HASTLS_CLASS_TLS:
        case HASTLS_CLASS_STARTTLS:
        case HASTLS_CLASS_UNLISTED:
            for (int c = 0; c < 3; c++)
                CHECK(d[c].verdict == HASTLS_VERDICT_ALLOW);
            break;
        case HASTLS_CLASS_CLEARTEXT:
            CHECK(d[2].verdict == HASTLS_VERDICT_BLOCK);
            CHECK(d[0].pair.insecure == ports[k] && d[0].pair.secure != ports[k]);
            break;
        case HASTLS_CLASS_NO_CLEARTEXT:
            CHECK(!listed);
            CHECK(d[0].pair.insecure == 0 &&
                  d[0].pair.secure == hastls_wellknown_tls_port(ports[k]));
            for (int c = 0; c < 3; c++)
                CHECK(d[c].verdict == HASTLS_VERDICT_BLOCK);
            break;
        case HASTLS_CLASS_NO_TLS:
            CHECK(!listed);
            CHECK(d[0].pair.secure == 0 &&
                  d[0].pair.insecure == hastls_wellknown_cleartext_port(ports[k]));
            CHECK(d[0].verdict == HASTLS_VERDICT_ALLOW);
            CHECK(d[2].verdict == HASTLS_VERDICT_BLOCK);
            break;
        }
        if (listed)
            CHECK(d[0].cls <= HASTLS_CLASS_CLEARTEXT);
        char reason[160];
        hastls_decision_reason(&d[1], ports[k], reason, sizeof reason);
        CHECK(strlen(reason) < sizeof reason);
    }
}

/* P1[0..N) is valid: encode/decode and format/parse give it back. */
static void round_trip(size_t n)
{
    size_t len = 0, m = 0, pos = 0;
    CHECK(hastls_rdata_encode(p1, n, wire, sizeof wire, &len) == HASTLS_RR_OK);
    CHECK(len == 4 * n);
    CHECK(hastls_rdata_decode(wire, len, p2, HASTLS_RDATA_MAX_PAIRS, &m) == HASTLS_RR_OK);
    CHECK(m == n && !memcmp(p1, p2, n * sizeof p1[0]));
    int w = hastls_pairs_format(p1, n, text, sizeof text);
    CHECK(w > 0 && (size_t)w == strlen(text));
    m = 0;
    CHECK(hastls_pairs_parse(text, p2, HASTLS_RDATA_MAX_PAIRS, &m, &pos) == HASTLS_RR_OK);
    CHECK(m == n && !memcmp(p1, p2, n * sizeof p1[0]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* As RDATA. */
    size_t n = 0;
    int r = hastls_rdata_decode(data, size, p1, HASTLS_RDATA_MAX_PAIRS, &n);
    if (r == HASTLS_RR_OK) {
        CHECK(size % 4 == 0 && n == size / 4);
        size_t len = 0;
        CHECK(hastls_rdata_encode(p1, n, wire, sizeof wire, &len) == HASTLS_RR_OK);
        CHECK(len == size && !memcmp(wire, data, size));
        round_trip(n);
        check_decisions(p1, n, data, size);
    } else {
        CHECK(n == 0);
        CHECK(size == 0 || size % 4 != 0 || size > 65535 || r == HASTLS_RR_ZERO_PAIR);
    }

    /* As presentation text (NUL-terminated copy). */
    if (size > 64 * 1024)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    size_t pos = (size_t)-1;
    n = 0;
    r = hastls_pairs_parse(s, p1, HASTLS_RDATA_MAX_PAIRS, &n, &pos);
    if (r == HASTLS_RR_OK) {
        CHECK(n >= 1);
        for (size_t k = 0; k < n; k++)
            CHECK(p1[k].insecure || p1[k].secure);
        round_trip(n);
        check_decisions(p1, n, data, size);
    } else {
        CHECK(r < 0 && r >= HASTLS_RR_NO_SPACE);
        CHECK(pos <= strlen(s));
    }
    free(s);
    return 0;
}
