/* shim/core/addrmap.c: the address map (see addrmap.h).
 *
 * Buckets hold addresses; each address holds the records of its names, so a
 * decision reads one address's names (at most HASTLS_ADDRMAP_MAX_NAMES),
 * whatever else hashes to its bucket.  Records also sit in a slot array, for
 * the clock that evicts when the whole map is full and for the references.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "policy/verdict.h"
#include "shim/core/addrmap.h"

#define NBUCKETS 1024 /* power of two */

struct address;

struct record {
    struct record *next; /* the address's names */
    struct address *a;
    size_t slot; /* index in m->slots */
    char name[HASTLS_NAME_MAX];
    enum hastls_rec rec;
    uint64_t expires;
    uint8_t used; /* clock bit; set by readers too, hence atomic accesses */
    size_t n;
    struct hastls_pair pairs[];
};

struct address {
    struct address *next; /* bucket chain */
    uint8_t key[16];
    size_t nnames;
    uint64_t latest; /* the latest expiry of its names */
    /* Names that may block first, those that allow everything after: a
     * decision that finds a block can stop. */
    struct record *names;
};

struct hastls_addrmap {
    pthread_rwlock_t lock;
    size_t max, count, hand;
    struct record **slots; /* max entries, NULL = free */
    /* Per slot, bumped each time its record goes: a reference is the slot
     * and this number when the record was made (see ref_of). */
    uint32_t *seq;
    size_t *free_slots; /* stack of the free indexes of slots */
    size_t nfree;
    struct address *bucket[NBUCKETS];
};

static unsigned bucket_of(const uint8_t key[16])
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 16777619u;
    return h & (NBUCKETS - 1);
}

struct hastls_addrmap *hastls_addrmap_new(size_t max_records)
{
    if (max_records == 0 || max_records > UINT32_MAX) /* a slot fits a reference */
        return NULL;
    struct hastls_addrmap *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->slots = calloc(max_records, sizeof *m->slots);
    m->free_slots = calloc(max_records, sizeof *m->free_slots);
    m->seq = calloc(max_records, sizeof *m->seq);
    if (!m->slots || !m->free_slots || !m->seq) {
        free(m->slots);
        free(m->free_slots);
        free(m->seq);
        free(m);
        return NULL;
    }
    for (size_t i = 0; i < max_records; i++) {
        m->free_slots[m->nfree++] = max_records - 1 - i;
        m->seq[i] = 1; /* a reference is never 0 */
    }
    m->max = max_records;
    pthread_rwlock_init(&m->lock, NULL);
    return m;
}

void hastls_addrmap_free(struct hastls_addrmap *m)
{
    if (!m)
        return;
    for (unsigned b = 0; b < NBUCKETS; b++)
        for (struct address *a = m->bucket[b], *next; a; a = next) {
            next = a->next;
            for (struct record *r = a->names, *rn; r; r = rn) {
                rn = r->next;
                free(r);
            }
            free(a);
        }
    free(m->slots);
    free(m->free_slots);
    free(m->seq);
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

static struct address *address_find(const struct hastls_addrmap *m, const uint8_t key[16])
{
    for (struct address *a = m->bucket[bucket_of(key)]; a; a = a->next)
        if (!memcmp(a->key, key, 16))
            return a;
    return NULL;
}

/* Unlinks and frees R, and its address when R was its last name.  Caller
 * holds the write lock. */
static void record_drop(struct hastls_addrmap *m, struct record *r)
{
    struct address *a = r->a;
    struct record **pp = &a->names;
    while (*pp && *pp != r)
        pp = &(*pp)->next;
    if (*pp)
        *pp = r->next;
    a->nnames--;
    a->latest = 0;
    for (struct record *x = a->names; x; x = x->next)
        if (x->expires > a->latest)
            a->latest = x->expires;
    if (!a->names) {
        struct address **ap = &m->bucket[bucket_of(a->key)];
        while (*ap && *ap != a)
            ap = &(*ap)->next;
        if (*ap)
            *ap = a->next;
        free(a);
    }
    m->slots[r->slot] = NULL;
    uint32_t next = m->seq[r->slot] + 1;
    __atomic_store_n(&m->seq[r->slot], next ? next : 1, __ATOMIC_RELEASE);
    m->free_slots[m->nfree++] = r->slot;
    m->count--;
    free(r);
}

/* A free slot, evicting one record if the map is full: an expired one if
 * any (a scan, only when full), else the clock's victim.  The record that
 * needs the slot is already linked to its address (not yet to a slot), so
 * no eviction empties and frees that address. */
static size_t free_slot(struct hastls_addrmap *m, uint64_t now)
{
    if (m->nfree == 0) {
        struct record *victim = NULL;
        for (size_t i = 0; i < m->max && !victim; i++)
            if (m->slots[i]->expires <= now)
                victim = m->slots[i];
        while (!victim) {
            struct record *r = m->slots[m->hand];
            m->hand = (m->hand + 1) % m->max;
            if (__atomic_exchange_n(&r->used, 0, __ATOMIC_RELAXED) == 0)
                victim = r;
        }
        record_drop(m, victim);
    }
    return m->free_slots[--m->nfree];
}

static uint64_t ref_of(const struct hastls_addrmap *m, size_t slot)
{
    return (uint64_t)__atomic_load_n(&m->seq[slot], __ATOMIC_RELAXED) << 32 |
           (uint64_t)slot;
}

/* Whether records R and S give the same verdict for every port, client and
 * bogus setting: both allow everything (failed, insecure, none), or the
 * same state with the same pairs. */
static int allows_all(enum hastls_rec rec)
{
    /* Enforced states (secure, pinned, https) decide by their pairs. */
    return !hastls_rec_enforced(rec) && rec != HASTLS_REC_BOGUS;
}

static int same_verdicts(enum hastls_rec ra, const struct hastls_pair *pa, size_t na,
                         enum hastls_rec rb, const struct hastls_pair *pb, size_t nb)
{
    int open_a = allows_all(ra);
    int open_b = allows_all(rb);
    if (open_a || open_b)
        return open_a && open_b;
    return ra == rb && na == nb && (na == 0 || !memcmp(pa, pb, na * sizeof *pa));
}

/* What to do when address A has its full count of names and NR is to join
 * it (the cap's eviction rule, fail closed: a name goes only when what it
 * says is still said by a name that stays as long, or no longer counts):
 *   1. an expired name goes (NR is live; expired names do not count while a
 *      live one governs), the earliest first;
 *   2. else a name whose verdicts another name (NR among them) gives too,
 *      and lasts at least as long, goes: the earliest such; when that is NR
 *      itself, NR is not recorded (*SKIP set, *SAME the name standing for it);
 *   3. else NR, when it allows everything, is not recorded: every name kept
 *      is stricter (*SKIP set, *SAME the first);
 *   4. else nothing can go without loosening a verdict: refused.
 * Returns the name to drop, or NULL with *SKIP set (0: refused). */
static struct record *cap_victim(struct address *a, const struct record *nr, uint64_t now,
                                 int *skip, struct record **same)
{
    *skip = 0;
    struct record *victim = NULL;
    for (struct record *r = a->names; r; r = r->next)
        if (r->expires <= now && (!victim || r->expires < victim->expires))
            victim = r;
    if (victim && nr->expires > now)
        return victim;
    victim = NULL;
    const struct record *best = NULL; /* the earliest covered one, maybe NR */
    struct record *cover = NULL;      /* what covers BEST when BEST is NR */
    for (struct record *r = a->names; r; r = r->next) {
        if (same_verdicts(r->rec, r->pairs, r->n, nr->rec, nr->pairs, nr->n)) {
            const struct record *early = r->expires <= nr->expires ? r : nr;
            if (!best || early->expires < best->expires) {
                best = early;
                cover = r;
            }
        }
        for (struct record *s = r->next; s; s = s->next) {
            if (!same_verdicts(r->rec, r->pairs, r->n, s->rec, s->pairs, s->n))
                continue;
            const struct record *early = r->expires <= s->expires ? r : s;
            if (!best || early->expires < best->expires) {
                best = early;
                cover = NULL;
            }
        }
    }
    if (best == nr) {
        *skip = 1;
        *same = cover;
        return NULL;
    }
    if (best) {
        for (struct record *r = a->names; r && !victim; r = r->next)
            if (r == best)
                victim = r;
        return victim;
    }
    if (allows_all(nr->rec)) {
        *skip = 1;
        *same = a->names;
    }
    return NULL;
}

/* (KEY, NAME)'s record in A, or NULL. */
static struct record *name_find(struct address *a, const char *name)
{
    for (struct record *r = a ? a->names : NULL; r; r = r->next)
        if (!strcmp(r->name, name))
            return r;
    return NULL;
}

/* Links NR into A (creating A for KEY when NULL) in a free slot.  Returns 0,
 * or -1 when out of memory.  Caller holds the write lock. */
static int link_record(struct hastls_addrmap *m, struct address *a, const uint8_t key[16],
                       struct record *nr, uint64_t now, uint64_t *ref)
{
    if (!a) {
        a = calloc(1, sizeof *a);
        if (!a)
            return -1;
        memcpy(a->key, key, 16);
        unsigned b = bucket_of(key);
        a->next = m->bucket[b];
        m->bucket[b] = a;
    }
    /* Linked first: the eviction below never empties (and frees) A. */
    nr->a = a;
    struct record **pp = &a->names;
    if (allows_all(nr->rec))
        while (*pp)
            pp = &(*pp)->next;
    nr->next = *pp;
    *pp = nr;
    a->nnames++;
    if (nr->expires > a->latest)
        a->latest = nr->expires;
    size_t s = free_slot(m, now);
    nr->slot = s;
    m->slots[s] = nr;
    m->count++;
    if (ref)
        *ref = ref_of(m, s);
    return 0;
}

int hastls_addrmap_record(struct hastls_addrmap *m, const uint8_t key[16],
                          const char *name, enum hastls_rec rec,
                          const struct hastls_pair *pairs, size_t n, uint64_t expires,
                          uint64_t now, uint64_t *ref)
{
    if (!hastls_rec_enforced(rec))
        n = 0;
    if (n > HASTLS_REC_MAX_PAIRS)
        return -1;
    struct record *nr = malloc(sizeof *nr + n * sizeof(struct hastls_pair));
    if (!nr)
        return -1;
    memset(nr, 0, sizeof *nr);
    size_t len = strnlen(name, HASTLS_NAME_MAX - 1);
    memcpy(nr->name, name, len);
    nr->name[len] = '\0';
    nr->rec = rec;
    nr->expires = expires;
    nr->used = 1;
    nr->n = n;
    if (n)
        memcpy(nr->pairs, pairs, n * sizeof *pairs);

    int rc = 0;
    pthread_rwlock_wrlock(&m->lock);
    struct address *a = address_find(m, key);
    struct record *old = name_find(a, nr->name);
    if (old && rec == HASTLS_REC_FAILED && !allows_all(old->rec) && old->expires > now) {
        /* A lookup whose HASTLS answer did not come loosens nothing: the
         * live record of the name stands. */
        if (ref)
            *ref = ref_of(m, old->slot);
        free(nr);
        goto out;
    }
    if (old && a->nnames == 1) {
        /* Its only name: replaced in place, the address stays. */
        a->latest = nr->expires;
        nr->a = a;
        nr->slot = old->slot;
        nr->next = old->next;
        a->names = nr;
        m->slots[nr->slot] = nr;
        uint32_t next = m->seq[nr->slot] + 1;
        __atomic_store_n(&m->seq[nr->slot], next ? next : 1, __ATOMIC_RELEASE);
        if (ref)
            *ref = ref_of(m, nr->slot);
        free(old);
        goto out;
    }
    if (old)
        record_drop(m, old);
    else if (a && a->nnames >= HASTLS_ADDRMAP_MAX_NAMES) {
        int skip;
        struct record *same = NULL;
        struct record *victim = cap_victim(a, nr, now, &skip, &same);
        if (!victim) {
            if (skip && ref)
                *ref = ref_of(m, same->slot);
            rc = skip ? 0 : HASTLS_ADDRMAP_FULL;
            free(nr);
            goto out;
        }
        record_drop(m, victim);
    }
    if (link_record(m, a, key, nr, now, ref) < 0) {
        free(nr);
        rc = -1;
    }
out:
    pthread_rwlock_unlock(&m->lock);
    return rc;
}

int hastls_addrmap_holds(struct hastls_addrmap *m, uint64_t ref)
{
    size_t slot = (size_t)(ref & 0xffffffffu);
    if (slot >= m->max)
        return 0;
    return __atomic_load_n(&m->seq[slot], __ATOMIC_ACQUIRE) == (uint32_t)(ref >> 32);
}

int hastls_addrmap_decide(struct hastls_addrmap *m, const uint8_t key[16], uint16_t port,
                          enum hastls_client client, enum hastls_bogus bogus,
                          uint64_t now, struct hastls_addrmap_verdict *out)
{
    int found = 0, any_live = 0;
    pthread_rwlock_rdlock(&m->lock);
    struct address *a = address_find(m, key);
    struct record *head = a ? a->names : NULL;
    any_live = a && a->latest > now;
    const struct record *best = NULL;
    struct hastls_decision best_d;
    for (struct record *r = head; r; r = r->next) {
        if (any_live && r->expires <= now)
            continue;
        __atomic_store_n(&r->used, 1, __ATOMIC_RELAXED);
        struct hastls_decision d =
            hastls_rec_decide(r->rec, r->pairs, r->n, port, client, bogus);
        if (!best ||
            hastls_verdict_rank(d.verdict) > hastls_verdict_rank(best_d.verdict)) {
            best = r;
            best_d = d;
            if (d.verdict == HASTLS_VERDICT_BLOCK)
                break; /* nothing is stricter */
        }
        if (allows_all(r->rec))
            break; /* the rest allow everything too */
    }
    if (best) {
        found = 1;
        strcpy(out->name, best->name);
        out->rec = best->rec;
        out->d = best_d;
        out->stale = !any_live;
    }
    pthread_rwlock_unlock(&m->lock);
    return found;
}

size_t hastls_addrmap_names(struct hastls_addrmap *m, const uint8_t key[16])
{
    pthread_rwlock_rdlock(&m->lock);
    struct address *a = address_find(m, key);
    size_t n = a ? a->nnames : 0;
    pthread_rwlock_unlock(&m->lock);
    return n;
}

size_t hastls_addrmap_count(struct hastls_addrmap *m)
{
    pthread_rwlock_rdlock(&m->lock);
    size_t n = m->count;
    pthread_rwlock_unlock(&m->lock);
    return n;
}

void hastls_addrmap_lock(struct hastls_addrmap *m)
{
    pthread_rwlock_wrlock(&m->lock);
}

void hastls_addrmap_unlock(struct hastls_addrmap *m)
{
    pthread_rwlock_unlock(&m->lock);
}

void hastls_addrmap_reinit_lock(struct hastls_addrmap *m)
{
    pthread_rwlock_init(&m->lock, NULL);
}
