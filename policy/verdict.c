/* policy/verdict.c: a connection's verdict from its name's record state (see
 * verdict.h). */
#include "policy/verdict.h"

#include <stdio.h>

static const struct hastls_decision allow_unlisted = {
    HASTLS_CLASS_UNLISTED, HASTLS_VERDICT_ALLOW, {0, 0}};

struct hastls_decision hastls_rec_decide(enum hastls_rec rec,
                                         const struct hastls_pair *pairs, size_t n,
                                         uint16_t port, enum hastls_client client,
                                         enum hastls_bogus bogus)
{
    struct hastls_decision d = allow_unlisted;
    if (hastls_rec_enforced(rec))
        return hastls_decide(pairs, n, port, client);
    if (hastls_rec_blocks_all(rec, bogus))
        d.verdict = HASTLS_VERDICT_BLOCK;
    return d;
}

int hastls_rec_enforced(enum hastls_rec rec)
{
    return rec == HASTLS_REC_SECURE || rec == HASTLS_REC_PINNED ||
           rec == HASTLS_REC_HTTPS;
}

int hastls_rec_blocks_all(enum hastls_rec rec, enum hastls_bogus bogus)
{
    /* An out-of-range bogus setting counts as block: fail closed. */
    return rec == HASTLS_REC_BOGUS && bogus != HASTLS_BOGUS_IGNORE;
}

int hastls_verdict_rank(enum hastls_verdict v)
{
    switch (v) {
    case HASTLS_VERDICT_ALLOW:
        return 0;
    case HASTLS_VERDICT_ALLOW_NOTE:
        return 1;
    case HASTLS_VERDICT_BLOCK:
        break;
    }
    return 2; /* out of range: the strictest */
}

static const char *rec_text(enum hastls_rec rec, enum hastls_bogus bogus)
{
    switch (rec) {
    case HASTLS_REC_SECURE:
    case HASTLS_REC_PINNED:
    case HASTLS_REC_HTTPS:
        return NULL; /* the decision's own reason */
    case HASTLS_REC_BOGUS:
        return hastls_rec_blocks_all(rec, bogus)
                   ? "its HASTLS record is bogus (it failed DNSSEC validation, or is "
                     "signed but cannot be used; bogus = block)"
                   : "its HASTLS record is bogus (it failed DNSSEC validation, or is "
                     "signed but cannot be used), ignored (bogus = ignore)";
    case HASTLS_REC_NONE:
        return "no HASTLS record (DNSSEC-secure absence): nothing to enforce";
    case HASTLS_REC_INSECURE:
        return "the HASTLS record is insecure (unsigned): never enforced";
    case HASTLS_REC_FAILED:
        break;
    }
    return "the HASTLS lookup failed: allowed with a warning";
}

const char *hastls_rec_reason(enum hastls_rec rec, enum hastls_bogus bogus,
                              const struct hastls_decision *d, uint16_t port, char *buf,
                              size_t buflen)
{
    const char *text = rec_text(rec, bogus);
    if (!text && (rec == HASTLS_REC_PINNED || rec == HASTLS_REC_HTTPS)) {
        char why[256];
        hastls_decision_reason(d, port, why, sizeof why);
        if (buflen)
            snprintf(buf, buflen, "%s (%s)", why,
                     rec == HASTLS_REC_PINNED
                         ? "pinned: an earlier secure lookup's record, which the current "
                           "HASTLS lookup could not confirm or deny"
                         : "the pair (80 443) of its DNSSEC-secure HTTPS record, "
                           "https_rr = enforce");
        return buf;
    }
    if (!text)
        return hastls_decision_reason(d, port, buf, buflen);
    if (buflen)
        snprintf(buf, buflen, "%s", text);
    return buf;
}

const char *hastls_rec_effect(enum hastls_rec rec, enum hastls_bogus bogus)
{
    switch (rec) {
    case HASTLS_REC_SECURE:
        return "enforced";
    case HASTLS_REC_PINNED:
        return "pinned";
    case HASTLS_REC_HTTPS:
        return "https-rr";
    case HASTLS_REC_NONE:
        return "absent";
    case HASTLS_REC_INSECURE:
        return "insecure";
    case HASTLS_REC_BOGUS:
        return hastls_rec_blocks_all(rec, bogus) ? "bogus-block" : "bogus-ignore";
    case HASTLS_REC_FAILED:
        break;
    }
    return "failed";
}

const char *hastls_rec_explanation(enum hastls_rec rec, enum hastls_bogus bogus)
{
    switch (rec) {
    case HASTLS_REC_SECURE:
        return "enforced: the record is DNSSEC-secure";
    case HASTLS_REC_PINNED:
        return "enforced: a pin keeps the record of an earlier secure lookup, which "
               "the current lookup could not confirm or deny";
    case HASTLS_REC_HTTPS:
        return "enforced: no usable HASTLS record, but a DNSSEC-secure HTTPS record "
               "stands for the pair (80 443) (https_rr = enforce)";
    case HASTLS_REC_NONE:
        return "not enforced: DNSSEC proves there is no HASTLS record, nothing to "
               "enforce";
    case HASTLS_REC_INSECURE:
        return "not enforced: the record is not DNSSEC-signed (insecure), and an "
               "insecure record is never enforced";
    case HASTLS_REC_BOGUS:
        return hastls_rec_blocks_all(rec, bogus)
                   ? "bogus: every connection to this name is blocked (bogus = block)"
                   : "not enforced: the record is bogus and bogus = ignore";
    case HASTLS_REC_FAILED:
        break;
    }
    return "not enforced: the HASTLS lookup failed; connections are allowed with a "
           "warning";
}

struct hastls_decision hastls_ungoverned_decide(void)
{
    return allow_unlisted;
}

const char *hastls_ungoverned_effect(enum hastls_ungoverned u)
{
    return u == HASTLS_UNGOVERNED_LITERAL ? "literal" : "hosts";
}

const char *hastls_ungoverned_reason(enum hastls_ungoverned u)
{
    return u == HASTLS_UNGOVERNED_LITERAL
               ? "an address no lookup returned is not governed"
               : "a hosts-file name is not governed (no DNS, no record)";
}

const char *hastls_ungoverned_explanation(enum hastls_ungoverned u)
{
    return u == HASTLS_UNGOVERNED_LITERAL
               ? "not governed: an address literal; the shim decides a connection to "
                 "an address only by the names a lookup in the program returned it for"
               : "not governed: the shim answers this name from the hosts file, "
                 "without DNS, so there is no HASTLS record to enforce";
}
