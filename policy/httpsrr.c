/* policy/httpsrr.c: the HTTPS record as a "serves TLS" signal (see
 * httpsrr.h). */
#include "policy/httpsrr.h"

const struct hastls_pair hastls_https_pairs[1] = {{80, 443}};

static int bad(const char **why, const char *text)
{
    if (why)
        *why = text;
    return -1;
}

int hastls_https_rdata_check(const uint8_t *rdata, size_t len, const char **why)
{
    struct hastls_dns_rd r;
    uint16_t priority;
    hastls_dns_rd_init(&r, rdata, len);
    if (hastls_dns_rd_u16(&r, &priority) < 0)
        return bad(why, "shorter than its priority");
    size_t name = 0;
    for (;;) {
        uint8_t l;
        if (hastls_dns_rd_u8(&r, &l) < 0)
            return bad(why, "the target name is cut short");
        if (l & 0xc0)
            return bad(why,
                       "the target name is compressed or uses a reserved label type");
        name += (size_t)l + 1;
        if (name > HASTLS_DNS_MAX_WIRE_NAME)
            return bad(why, "the target name is longer than 255 octets");
        if (l == 0)
            break;
        if (hastls_dns_rd_skip(&r, l) < 0)
            return bad(why, "the target name is cut short");
    }
    int first = 1;
    uint16_t last = 0;
    while (hastls_dns_rd_left(&r)) {
        uint16_t key, vlen;
        if (priority == 0)
            return bad(why, "an AliasMode record has parameters");
        if (hastls_dns_rd_u16(&r, &key) < 0 || hastls_dns_rd_u16(&r, &vlen) < 0)
            return bad(why, "a parameter is cut short");
        if (!first && key <= last)
            return bad(why, "parameter keys are not in increasing order");
        if (hastls_dns_rd_skip(&r, vlen) < 0)
            return bad(why, "a parameter's value is cut short");
        first = 0;
        last = key;
    }
    return 0;
}

int hastls_https_signal(enum hastls_sec status, int rcode, const struct hastls_rr *rr,
                        size_t n)
{
    if (status != HASTLS_SEC_SECURE || rcode != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (rr[i].type == HASTLS_DNS_TYPE_HTTPS &&
            hastls_https_rdata_check(rr[i].rdata, rr[i].rdlen, NULL) == 0)
            return 1;
    return 0;
}

int hastls_https_answer(enum hastls_sec status, int rcode, const struct hastls_rr *rr,
                        size_t n)
{
    if (hastls_https_signal(status, rcode, rr, n))
        return 1;
    return status == HASTLS_SEC_SECURE && (rcode == 0 || rcode == 3) ? 0 : -1;
}

enum hastls_rec hastls_https_governs(enum hastls_rec rec, int signal,
                                     enum hastls_https_rr mode)
{
    if (mode != HASTLS_HTTPS_RR_ENFORCE || !signal)
        return rec;
    if (rec == HASTLS_REC_NONE || rec == HASTLS_REC_INSECURE || rec == HASTLS_REC_FAILED)
        return HASTLS_REC_HTTPS;
    return rec;
}
