/* policy/decide.h: the connect() decision of seed 000, section 4.
 *
 * shared/DESIGN.md ("The decision") is the specification.  R = the port pairs
 * of a DNSSEC-secure HASTLS RRset, P = the port connected to, W = the
 * well-known cleartext/TLS counterparts.  Rows are tried top to bottom, first
 * match wins:
 *
 *   class         when                                   CIO    CFB         CSO
 *   tls           some pair has s = P, i != P            allow  allow       allow
 *   starttls      some pair has i = s = P                allow  allow       allow
 *   cleartext     some pair has i = P, s != P            allow  allow(info) block
 *   no-cleartext  P unlisted, W(P) = S, R has (0, S)     block  block       block
 *   no-tls        P unlisted, P = W(I), R has (I, 0)     allow  block       block
 *   unlisted      otherwise                              allow  allow       allow
 *
 * Pure and allocation-free: it runs on every governed connect().
 */
#ifndef HASTLS_POLICY_DECIDE_H
#define HASTLS_POLICY_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/config.h"
#include "policy/hastls_rr.h"

enum hastls_class {
    HASTLS_CLASS_TLS,
    HASTLS_CLASS_STARTTLS,
    HASTLS_CLASS_CLEARTEXT,
    HASTLS_CLASS_NO_CLEARTEXT,
    HASTLS_CLASS_NO_TLS,
    HASTLS_CLASS_UNLISTED,
};

enum hastls_verdict {
    HASTLS_VERDICT_ALLOW,
    HASTLS_VERDICT_ALLOW_NOTE, /* allowed, worth a line at info level */
    HASTLS_VERDICT_BLOCK,
};

struct hastls_decision {
    enum hastls_class cls;
    enum hastls_verdict verdict;
    /* the pair that decided it (for the reason text); {0,0} for unlisted */
    struct hastls_pair pair;
};

/* Classifies PORT against PAIRS[0..N) and gives the verdict for CLIENT. */
struct hastls_decision hastls_decide(const struct hastls_pair *pairs, size_t n,
                                     uint16_t port, enum hastls_client client);

/* A human reason for a decision, e.g. "record (0 443) serves 80 only over TLS on
 * 443"; written into BUF, returns BUF.  Called only when a line is logged. */
const char *hastls_decision_reason(const struct hastls_decision *d, uint16_t port,
                                   char *buf, size_t buflen);

/* "tls", "starttls", "cleartext", "no-cleartext", "no-tls", "unlisted". */
const char *hastls_class_name(enum hastls_class c);
/* "allow", "allow", "block" (ALLOW_NOTE prints as allow). */
const char *hastls_verdict_name(enum hastls_verdict v);

/* The well-known port table: the TLS port for a cleartext port, and the
 * cleartext port for a TLS port; 0 when the port has no counterpart. */
uint16_t hastls_wellknown_tls_port(uint16_t cleartext_port);
uint16_t hastls_wellknown_cleartext_port(uint16_t tls_port);

#endif
