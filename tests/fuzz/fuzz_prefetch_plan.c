/* tests/fuzz/fuzz_prefetch_plan.c: the chain prefetch's label walk on
 * arbitrary queries (shim/resolver/prefetch.c over policy/dnswire.c).  Every
 * planned query must be a well-formed DS or DNSKEY query with DO, for the root
 * or a proper ancestor of the question's name, and there are never more than
 * HASTLS_PREFETCH_MAX_ASKS. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/dnswire.h"
#include "shim/resolver/prefetch.h"

static uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct hastls_prefetch_ask asks[HASTLS_PREFETCH_MAX_ASKS + 1];
    uint8_t *m = malloc(size ? size : 1); /* ASan sees reads past SIZE */
    if (!m)
        return 0;
    memcpy(m, data, size);
    size_t n = hastls_prefetch_plan(m, size, asks, HASTLS_PREFETCH_MAX_ASKS);
    struct hastls_dns_question q;
    if (n > HASTLS_PREFETCH_MAX_ASKS || (n && hastls_dns_parse_query(m, size, &q) < 0))
        abort();
    for (size_t i = 0; i < n; i++) {
        struct hastls_dns_question a;
        if (hastls_dns_parse_query(asks[i].query, asks[i].len, &a) < 0 ||
            (a.qtype != HASTLS_DNS_TYPE_DS && a.qtype != HASTLS_DNS_TYPE_DNSKEY) ||
            hastls_dns_has_do(asks[i].query, asks[i].len) != 1)
            abort();
        /* The asked name is a proper suffix of the question's name (or the
         * root), compared as wire bytes without regard to case. */
        const uint8_t *an = asks[i].query + a.name_off;
        if (a.name_len == 1 && an[0] == 0)
            continue;
        if (a.name_len >= q.name_len)
            abort();
        const uint8_t *tail = m + q.name_off + q.name_len - a.name_len;
        for (size_t j = 0; j < a.name_len; j++)
            if (lower(an[j]) != lower(tail[j]))
                abort();
    }
    /* The walk itself at every offset of the input. */
    size_t labels[128], k, end;
    for (size_t o = 0; o < size && o < 64; o++)
        if (hastls_dns_name_labels(m, size, o, labels, 128, &k, &end) == 0) {
            if (end > size || end <= o || k > 127)
                abort();
            for (size_t i = 0; i < k; i++)
                if (labels[i] < o || labels[i] >= end ||
                    (i && labels[i] <= labels[i - 1]))
                    abort();
        }
    free(m);
    return 0;
}
