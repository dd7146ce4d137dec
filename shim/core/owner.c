/* shim/core/owner.c: the record that governs a name's addresses (see
 * owner.h). */
#include "shim/core/owner.h"

#include <stdio.h>
#include <strings.h>

#define FAILED_RECORD_TTL 30 /* seconds */

int hastls_owner_record(const struct hastls_owner_asker *ask, const char *key,
                        const char *canon, uint16_t rtype,
                        const struct hastls_answer *rec_ans,
                        const struct hastls_addr_answer addrs[2],
                        struct hastls_pair *pairs, size_t *np, enum hastls_rec *rec,
                        enum hastls_rec *raw_out, char *whybuf, size_t whylen,
                        uint32_t *ttl)
{
    struct hastls_answer *own[3] = {NULL, NULL, NULL};
    struct hastls_addr_answer own_addrs[2] = {addrs[0], addrs[1]};
    int asked = 0;
    const struct hastls_answer *ra = rec_ans;
    if (!ra || strcasecmp(canon, key) != 0) {
        struct hastls_query q[3] = {
            {canon, 1 /* A */}, {canon, 28 /* AAAA */}, {canon, rtype}};
        if (ask->lookup(ask->ctx, q, 3, own) < 0)
            return -1;
        asked = 1;
        for (int i = 0; i < 2; i++) {
            own_addrs[i].status = own[i]->status;
            own_addrs[i].rcode = own[i]->rcode;
            own_addrs[i].n = own[i]->n_rr;
        }
        ra = own[2];
    }
    int derr = HASTLS_RR_OK;
    enum hastls_rec raw = hastls_rec_of(ra->status, ra->rcode, ra->rr, ra->n_rr, rtype,
                                        pairs, HASTLS_REC_MAX_PAIRS, np, &derr);
    *rec = hastls_rec_in_zone(raw, hastls_addrs_signed(own_addrs));
    if (raw_out)
        *raw_out = raw;
    *ttl = ra->ttl;
    /* The codec's error, or the signed zone, explains a bogus state that
     * validation did not. */
    if (*rec == HASTLS_REC_BOGUS && raw == HASTLS_REC_FAILED) {
        snprintf(whybuf, whylen, "unusable record in a signed zone: %s",
                 ra->reason[0] ? ra->reason : "no answer");
        *ttl = FAILED_RECORD_TTL; /* a failure has no TTL of its own */
    } else if (*rec == HASTLS_REC_BOGUS && ra->status != HASTLS_SEC_BOGUS) {
        /* validated, but the codec cannot read it */
        snprintf(whybuf, whylen, "malformed record: %s", hastls_rr_strerror(derr));
    } else {
        snprintf(whybuf, whylen, "%s", ra->reason);
    }
    if (asked) {
        for (int i = 0; i < 2; i++)
            *ttl = *ttl < own[i]->ttl ? *ttl : own[i]->ttl;
        for (int i = 0; i < 3; i++)
            ask->answer_free(ask->ctx, own[i]);
    }
    return 0;
}

uint64_t hastls_owner_expires(uint64_t now, uint32_t addr_ttl, enum hastls_rec rec,
                              uint32_t rec_ttl)
{
    if (rec != HASTLS_REC_FAILED && rec_ttl < addr_ttl)
        addr_ttl = rec_ttl;
    return now + addr_ttl;
}
