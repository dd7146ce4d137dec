/* shim/core/owner.h: the HASTLS record that governs the addresses of a name.
 *
 * A host lookup hands out the addresses of the name that owns them: the
 * canonical name at the end of a CNAME chain.  The record of that name, asked
 * for that name itself, governs them (a CNAME's answer follows the chain
 * with the chain's DNSSEC status, which says nothing about the target's own
 * zone).  Whether its zone is signed is told by its own address answers
 * (policy/record.h: hastls_addrs_signed, hastls_rec_in_zone).
 *
 * The shim's lookups (address memory of the process) and the agent (the
 * address table it shares with the user's processes) both take the record
 * and its expiry from here, so both apply the same rules.
 */
#ifndef HASTLS_SHIM_OWNER_H
#define HASTLS_SHIM_OWNER_H

#include <stddef.h>
#include <stdint.h>

#include "policy/hastls_rr.h"
#include "policy/record.h"
#include "shim/resolver/resolver.h"

/* How to ask more questions: LOOKUP resolves Q[0..NQ) into ANS (0, or -1
 * when it could not ask, logged by it), ANSWER_FREE frees one answer. */
struct hastls_owner_asker {
    int (*lookup)(void *ctx, const struct hastls_query *q, size_t nq,
                  struct hastls_answer **ans);
    void (*answer_free)(void *ctx, struct hastls_answer *a);
    void *ctx;
};

/* The record of the name owning the addresses that KEY resolved to, whose
 * canonical name is CANON.  When CANON is KEY and REC_ANS (KEY's HASTLS
 * answer of type RTYPE) is given, REC_ANS and ADDRS (KEY's address answers of
 * the same batch, as policy/record.h sees them) decide; otherwise CANON's A,
 * AAAA and HASTLS are asked through ASK (a resolver has them cached).  Fills
 * *REC, *RAW (if not NULL: the state the HASTLS answer gave before the
 * signed-zone rule, what the pins need, shim/core/hostpins.h), PAIRS[0..*NP)
 * (room for HASTLS_REC_MAX_PAIRS), WHYBUF (a reason for a
 * bogus or failed record) and *TTL (how long the record holds).  Returns 0,
 * or -1 when ASK could not ask. */
int hastls_owner_record(const struct hastls_owner_asker *ask, const char *key,
                        const char *canon, uint16_t rtype,
                        const struct hastls_answer *rec_ans,
                        const struct hastls_addr_answer addrs[2],
                        struct hastls_pair *pairs, size_t *np, enum hastls_rec *rec,
                        enum hastls_rec *raw, char *whybuf, size_t whylen, uint32_t *ttl);

/* Until when (hastls_now() seconds; NOW is the current time) the address
 * memory keeps addresses whose answers hold ADDR_TTL seconds (the least of
 * them) governed by a record REC holding REC_TTL: as long as both hold; a
 * failed record has no TTL of its own, so as long as the addresses. */
uint64_t hastls_owner_expires(uint64_t now, uint32_t addr_ttl, enum hastls_rec rec,
                              uint32_t rec_ttl);

#endif
