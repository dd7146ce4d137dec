/* tests/fuzz/fuzz_dns_wire.c: every parser of network bytes in
 * policy/dnswire.c on arbitrary input.  The first byte picks a query
 * type for the answer scan; the rest is one DNS message (as after framing),
 * and the whole input is also fed to the stream framer.  The message is also
 * given to the transport's builders: the upstream form of a query, a reply
 * built from the message to itself, the question key and a query built from
 * each suffix of a name. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/config.h"
#include "policy/dnswire.h"

/* The builders the transport uses, with their promises checked. */
static void check_builders(const uint8_t *m, size_t len)
{
    static uint8_t out[HASTLS_DNS_MAX_MSG + 1], key[HASTLS_DNS_MAX_MSG];
    size_t olen, qend, labels[128], n, end;
    uint16_t id;
    struct hastls_dns_question q;

    if (hastls_dns_response_id(m, len, &id) == 0 && hastls_dns_rcode(m, len) < 0)
        abort();
    size_t kl = hastls_dns_question_key(m, len, key, sizeof key);
    if (kl > len)
        abort();
    if (hastls_dns_parse_query(m, len, &q) == 0) {
        if (q.end > len || q.name_off + q.name_len + 4 != q.end || kl != q.end - 12)
            abort();
        if (hastls_dns_upstream_query(m, len, 0x5a5a, HASTLS_DNS_PAD_BLOCK, out,
                                      sizeof out, &olen) < 0 ||
            hastls_dns_id(out) != 0x5a5a || !(out[3] & 0x10) ||
            !hastls_dns_same_question(m, len, out, olen))
            abort();
        /* The answer path: a copy of the message answers the message. */
        if (hastls_dns_reply_for(m, len, m, len, out, sizeof out, &olen) < 0 ||
            olen != len || memcmp(out, m, len))
            abort();
        /* The prefetch path: a query for every suffix of the question name. */
        if (hastls_dns_name_labels(m, len, q.name_off, labels, 128, &n, &end) == 0) {
            if (end != q.name_off + q.name_len)
                abort();
            for (size_t i = 0; i < n; i++) {
                if (labels[i] < q.name_off || labels[i] >= end)
                    abort();
                if (hastls_dns_build_query(m + labels[i], end - labels[i],
                                           HASTLS_DNS_TYPE_DS, 1, out, sizeof out, &olen,
                                           &qend) < 0 ||
                    hastls_dns_check_query(out, olen, &qend) < 0 ||
                    hastls_dns_has_do(out, olen) != 1)
                    abort();
            }
        }
    } else if (hastls_dns_upstream_query(m, len, 1, 0, out, sizeof out, &olen) == 0 &&
               (olen != len || hastls_dns_id(out) != 1)) {
        abort();
    }
}

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
    check_builders(m, len);
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
