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
 * (address, name) records, evicted expired-first then by the clock algorithm,
 * and at most HASTLS_ADDRMAP_MAX_NAMES names per address, so that deciding a
 * connection reads only its address's names and never more than that.  When
 * an address has that many, a new name makes room by the rule of
 * hastls_addrmap_record, which never drops a name in favour of a looser one
 * (fail closed).  A reader/writer lock: connect() takes it shared.  The
 * verdict rules are policy/verdict.h's; this file only keeps the records.
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

#define HASTLS_ADDRMAP_MAX_NAMES 64 /* names kept per address */
#define HASTLS_ADDRMAP_FULL (-2)    /* hastls_addrmap_record: see there */

/* Records that NAME resolved to KEY (see ip.h), with the record state REC,
 * the pairs of a secure record and the expiry (hastls_now() seconds; NOW is
 * the current time, for evicting expired records first).  An existing (KEY,
 * NAME) record is replaced, except that a failed record (the HASTLS answer
 * did not come) never replaces a live secure or bogus one: a fault loosens
 * nothing.
 *
 * When KEY already has HASTLS_ADDRMAP_MAX_NAMES other names, one goes or the
 * new one is not kept, in this order (what a name says must still be said
 * by one that stays at least as long, or count no more):
 *   1. an expired name (the new one is live; expired names do not count
 *      while a live one governs), the earliest first;
 *   2. a name whose verdicts, for every port and client, another name gives
 *      too (every name that allows all -- failed, insecure, no record --
 *      counts alike; else the same state and pairs) and that expires no
 *      later than that one: the earliest; when that is the new name it is
 *      not kept, the other stands for it;
 *   3. a new name that allows everything is not kept: every name there is
 *      stricter;
 *   4. otherwise nothing can go without loosening a verdict: refused with
 *      HASTLS_ADDRMAP_FULL.
 * Returns 0 with *REF (if not NULL) set to the reference of the record that
 * now stands for NAME at KEY (never 0; see hastls_addrmap_holds), or -1 when
 * out of memory, or HASTLS_ADDRMAP_FULL: KEY is then not governed by NAME,
 * and an address that is not governed must not be handed out. */
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

/* The number of names KEY has (tests, the benchmark). */
size_t hastls_addrmap_names(struct hastls_addrmap *m, const uint8_t key[16]);

/* fork() handling, as for the cache. */
void hastls_addrmap_lock(struct hastls_addrmap *m);
void hastls_addrmap_unlock(struct hastls_addrmap *m);
void hastls_addrmap_reinit_lock(struct hastls_addrmap *m);

#endif
