/* shim/core/danematch.c: a presented certificate chain against TLSA records
 * (see danematch.h). */
#include <stdio.h>
#include <string.h>

#include "shim/core/danematch.h"

#define DIGEST_MAX 64

const char *hastls_danematch_usage_name(uint8_t usage)
{
    switch (usage) {
    case HASTLS_TLSA_PKIX_TA:
        return "PKIX-TA";
    case HASTLS_TLSA_PKIX_EE:
        return "PKIX-EE";
    case HASTLS_TLSA_DANE_TA:
        return "DANE-TA";
    case HASTLS_TLSA_DANE_EE:
        return "DANE-EE";
    default:
        return "?";
    }
}

/* Whether record T matches certificate I of the chain. */
static int matches(const struct hastls_tlsa *t, const struct hastls_danematch_ops *ops,
                   size_t i)
{
    const uint8_t *der = NULL;
    size_t len = 0;
    int rc;
    if (t->selector == 0)
        rc = ops->cert(ops->ctx, i, &der, &len);
    else if (t->selector == 1)
        rc = ops->spki(ops->ctx, i, &der, &len);
    else
        return 0;
    if (rc < 0 || !der || len == 0)
        return 0;
    if (t->mtype == 0)
        return len == t->dlen && !memcmp(der, t->data, len);
    if (t->mtype != 1 && t->mtype != 2)
        return 0;
    uint8_t d[DIGEST_MAX];
    size_t dl = 0;
    if (ops->digest(ops->ctx, t->mtype, der, len, d, &dl) < 0 || dl > DIGEST_MAX ||
        dl != t->dlen)
        return 0;
    return !memcmp(d, t->data, dl);
}

/* What the DANE-TA record T says: 0 authenticated (at *DEPTH), 1 an anchor
 * matched but the name did not, 2 an anchor matched but no path leads
 * there, -1 no anchor matched.  WHY gets the reason for 1 and 2. */
static int dane_ta(const struct hastls_tlsa *t, const char *name,
                   const struct hastls_danematch_ops *ops, size_t *depth, char *why,
                   size_t whylen)
{
    int best = -1;
    char w[128];
    for (size_t j = 1; j < ops->n; j++) {
        if (!matches(t, ops, j))
            continue;
        w[0] = '\0';
        int rc = ops->ta_path(ops->ctx, j, NULL, 0, name, w, sizeof w);
        if (rc == 0) {
            *depth = j;
            return 0;
        }
        int kind = rc == 1 ? 1 : 2;
        if (best < 0 || kind < best) {
            best = kind;
            snprintf(why, whylen, "%s", w[0] ? w : "no valid path to it");
        }
    }
    /* A whole certificate in the record is an anchor the server need not
     * send. */
    if (t->selector == 0 && t->mtype == 0) {
        w[0] = '\0';
        int rc = ops->ta_path(ops->ctx, 0, t->data, t->dlen, name, w, sizeof w);
        if (rc == 0) {
            *depth = ops->n;
            return 0;
        }
        /* a certificate that is no issuer of the chain is no match at all */
        if (rc == 1 && (best < 0 || best > 1)) {
            best = 1;
            snprintf(why, whylen, "%s", w[0] ? w : "the name does not match");
        }
    }
    return best;
}

enum hastls_danematch_verdict hastls_danematch(const struct hastls_dane_set *set,
                                               const char *name,
                                               const struct hastls_danematch_ops *ops,
                                               struct hastls_danematch_result *out)
{
    memset(out, 0, sizeof *out);
    out->verdict = HASTLS_DANEMATCH_FAIL;
    if (!ops->n) {
        snprintf(out->reason, sizeof out->reason,
                 "the peer presented no certificate, and %s has TLSA records",
                 set->owner);
        return out->verdict;
    }
    int pkix = 0, ta_seen = 0;
    char ta_why[128] = "";
    for (size_t r = 0; r < set->n; r++) {
        const struct hastls_tlsa *t = &set->rec[r];
        size_t depth = 0;
        switch (t->usage) {
        case HASTLS_TLSA_DANE_EE:
            if (matches(t, ops, 0)) {
                out->verdict = HASTLS_DANEMATCH_DANE;
                out->name_mismatch = 0;
                out->record = r;
                out->depth = 0;
                return out->verdict;
            }
            break;
        case HASTLS_TLSA_DANE_TA: {
            char why[128] = "";
            int rc = dane_ta(t, name, ops, &depth, why, sizeof why);
            if (rc == 0) {
                out->verdict = HASTLS_DANEMATCH_DANE;
                out->name_mismatch = 0;
                out->record = r;
                out->depth = depth;
                return out->verdict;
            }
            if (rc > 0 && (!ta_seen || (rc == 1 && !out->name_mismatch))) {
                ta_seen = 1;
                out->name_mismatch = rc == 1;
                snprintf(ta_why, sizeof ta_why, "%s", why);
            }
            break;
        }
        case HASTLS_TLSA_PKIX_EE:
            if (!pkix && matches(t, ops, 0)) {
                pkix = 1;
                out->record = r;
                out->depth = 0;
            }
            break;
        case HASTLS_TLSA_PKIX_TA:
            for (size_t j = 1; !pkix && j < ops->n; j++)
                if (matches(t, ops, j)) {
                    pkix = 1;
                    out->record = r;
                    out->depth = j;
                }
            break;
        default:
            break;
        }
    }
    if (pkix) {
        out->verdict = HASTLS_DANEMATCH_PKIX;
        out->name_mismatch = 0;
        return out->verdict;
    }
    if (ta_seen)
        snprintf(out->reason, sizeof out->reason,
                 "no matching DANE TLSA records at %s: a DANE-TA anchor matches, but %s",
                 set->owner, ta_why);
    else
        snprintf(out->reason, sizeof out->reason, "no matching DANE TLSA records at %s",
                 set->owner);
    return out->verdict;
}
