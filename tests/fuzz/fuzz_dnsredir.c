/* tests/fuzz/fuzz_dnsredir.c: the answer to a program's own DNS query
 * (policy/dnswire.c's client_* functions) on arbitrary input.  The input is a
 * query and a resolver response: the first two bytes give the query's length
 * (the rest is the response), the third byte whether the answer is secure and
 * its size limit.  The same bytes are also read as an SRV and an MX record.
 * Every answer built must be a message whose header is ours: the query's ID,
 * QR set, one question (the query's bytes) when it had one, at most the
 * limit for UDP. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/dnswire.h"

static void check_answer(const uint8_t *q, size_t qlen,
                         const struct hastls_dns_client_query *cq, const uint8_t *out,
                         size_t n, size_t limit)
{
    if (n < HASTLS_DNS_HEADER_LEN || n > limit || hastls_dns_id(out) != cq->id ||
        !(out[2] & 0x80))
        abort();
    if (cq->qd_ok) {
        if (hastls_dns_count(out, 0) != 1 || n < cq->q.end ||
            memcmp(out + 12, q + 12, cq->q.end - 12))
            abort();
    }
    (void)qlen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[HASTLS_DNS_MAX_MSG];
    char name[256];
    if (size < 3)
        return 0;
    size_t qlen = ((size_t)data[0] << 8 | data[1]);
    int secure = data[2] & 1;
    size_t limit = data[2] & 2 ? HASTLS_DNS_MAX_MSG : 512 + (size_t)(data[2] >> 2) * 8;
    const uint8_t *q = data + 3, *p;
    size_t rest = size - 3, plen;
    if (qlen > rest)
        qlen = rest;
    p = q + qlen;
    plen = rest - qlen;

    struct hastls_dns_client_query cq;
    size_t n;
    if (hastls_dns_client_query_parse(q, qlen, &cq) == 0) {
        if (cq.qd_ok && cq.q.end > qlen)
            abort();
        if (hastls_dns_client_udp_limit(&cq) < 512 ||
            hastls_dns_client_udp_limit(&cq) > HASTLS_DNS_EDNS_UDP_SIZE)
            abort();
        if (hastls_dns_client_error(q, qlen, &cq, HASTLS_DNS_RCODE_SERVFAIL,
                                    HASTLS_DNS_EDE_BOGUS, "reason", out, sizeof out,
                                    &n) == 0)
            check_answer(q, qlen, &cq, out, n, sizeof out);
        if (cq.rcode == 0 && hastls_dns_client_reply(q, qlen, &cq, p, plen, secure, limit,
                                                     out, sizeof out, &n) == 0) {
            check_answer(q, qlen, &cq, out, n, limit);
            /* What we built parses as a response to the same question. */
            if (!hastls_dns_same_question(q, qlen, out, n))
                abort();
            size_t cnt, total;
            if (hastls_dns_answer_records(out, n, cq.q.qtype, NULL, 0, &cnt, &total) < 0)
                abort();
        }
        /* The response's own question as a query of its own. */
        (void)hastls_dns_client_reply(p, plen, &cq, q, qlen, secure, limit, out,
                                      sizeof out, &n);
    }
    (void)hastls_dns_target_name(data, size, 33, p, plen, name, sizeof name);
    (void)hastls_dns_target_name(data, size, 15, p, plen, name, sizeof name);
    (void)hastls_dns_target_name(NULL, 0, 33, q, qlen, name, sizeof name);
    return 0;
}
