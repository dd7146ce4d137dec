/* policy/record.c: record states and the lookup rules (see record.h). */
#include "policy/record.h"

#include <netdb.h>
#include <sys/socket.h>

#define TYPE_A 1
#define TYPE_AAAA 28
#define RCODE_NOERROR 0
#define RCODE_SERVFAIL 2
#define RCODE_NXDOMAIN 3

const char *hastls_sec_name(enum hastls_sec s)
{
    switch (s) {
    case HASTLS_SEC_SECURE:
        return "secure";
    case HASTLS_SEC_INSECURE:
        return "insecure";
    case HASTLS_SEC_BOGUS:
        return "bogus";
    case HASTLS_SEC_FAILED:
        return "failed";
    }
    return "?";
}

const char *hastls_rec_name(enum hastls_rec r)
{
    switch (r) {
    case HASTLS_REC_SECURE:
        return "secure";
    case HASTLS_REC_NONE:
        return "none";
    case HASTLS_REC_INSECURE:
        return "insecure";
    case HASTLS_REC_BOGUS:
        return "bogus";
    case HASTLS_REC_FAILED:
        return "failed";
    case HASTLS_REC_PINNED:
        return "pinned";
    case HASTLS_REC_HTTPS:
        return "https";
    }
    return "?";
}

enum hastls_rec hastls_rec_state(enum hastls_sec status, int rcode, int decode_err,
                                 size_t npairs)
{
    switch (status) {
    case HASTLS_SEC_SECURE:
        break;
    case HASTLS_SEC_INSECURE:
        return HASTLS_REC_INSECURE;
    case HASTLS_SEC_BOGUS:
        return HASTLS_REC_BOGUS;
    case HASTLS_SEC_FAILED:
    default:
        return HASTLS_REC_FAILED;
    }
    if (rcode == RCODE_NXDOMAIN)
        return HASTLS_REC_NONE;
    if (rcode != RCODE_NOERROR)
        return HASTLS_REC_FAILED;
    /* A signed record we cannot read: its owner meant something we do not
     * know; treated like a failed validation (the bogus policy applies). */
    if (decode_err != HASTLS_RR_OK)
        return HASTLS_REC_BOGUS;
    return npairs ? HASTLS_REC_SECURE : HASTLS_REC_NONE;
}

int hastls_rec_decode(const struct hastls_rr *rr, size_t nrr, uint16_t rtype,
                      struct hastls_pair *pairs, size_t cap, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < nrr; i++) {
        if (rr[i].type != rtype)
            continue;
        int rc = hastls_rdata_decode(rr[i].rdata, rr[i].rdlen, pairs, cap, n);
        if (rc != HASTLS_RR_OK)
            return rc;
    }
    return HASTLS_RR_OK;
}

enum hastls_rec hastls_rec_of(enum hastls_sec status, int rcode,
                              const struct hastls_rr *rr, size_t nrr, uint16_t rtype,
                              struct hastls_pair *pairs, size_t cap, size_t *npairs,
                              int *decode_err)
{
    int err = hastls_rec_decode(rr, nrr, rtype, pairs, cap, npairs);
    if (decode_err)
        *decode_err = err;
    return hastls_rec_state(status, rcode, err, *npairs);
}

int hastls_addrs_signed(const struct hastls_addr_answer addr[2])
{
    for (int i = 0; i < 2; i++)
        if (addr[i].status == HASTLS_SEC_SECURE &&
            (addr[i].rcode == RCODE_NOERROR || addr[i].rcode == RCODE_NXDOMAIN))
            return 1;
    return 0;
}

int hastls_owner_answer(const struct hastls_addr_answer addr[2])
{
    return addr[HASTLS_ANS_A].n ? HASTLS_ANS_A : HASTLS_ANS_AAAA;
}

enum hastls_rec hastls_rec_in_zone(enum hastls_rec rec, int zone_signed)
{
    return rec == HASTLS_REC_FAILED && zone_signed ? HASTLS_REC_BOGUS : rec;
}

int hastls_rr_address_family(const struct hastls_rr *rr)
{
    if (rr->type == TYPE_A && rr->rdlen == 4)
        return AF_INET;
    if (rr->type == TYPE_AAAA && rr->rdlen == 16)
        return AF_INET6;
    return 0;
}

int hastls_host_result(int family, const struct hastls_addr_answer ans[2], int *cause)
{
    int asked[2], na = 0;
    if (family != AF_INET6)
        asked[na++] = HASTLS_ANS_A;
    if (family != AF_INET)
        asked[na++] = HASTLS_ANS_AAAA;
    size_t addrs = 0;
    int failed = -1, nx = 0;
    for (int i = 0; i < na; i++) {
        const struct hastls_addr_answer *a = &ans[asked[i]];
        if (a->status == HASTLS_SEC_BOGUS) {
            if (cause)
                *cause = asked[i];
            return EAI_FAIL;
        }
        if (failed < 0 && (a->status == HASTLS_SEC_FAILED || a->rcode == RCODE_SERVFAIL ||
                           a->rcode < 0))
            failed = asked[i];
        nx |= a->rcode == RCODE_NXDOMAIN;
        addrs += a->n;
    }
    if (cause)
        *cause = failed >= 0 ? failed : asked[0];
    if (addrs)
        return 0;
    if (failed >= 0)
        return EAI_AGAIN;
    return nx ? EAI_NONAME : EAI_NODATA;
}

int hastls_local_result(int family, size_t n4, size_t n6)
{
    size_t have = family == AF_INET ? n4 : family == AF_INET6 ? n6 : n4 + n6;
    return have ? 0 : EAI_NONAME;
}

const char *hastls_host_result_name(int result)
{
    switch (result) {
    case 0:
        return "ok";
    case EAI_NONAME:
        return "EAI_NONAME";
    case EAI_NODATA:
        return "EAI_NODATA";
    case EAI_AGAIN:
        return "EAI_AGAIN";
    case EAI_FAIL:
        return "EAI_FAIL";
    case EAI_MEMORY:
        return "EAI_MEMORY";
    }
    return "?";
}

int hastls_raw_herr(enum hastls_sec status, int rcode, unsigned ancount)
{
    if (status == HASTLS_SEC_FAILED || status == HASTLS_SEC_BOGUS || rcode < 0)
        return TRY_AGAIN;
    switch (rcode) {
    case RCODE_NOERROR:
        return ancount ? NETDB_SUCCESS : NO_DATA;
    case RCODE_NXDOMAIN:
        return HOST_NOT_FOUND;
    case RCODE_SERVFAIL:
        return TRY_AGAIN;
    default:
        return NO_RECOVERY;
    }
}
