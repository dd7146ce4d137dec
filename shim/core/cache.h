/* shim/core/cache.h: the front cache: one entry per host name (its A and
 * AAAA answers and its HASTLS record together), and one per reverse name.
 *
 * It sits in front of the resolver so that a warm getaddrinfo() costs a hash,
 * an uncontended mutex and a copy (no allocation), far below libunbound's
 * ~1.7 ms per blocking call.  A host entry holds everything a lookup of the
 * name answers and everything needed to govern the addresses it hands out:
 * both families' statuses and addresses, the record state and pairs, and for
 * each address the reference of its address-map record (addrmap.h), so that a
 * hit can tell whether the map still governs every address it returns.
 *
 * Bounded: NSHARDS shards of WAYS entries each, allocated on first use; a
 * shard is searched linearly (WAYS is small) and evicts with the clock
 * algorithm, preferring expired entries.  Each shard has its own mutex, so
 * lookups of different names rarely contend.
 */
#ifndef HASTLS_SHIM_CACHE_H
#define HASTLS_SHIM_CACHE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/config.h"
#include "policy/hastls_rr.h"

/* More addresses of one family, or more pairs, than this are not cached
 * (looked up every time). */
#define HASTLS_CACHE_MAX_ITEMS 32

/* The validator's reason kept with a bogus answer, cut to fit. */
#define HASTLS_CACHE_WHY_MAX 192

#define HASTLS_CACHE_V6_USABLE 0x1 /* the host has a route to the first AAAA */

/* One family's address answer. */
struct hastls_cache_family {
    uint8_t status; /* enum hastls_sec */
    int16_t rcode;  /* DNS RCODE, -1 for none */
    uint16_t n;     /* addresses */
};

/* A host name's lookup.  Index the families with HASTLS_ANS_A and
 * HASTLS_ANS_AAAA (policy/record.h). */
struct hastls_cache_host {
    uint64_t expires;            /* hastls_now() value after which it is stale */
    char canon[HASTLS_NAME_MAX]; /* canonical name (CNAME target) */
    struct hastls_cache_family fam[2];
    uint8_t rec;                    /* enum hastls_rec */
    uint8_t flags;                  /* HASTLS_CACHE_* */
    uint16_t npairs;                /* pairs of a secure record */
    char why[HASTLS_CACHE_WHY_MAX]; /* a bogus family's reason ("" if none) */
    struct in_addr a[HASTLS_CACHE_MAX_ITEMS];
    struct in6_addr aaaa[HASTLS_CACHE_MAX_ITEMS];
    /* The address-map record of each address (hastls_addrmap_record): a
     * bogus family has no addresses here, every one here is recorded. */
    uint64_t ref4[HASTLS_CACHE_MAX_ITEMS];
    uint64_t ref6[HASTLS_CACHE_MAX_ITEMS];
    struct hastls_pair pairs[HASTLS_CACHE_MAX_ITEMS];
};

/* A reverse name's PTR lookup. */
struct hastls_cache_ptr {
    uint64_t expires;
    uint8_t status; /* enum hastls_sec */
    uint8_t found;  /* NAME holds the PTR target */
    int16_t rcode;
    char name[HASTLS_NAME_MAX];
    char why[HASTLS_CACHE_WHY_MAX]; /* a bogus answer's reason ("" if none) */
};

struct hastls_cache;

/* Seconds on a monotonic clock (coarse: cheap enough for every lookup). */
uint64_t hastls_now(void);

/* Writes NAME lowercased, without a trailing dot, into OUT (HASTLS_NAME_MAX).
 * Returns 0, or -1 for an empty or too long name. */
int hastls_name_normalize(const char *name, char *out);

/* A cache of NSHARDS * WAYS entries; NULL when out of memory. */
struct hastls_cache *hastls_cache_new(unsigned nshards, unsigned ways);
void hastls_cache_free(struct hastls_cache *c);

/* Copies the live host entry of NAME into OUT (the fields in use: addresses,
 * references and pairs past the counts are left as they were) and returns 1;
 * returns 0 when absent or expired at NOW.  NAME must be normalized. */
int hastls_cache_get_host(struct hastls_cache *c, const char *name, uint64_t now,
                          struct hastls_cache_host *out);

/* Inserts or replaces the host entry of NAME.  Not stored (and an existing
 * one dropped) when VAL has expires <= NOW; not stored when it has more than
 * HASTLS_CACHE_MAX_ITEMS addresses of a family or pairs.  Returns 1 when
 * stored, 0 when not (including when out of memory: the cache is only a
 * cache). */
int hastls_cache_put_host(struct hastls_cache *c, const char *name, uint64_t now,
                          const struct hastls_cache_host *val);

/* The same for the PTR entry of the reverse name REV. */
int hastls_cache_get_ptr(struct hastls_cache *c, const char *rev, uint64_t now,
                         struct hastls_cache_ptr *out);
int hastls_cache_put_ptr(struct hastls_cache *c, const char *rev, uint64_t now,
                         const struct hastls_cache_ptr *val);

/* Entries currently held (for tests). */
size_t hastls_cache_count(struct hastls_cache *c);

/* fork(): prepare takes every shard lock, parent releases them, child
 * re-initializes them (the child's only thread owns them). */
void hastls_cache_lock_all(struct hastls_cache *c);
void hastls_cache_unlock_all(struct hastls_cache *c);
void hastls_cache_reinit_locks(struct hastls_cache *c);

#endif
