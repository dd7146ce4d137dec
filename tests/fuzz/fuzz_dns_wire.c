/* tests/fuzz/fuzz_dns_wire.c: every parser of network bytes in
 * policy/dnswire.c on arbitrary input.  The first byte picks a query
 * type for the answer scan; the rest is one DNS message (as after framing),
 * and the whole input is also fed to the stream framer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/config.h"
#include "policy/dnswire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[HASTLS_DNS_MAX_MSG + 1];
    size_t n, total, next, qend, olen;
    char name[HASTLS_NAME_MAX];
    struct hastls_rr rr[8];

    /* Framing: walk the input as a TCP stream of length-prefixed messages. */
    size_t off = 0;
    while (hastls_dns_frame(data + off, size - off, &n))
        off += n + 2;
    if (off > size)
        abort();
    if (size < 1)
        return 0;
    uint16_t qtype = data[0];
    const uint8_t *msg = data + 1;
    size_t len = size - 1;

    /* The copies make ASan see any read past the message's own length. */
    uint8_t *m = malloc(len ? len : 1);
    if (!m)
        return 0;
    memcpy(m, msg, len);

    if (len >= HASTLS_DNS_HEADER_LEN) {
        hastls_dns_answer_records(m, len, qtype, rr, 8, &n, &total);
        if (hastls_dns_answer_records(m, len, qtype, rr, 8, &n, &total) == 0) {
            if (n > 8 || n > total)
                abort();
            for (size_t i = 0; i < n; i++)
                if (rr[i].rdata < m || rr[i].rdata + rr[i].rdlen > m + len)
                    abort();
        }
        hastls_dns_same_question(m, len, m, len);
        if (hastls_dns_has_do(m, len) > 1)
            abort();
        if (hastls_dns_check_query(m, len, &qend) == 0) {
            if (qend > len)
                abort();
            if (hastls_dns_servfail(m, qend, out, sizeof out) != qend)
                abort();
        }
        if (hastls_dns_pad(m, len, HASTLS_DNS_PAD_BLOCK, out, sizeof out, &olen) == 0) {
            if (olen % HASTLS_DNS_PAD_BLOCK || olen > HASTLS_DNS_MAX_MSG || olen < len)
                abort();
            /* Padding its own output must be stable. */
            uint8_t *again = malloc(olen);
            size_t alen;
            if (again) {
                memcpy(again, out, olen);
                if (hastls_dns_pad(again, olen, HASTLS_DNS_PAD_BLOCK, out, sizeof out,
                                   &alen) != 0 ||
                    alen != olen)
                    abort();
                free(again);
            }
        }
    }
    /* Names at every offset. */
    for (size_t o = 0; o < len && o < 64; o++) {
        if (hastls_dns_read_name(m, len, o, name, sizeof name, &next) == 0 &&
            (next > len || strlen(name) >= sizeof name))
            abort();
        if (hastls_dns_skip_name(m, len, o, &next) == 0 && next > len)
            abort();
    }
    free(m);
    return 0;
}
