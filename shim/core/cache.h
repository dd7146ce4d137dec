/* shim/core/cache.h: the front cache, (name, type) -> parsed answer with a TTL.
 *
 * It sits in front of the resolver so that a warm getaddrinfo() costs a hash,
 * an uncontended mutex and a copy (no allocation), far below libunbound's
 * ~1.7 ms per blocking call.  Bounded: NSHARDS shards of WAYS entries each,
 * allocated on first use; a shard is searched linearly (WAYS is small) and
 * evicts with the clock algorithm, preferring expired entries.  Each shard has
 * its own mutex, so lookups of different names rarely contend.
 */
#ifndef HASTLS_SHIM_CACHE_H
#define HASTLS_SHIM_CACHE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/config.h"
#include "policy/hastls_rr.h"

/* More items than this in one answer are not cached (looked up every time). */
#define HASTLS_CACHE_MAX_ITEMS 32

#define HASTLS_CACHE_V6_USABLE 0x1 /* AAAA: the host has a route to the first */

struct hastls_cache_val {
    uint8_t status;    /* enum hastls_sec */
    uint8_t flags;     /* HASTLS_CACHE_* */
    int16_t rcode;     /* DNS RCODE, -1 for none */
    uint16_t n;        /* items in u */
    uint64_t expires;  /* hastls_now() value after which the entry is stale */
    unsigned long gen; /* address-map generation when its addresses were recorded */
    char canon[HASTLS_NAME_MAX]; /* canonical name (CNAME target) or PTR name */
    union {
        struct in_addr a[HASTLS_CACHE_MAX_ITEMS];
        struct in6_addr aaaa[HASTLS_CACHE_MAX_ITEMS];
        struct hastls_pair pairs[HASTLS_CACHE_MAX_ITEMS];
    } u;
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

/* Copies the live entry for (NAME, QTYPE) into OUT and returns 1; returns 0
 * when absent or expired at NOW.  NAME must be normalized. */
int hastls_cache_get(struct hastls_cache *c, const char *name, uint16_t qtype,
                     uint64_t now, struct hastls_cache_val *out);

/* Inserts or replaces (NAME, QTYPE).  An entry with expires <= NOW is not
 * stored (and an existing one is dropped). */
void hastls_cache_put(struct hastls_cache *c, const char *name, uint16_t qtype,
                      uint64_t now, const struct hastls_cache_val *val);

/* Entries currently held (for tests). */
size_t hastls_cache_count(struct hastls_cache *c);

/* fork(): prepare takes every shard lock, parent releases them, child
 * re-initializes them (the child's only thread owns them). */
void hastls_cache_lock_all(struct hastls_cache *c);
void hastls_cache_unlock_all(struct hastls_cache *c);
void hastls_cache_reinit_locks(struct hastls_cache *c);

#endif
