/* shim/core/addrmap.c: the address map (see addrmap.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "policy/verdict.h"
#include "shim/core/addrmap.h"

#define NBUCKETS 1024 /* power of two */

struct record {
    struct record *next; /* bucket chain */
    size_t slot;         /* index in m->slots */
    uint8_t key[16];
    char name[HASTLS_NAME_MAX];
    enum hastls_rec rec;
    uint64_t expires;
    uint8_t used; /* clock bit; set by readers too, hence atomic accesses */
    size_t n;
    struct hastls_pair pairs[];
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
    struct record *bucket[NBUCKETS];
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
    for (size_t i = 0; i < m->max; i++)
        free(m->slots[i]);
    free(m->slots);
    free(m->free_slots);
    free(m->seq);
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

/* Unlinks and frees R.  Caller holds the write lock. */
static void record_drop(struct hastls_addrmap *m, struct record *r)
{
    struct record **pp = &m->bucket[bucket_of(r->key)];
    while (*pp && *pp != r)
        pp = &(*pp)->next;
    if (*pp)
        *pp = r->next;
    m->slots[r->slot] = NULL;
    uint32_t next = m->seq[r->slot] + 1;
    __atomic_store_n(&m->seq[r->slot], next ? next : 1, __ATOMIC_RELEASE);
    m->free_slots[m->nfree++] = r->slot;
    m->count--;
    free(r);
}

/* A free slot, evicting one record if the map is full: an expired one if
 * any (a scan, only when full), else the clock's victim. */
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
    memcpy(nr->key, key, 16);
    size_t len = strnlen(name, HASTLS_NAME_MAX - 1);
    memcpy(nr->name, name, len);
    nr->name[len] = '\0';
    nr->rec = rec;
    nr->expires = expires;
    nr->used = 1;
    nr->n = n;
    if (n)
        memcpy(nr->pairs, pairs, n * sizeof *pairs);

    pthread_rwlock_wrlock(&m->lock);
    unsigned b = bucket_of(key);
    for (struct record *r = m->bucket[b]; r; r = r->next) {
        if (!memcmp(r->key, key, 16) && !strcmp(r->name, nr->name)) {
            record_drop(m, r);
            break;
        }
    }
    size_t s = free_slot(m, now);
    nr->slot = s;
    m->slots[s] = nr;
    m->count++;
    nr->next = m->bucket[b];
    m->bucket[b] = nr;
    if (ref)
        *ref = ref_of(m, s);
    pthread_rwlock_unlock(&m->lock);
    return 0;
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
    struct record *head = m->bucket[bucket_of(key)];
    for (struct record *r = head; r; r = r->next)
        if (!memcmp(r->key, key, 16) && r->expires > now) {
            any_live = 1;
            break;
        }
    const struct record *best = NULL;
    struct hastls_decision best_d;
    for (struct record *r = head; r; r = r->next) {
        if (memcmp(r->key, key, 16) || (any_live && r->expires <= now))
            continue;
        __atomic_store_n(&r->used, 1, __ATOMIC_RELAXED);
        struct hastls_decision d =
            hastls_rec_decide(r->rec, r->pairs, r->n, port, client, bogus);
        if (!best ||
            hastls_verdict_rank(d.verdict) > hastls_verdict_rank(best_d.verdict)) {
            best = r;
            best_d = d;
        }
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
