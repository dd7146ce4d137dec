/* policy/verdict.h: the verdict for a connection, from a name's record state.
 *
 * policy/decide.h classifies a port against a secure record; the functions
 * here add what the record state means (only a secure record is enforced, a
 * bogus one blocks everything under bogus = block), which of several names'
 * verdicts wins on a shared address, and the reason texts the shim logs and
 * `hastls check` prints.  The shim's address map, its enforcement and the CLI
 * all call these; none has a rule of its own.
 *
 * Pure; hastls_rec_decide() and hastls_verdict_rank() run on every governed
 * connect() and neither allocates nor formats.
 */
#ifndef HASTLS_POLICY_VERDICT_H
#define HASTLS_POLICY_VERDICT_H

#include <stddef.h>
#include <stdint.h>

#include "policy/config.h"
#include "policy/decide.h"
#include "policy/hastls_rr.h"
#include "policy/record.h"

/* The decision for PORT under CLIENT from a name whose record state is REC
 * (PAIRS[0..N) are used only for a secure record):
 *   secure, pinned         -> the decision table (hastls_decide);
 *   bogus, bogus = block   -> block (class unlisted, no pair);
 *   anything else          -> allow (class unlisted). */
struct hastls_decision hastls_rec_decide(enum hastls_rec rec,
                                         const struct hastls_pair *pairs, size_t n,
                                         uint16_t port, enum hastls_client client,
                                         enum hastls_bogus bogus);

/* Whether the record decides connections by its pairs (a secure one, or a
 * pinned one). */
int hastls_rec_enforced(enum hastls_rec rec);

/* Whether the record blocks every connection to its name. */
int hastls_rec_blocks_all(enum hastls_rec rec, enum hastls_bogus bogus);

/* How strict a verdict is: block > allow with a note > allow.  When several
 * names share an address, the verdict of highest rank wins (the first of
 * equal rank). */
int hastls_verdict_rank(enum hastls_verdict v);

/* The reason for decision D (from hastls_rec_decide) on PORT, written into
 * BUF; returns BUF.  For a secure record hastls_decision_reason()'s text; for
 * the other states one sentence saying why the record does not decide (or
 * blocks everything). */
const char *hastls_rec_reason(enum hastls_rec rec, enum hastls_bogus bogus,
                              const struct hastls_decision *d, uint16_t port, char *buf,
                              size_t buflen);

/* What the record state means for the name's connections, one word each:
 * "enforced", "absent", "insecure", "bogus-block", "bogus-ignore", "failed". */
const char *hastls_rec_effect(enum hastls_rec rec, enum hastls_bogus bogus);

/* The same as a sentence, e.g. "enforced: the record is DNSSEC-secure". */
const char *hastls_rec_explanation(enum hastls_rec rec, enum hastls_bogus bogus);

/* Names whose connections are never governed: an address literal (never
 * looked up) and a name answered from the hosts file (no DNS, no record). */
enum hastls_ungoverned {
    HASTLS_UNGOVERNED_LITERAL,
    HASTLS_UNGOVERNED_HOSTS,
};

/* Their decision: allow, class unlisted. */
struct hastls_decision hastls_ungoverned_decide(void);
/* "literal", "hosts". */
const char *hastls_ungoverned_effect(enum hastls_ungoverned u);
/* The reason for one connection, and the sentence for the name. */
const char *hastls_ungoverned_reason(enum hastls_ungoverned u);
const char *hastls_ungoverned_explanation(enum hastls_ungoverned u);

#endif
