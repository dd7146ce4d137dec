/* policy/record.h: what a lookup's answers mean for the connections that
 * follow.
 *
 * The DNSSEC status of an answer, and the state of a name's HASTLS record
 * derived from the answer to its HASTLS query.  The shim's address memory
 * stores the state; the decision for a connection and the CLI's prediction of
 * it are both taken from it, by the functions here.
 */
#ifndef HASTLS_POLICY_RECORD_H
#define HASTLS_POLICY_RECORD_H

/* The DNSSEC status of one answer. */
enum hastls_sec {
    HASTLS_SEC_SECURE,   /* DNSSEC-validated (AD) */
    HASTLS_SEC_INSECURE, /* provably unsigned */
    HASTLS_SEC_BOGUS,    /* validation failed: reason says why */
    HASTLS_SEC_FAILED,   /* no answer at all under the privacy profile */
};

/* What the HASTLS lookup of a name said. */
enum hastls_rec {
    HASTLS_REC_SECURE,   /* a DNSSEC-secure record: enforced */
    HASTLS_REC_NONE,     /* a secure proof that there is no record: allow */
    HASTLS_REC_INSECURE, /* unsigned: never enforced */
    HASTLS_REC_BOGUS,    /* validation failed (or malformed): block if bogus=block */
    HASTLS_REC_FAILED,   /* no answer: allow (warned at lookup) */
};

/* "secure", "insecure", "bogus", "failed"; "?" out of range. */
const char *hastls_sec_name(enum hastls_sec s);

#endif
