/* shim/core/addrmap.h: address -> the names that resolved to it, with what each
 * name's HASTLS lookup said.
 *
 * connect() sees only an address; every lookup records each address it
 * returned with the name, the HASTLS verdict inputs and an expiry.  Several
 * names may share an address (virtual hosting, CDNs): the strictest verdict of
 * the live names wins.  When every name of an address has expired the stale
 * ones still govern (strictest wins) until the room is needed: programs keep
 * addresses far longer than DNS TTLs (connection pools, their own caches), and
 * forgetting would silently stop protecting them.  Bounded: at most MAX
 * (address, name) records, evicted expired-first then by the clock algorithm.
 * A reader/writer lock: connect() takes it shared.  The verdict rules are
 * policy/verdict.h's; this file only keeps the records.
 */
#ifndef HASTLS_SHIM_ADDRMAP_H
#define HASTLS_SHIM_ADDRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "policy/checked.h"
#include "policy/config.h"
#include "policy/decide.h"
#include "policy/hastls_rr.h"
#include "policy/record.h"

struct hastls_addrmap;

struct hastls_addrmap *hastls_addrmap_new(size_t max_records);
void hastls_addrmap_free(struct hastls_addrmap *m);

/* Records that NAME resolved to KEY (see ip.h), with the record state REC,
 * the pairs of a secure record and the expiry (hastls_now() seconds; NOW is
 * the current time, for evicting expired records first).  An existing (KEY,
 * NAME) record is replaced.  Returns 0 with *REF (if not NULL) set to the new
 * record's reference (never 0; see hastls_addrmap_holds), or -1 when out of
 * memory: KEY is then not governed by NAME, and an address that is not
 * governed must not be handed out. */
HASTLS_MUST_CHECK int
hastls_addrmap_record(struct hastls_addrmap *m, const uint8_t key[16], const char *name,
                      enum hastls_rec rec, const struct hastls_pair *pairs, size_t n,
                      uint64_t expires, uint64_t now, uint64_t *ref);

/* Whether the record REF refers to is still held (not evicted, not
 * replaced).  Lock-free: one atomic load, for the front cache's warm path. */
int hastls_addrmap_holds(struct hastls_addrmap *m, uint64_t ref);

struct hastls_addrmap_verdict {
    char name[HASTLS_NAME_MAX]; /* the name that decided */
    enum hastls_rec rec;
    struct hastls_decision d; /* verdict; for a bogus block cls is UNLISTED */
    int stale;                /* decided by expired records only */
};

/* Decides a connection to KEY, PORT for CLIENT.  Returns 0 when no name ever
 * resolved to KEY (not governed; OUT untouched), else 1 with OUT set. */
int hastls_addrmap_decide(struct hastls_addrmap *m, const uint8_t key[16], uint16_t port,
                          enum hastls_client client, enum hastls_bogus bogus,
                          uint64_t now, struct hastls_addrmap_verdict *out);

size_t hastls_addrmap_count(struct hastls_addrmap *m);

/* fork() handling, as for the cache. */
void hastls_addrmap_lock(struct hastls_addrmap *m);
void hastls_addrmap_unlock(struct hastls_addrmap *m);
void hastls_addrmap_reinit_lock(struct hastls_addrmap *m);

#endif
