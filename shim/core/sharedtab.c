/* shim/core/sharedtab.c: the shared address table (see sharedtab.h). */
#include "shim/core/sharedtab.h"

#include <stdlib.h>
#include <string.h>

#define READ_TRIES 8

struct header {
    uint64_t magic;
    uint32_t nslots;
    uint32_t slot_size;
    uint32_t retired; /* written with release, read with acquire */
    uint32_t reserved[3];
};

/* The slot as it lies in the file.  seq is odd while the writer changes it. */
struct slot {
    uint32_t seq;
    uint8_t used; /* 0 empty, 1 in use */
    uint8_t rec;
    uint8_t flags;
    uint8_t n;
    uint64_t expires;
    uint8_t key[16];
    char name[HASTLS_NAME_MAX];
    struct hastls_pair pairs[HASTLS_SHAREDTAB_PAIRS];
};

struct hastls_sharedtab {
    struct header *hdr;
    struct slot *slots;
    uint32_t mask;
};

size_t hastls_sharedtab_size(uint32_t nslots)
{
    if (nslots == 0 || nslots > HASTLS_SHAREDTAB_MAX_SLOTS || (nslots & (nslots - 1)))
        return 0;
    return sizeof(struct header) + (size_t)nslots * sizeof(struct slot);
}

static struct hastls_sharedtab *view(void *mem, uint32_t nslots)
{
    struct hastls_sharedtab *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    t->hdr = mem;
    t->slots = (struct slot *)((char *)mem + sizeof(struct header));
    t->mask = nslots - 1;
    return t;
}

struct hastls_sharedtab *hastls_sharedtab_init(void *mem, size_t size)
{
    if (size < sizeof(struct header))
        return NULL;
    size_t nslots = (size - sizeof(struct header)) / sizeof(struct slot);
    if (nslots > HASTLS_SHAREDTAB_MAX_SLOTS ||
        hastls_sharedtab_size((uint32_t)nslots) != size)
        return NULL;
    struct header *h = mem;
    h->nslots = (uint32_t)nslots;
    h->slot_size = sizeof(struct slot);
    __atomic_store_n(&h->magic, HASTLS_SHAREDTAB_MAGIC, __ATOMIC_RELEASE);
    return view(mem, (uint32_t)nslots);
}

struct hastls_sharedtab *hastls_sharedtab_attach(const void *mem, size_t size)
{
    if (size < sizeof(struct header))
        return NULL;
    const struct header *h = mem;
    if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != HASTLS_SHAREDTAB_MAGIC ||
        h->slot_size != sizeof(struct slot) || hastls_sharedtab_size(h->nslots) != size)
        return NULL;
    return view((void *)mem, h->nslots);
}

void hastls_sharedtab_detach(struct hastls_sharedtab *t)
{
    free(t);
}

static uint32_t home_of(const uint8_t key[16])
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 16777619u;
    return h;
}

/* The writer's change of one slot, bracketed by the odd/even counter. */
static void slot_write(struct slot *s, const uint8_t key[16], const char *name,
                       size_t name_len, enum hastls_rec rec,
                       const struct hastls_pair *pairs, size_t n, uint64_t expires)
{
    uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
    __atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    uint8_t flags = 0;
    if (n > HASTLS_SHAREDTAB_PAIRS) {
        flags |= HASTLS_SHAREDTAB_TRUNCATED;
        n = 0;
    }
    s->used = 1;
    s->rec = (uint8_t)rec;
    s->flags = flags;
    s->n = (uint8_t)n;
    s->expires = expires;
    memcpy(s->key, key, 16);
    memset(s->name, 0, sizeof s->name);
    memcpy(s->name, name, name_len);
    memset(s->pairs, 0, sizeof s->pairs);
    if (n)
        memcpy(s->pairs, pairs, n * sizeof *pairs);
    __atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
}

int hastls_sharedtab_put(struct hastls_sharedtab *t, const uint8_t key[16],
                         const char *name, enum hastls_rec rec,
                         const struct hastls_pair *pairs, size_t n, uint64_t expires,
                         uint64_t now)
{
    size_t len = strnlen(name, HASTLS_NAME_MAX);
    HASTLS_ENSURE(len > 0 && len < HASTLS_NAME_MAX && (unsigned)rec <= HASTLS_REC_LAST);
    HASTLS_ENSURE(n == 0 || pairs);
    if (rec != HASTLS_REC_SECURE)
        n = 0;
    uint32_t home = home_of(key);
    struct slot *target = NULL, *free_slot = NULL, *soonest = NULL;
    for (uint32_t i = 0; i < HASTLS_SHAREDTAB_PROBE && i <= t->mask; i++) {
        struct slot *s = &t->slots[(home + i) & t->mask];
        if (s->used && !memcmp(s->key, key, 16) && !strcmp(s->name, name)) {
            target = s;
            break;
        }
        if (!free_slot && (!s->used || s->expires <= now))
            free_slot = s;
        if (!soonest || s->expires < soonest->expires)
            soonest = s;
    }
    if (!target)
        target = free_slot ? free_slot : soonest;
    slot_write(target, key, name, len, rec, pairs, n, expires);
    return 0;
}

/* Copies slot S consistently into C.  Returns 1 for a used, valid slot of
 * KEY, 0 for another slot, -1 when it kept changing. */
static int slot_read(const struct slot *s, const uint8_t key[16], struct slot *c)
{
    for (int tries = 0; tries < READ_TRIES; tries++) {
        uint32_t before = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        if (before & 1)
            continue;
        memcpy(c, s, sizeof *c);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != before)
            continue;
        if (!c->used || memcmp(c->key, key, 16))
            return 0;
        /* Validate the copy, never the shared bytes. */
        if (memchr(c->name, 0, sizeof c->name) == NULL || !c->name[0] ||
            c->rec > HASTLS_REC_LAST || c->n > HASTLS_SHAREDTAB_PAIRS ||
            (c->flags & ~HASTLS_SHAREDTAB_TRUNCATED))
            return 0;
        return 1;
    }
    return -1;
}

size_t hastls_sharedtab_get(struct hastls_sharedtab *t, const uint8_t key[16],
                            struct hastls_sharedtab_entry *out, size_t cap, int *busy)
{
    size_t found = 0;
    uint32_t home = home_of(key);
    if (busy)
        *busy = 0;
    for (uint32_t i = 0; i < HASTLS_SHAREDTAB_PROBE && i <= t->mask && found < cap; i++) {
        struct slot c;
        int r = slot_read(&t->slots[(home + i) & t->mask], key, &c);
        if (r < 0 && busy)
            *busy = 1;
        if (r <= 0)
            continue;
        struct hastls_sharedtab_entry *e = &out[found++];
        memcpy(e->key, c.key, 16);
        memcpy(e->name, c.name, sizeof e->name);
        e->flags = c.flags;
        e->expires = c.expires;
        e->n = c.n;
        memcpy(e->pairs, c.pairs, sizeof e->pairs);
        /* More pairs than a slot holds: never decide on a part of them. */
        e->rec = (c.flags & HASTLS_SHAREDTAB_TRUNCATED) ? HASTLS_REC_BOGUS
                                                        : (enum hastls_rec)c.rec;
    }
    return found;
}

void hastls_sharedtab_retire(struct hastls_sharedtab *t)
{
    __atomic_store_n(&t->hdr->retired, 1, __ATOMIC_RELEASE);
}

int hastls_sharedtab_retired(struct hastls_sharedtab *t)
{
    return __atomic_load_n(&t->hdr->retired, __ATOMIC_ACQUIRE) != 0;
}
