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
 * A slot, once used, is never emptied (only replaced), and a new entry takes
 * the first unused or expired slot of its window; so a reader stops at the
 * first slot never used: no entry of that address lies beyond it.
 * A record with more pairs than a slot holds is marked truncated: the reader
 * then treats the name as failing closed (bogus), never as fewer pairs.
 *
 * Single writer: the agent, serialized by its own lock.  The table is a
 * cache: a full window evicts the slot that expires first.
 *
 * The file: RUNDIR/AGENT.tab next to the agent's socket RUNDIR/AGENT.sock
 * (shim/core/rundir.h), mode 0600, owned by the user.  The agent makes it
 * under a temporary name and renames it into place once initialized, marks
 * the file it replaces retired (a reader then maps the new one), and retires
 * and removes its own file when it exits.  A reader maps only a regular file
 * that is its effective uid's, of mode 0600 exactly, whose length agrees
 * with its header; anything else is refused with a reason.
 */
#ifndef HASTLS_SHIM_SHAREDTAB_H
#define HASTLS_SHIM_SHAREDTAB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy/checked.h"
#include "policy/config.h"
#include "policy/hastls_rr.h"
#include "policy/record.h"
#include "shim/core/addrmap.h"

#define HASTLS_SHAREDTAB_MAGIC 0x68617374616231ull /* "hastab1" */
#define HASTLS_SHAREDTAB_PAIRS 16
#define HASTLS_SHAREDTAB_PROBE 16
#define HASTLS_SHAREDTAB_MAX_SLOTS (1u << 20)

#define HASTLS_SHAREDTAB_TRUNCATED 0x1 /* more pairs than a slot holds */

/* The file's name is the agent's name with this suffix. */
#define HASTLS_SHAREDTAB_SUFFIX ".tab"
/* The agent's table: slots (a power of two). */
#define HASTLS_SHAREDTAB_AGENT_SLOTS 4096u

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

/* Reader: the verdict for a connection to KEY, PORT under CLIENT and BOGUS
 * from the table's entries for KEY, with addrmap.h's rule (and
 * policy/verdict.h's functions): the strictest verdict of the live names
 * (expires > NOW), or when none is live, of the stale ones.  Returns 0 when
 * no entry is for KEY (OUT untouched), 1 with OUT set, or -1 when a slot
 * kept changing under the reader: the caller fails closed. */
int hastls_sharedtab_decide(struct hastls_sharedtab *t, const uint8_t key[16],
                            uint16_t port, enum hastls_client client,
                            enum hastls_bogus bogus, uint64_t now,
                            struct hastls_addrmap_verdict *out);

/* Writer: marks the file retired (its agent is leaving; a new agent writes a
 * new file).  Reader: whether that happened, so it maps the new file. */
void hastls_sharedtab_retire(struct hastls_sharedtab *t);
int hastls_sharedtab_retired(struct hastls_sharedtab *t);

/* ---- the file ------------------------------------------------------------ */

/* Writer: creates the table file NAME in the directory DIRFD with NSLOTS
 * slots: made under NAME.new (O_EXCL|O_NOFOLLOW, mode 0600), sized, mapped
 * shared, initialized, then renamed over NAME; a table that NAME held before
 * (an agent that died) is marked retired first.  Returns the writer's view,
 * which owns the mapping, or NULL with the reason in ERR. */
struct hastls_sharedtab *hastls_sharedtab_create(int dirfd, const char *name,
                                                 uint32_t nslots, char *err,
                                                 size_t errlen);

/* Writer: retires T, removes NAME from DIRFD when it is still T's file, and
 * unmaps and frees T. */
void hastls_sharedtab_destroy(struct hastls_sharedtab *t, int dirfd, const char *name);

enum hastls_sharedtab_open_result {
    HASTLS_SHAREDTAB_OPENED,
    HASTLS_SHAREDTAB_ABSENT,  /* no such file (no agent has made one) */
    HASTLS_SHAREDTAB_REFUSED, /* a file that must not be trusted: ERR says why */
};

/* Reader: maps NAME in DIRFD read-only after checking it (O_RDONLY,
 * O_NOFOLLOW; a regular file owned by UID, mode 0600, its length agreeing
 * with its header).  On OPENED *OUT is the view, which owns the mapping; no
 * descriptor stays open. */
enum hastls_sharedtab_open_result hastls_sharedtab_open(int dirfd, const char *name,
                                                        uid_t uid,
                                                        struct hastls_sharedtab **out,
                                                        char *err, size_t errlen);

/* Reader: unmaps and frees a view from hastls_sharedtab_open. */
void hastls_sharedtab_close(struct hastls_sharedtab *t);

#endif
