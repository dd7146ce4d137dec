/* shim/core/sharedtab.h: the address memory a user's processes share.
 *
 * An address resolved by any process of the user (through the agent) must be
 * known to connect() in every other process of that user and network
 * namespace, without a round trip on the connect path.  The agent alone
 * writes a table of (address, name, record state, pairs, expiry) slots in a
 * file of the runtime directory; processes map the file read-only.
 *
 * The lessons of nscd's and sssd's memory caches: a reader never trusts what
 * it reads in place.  Every slot carries a sequence counter that the writer
 * makes odd before changing the slot and even after; a reader copies the
 * slot, checks that the counter was even and did not move, then validates the
 * copy (a terminated name, counts in range, a known record state) before
 * using it.  Sizes come from the file's length (fstat), never from the file's
 * own header alone; the header must agree with them.
 *
 * Layout: a header, then NSLOTS slots.  A slot's home is a hash of its
 * address; (address, name) pairs live within HASTLS_SHAREDTAB_PROBE slots of
 * the home (linear probing), so a reader looks at a bounded number of slots.
 * A record with more pairs than a slot holds is marked truncated: the reader
 * then treats the name as failing closed (bogus), never as fewer pairs.
 *
 * Single writer: the agent, serialized by its own event loop.  The table is
 * a cache: a full window evicts the slot that expires first.
 */
#ifndef HASTLS_SHIM_SHAREDTAB_H
#define HASTLS_SHIM_SHAREDTAB_H

#include <stddef.h>
#include <stdint.h>

#include "policy/checked.h"
#include "policy/config.h"
#include "policy/hastls_rr.h"
#include "policy/record.h"

#define HASTLS_SHAREDTAB_MAGIC 0x68617374616231ull /* "hastab1" */
#define HASTLS_SHAREDTAB_PAIRS 16
#define HASTLS_SHAREDTAB_PROBE 16
#define HASTLS_SHAREDTAB_MAX_SLOTS (1u << 20)

#define HASTLS_SHAREDTAB_TRUNCATED 0x1 /* more pairs than a slot holds */

/* One (address, name) entry as a reader gets it: a validated copy. */
struct hastls_sharedtab_entry {
    uint8_t key[16]; /* see shim/core/ip.h */
    char name[HASTLS_NAME_MAX];
    enum hastls_rec rec;
    uint8_t flags;
    uint64_t expires; /* CLOCK_MONOTONIC seconds (hastls_now()) */
    size_t n;
    struct hastls_pair pairs[HASTLS_SHAREDTAB_PAIRS];
};

struct hastls_sharedtab;

/* The size of a table file of NSLOTS slots (a power of two, at most
 * HASTLS_SHAREDTAB_MAX_SLOTS); 0 for a bad NSLOTS. */
size_t hastls_sharedtab_size(uint32_t nslots);

/* Initializes MEM (SIZE bytes, zeroed by the caller, from
 * hastls_sharedtab_size) as an empty writable table.  Returns the table, or
 * NULL for a bad size.  The writer's view. */
struct hastls_sharedtab *hastls_sharedtab_init(void *mem, size_t size);

/* A reader's view of MEM (SIZE bytes, a read-only mapping).  Checks the
 * header against SIZE; NULL when they disagree or the magic is wrong. */
struct hastls_sharedtab *hastls_sharedtab_attach(const void *mem, size_t size);

/* Frees the view (not the memory). */
void hastls_sharedtab_detach(struct hastls_sharedtab *t);

/* Writer: records NAME -> KEY with REC, PAIRS[0..N) and EXPIRES, replacing
 * the same (KEY, NAME); NOW decides which slots are expired.  Returns 0, or
 * -1 for an invalid argument (a name that does not fit). */
HASTLS_MUST_CHECK int hastls_sharedtab_put(struct hastls_sharedtab *t,
                                           const uint8_t key[16], const char *name,
                                           enum hastls_rec rec,
                                           const struct hastls_pair *pairs, size_t n,
                                           uint64_t expires, uint64_t now);

/* Reader: copies the validated entries for KEY (live or not: the caller
 * decides what expired means) into OUT[0..CAP).  Returns how many were
 * copied.  A slot that is being written is retried a few times and then
 * skipped; *BUSY (if not NULL) is set when that happened, so a caller can
 * fail closed rather than miss a name. */
size_t hastls_sharedtab_get(struct hastls_sharedtab *t, const uint8_t key[16],
                            struct hastls_sharedtab_entry *out, size_t cap, int *busy);

/* Writer: marks the file retired (its agent is leaving; a new agent writes a
 * new file).  Reader: whether that happened, so it maps the new file. */
void hastls_sharedtab_retire(struct hastls_sharedtab *t);
int hastls_sharedtab_retired(struct hastls_sharedtab *t);

#endif
