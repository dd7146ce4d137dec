/* shim/core/cache.c: the front cache (see cache.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shim/core/cache.h"

struct cache_entry {
    char name[HASTLS_NAME_MAX];
    struct hastls_cache_val val;
};

struct cache_shard {
    pthread_mutex_t lock;
    unsigned hand;  /* clock hand */
    uint32_t *hash; /* per way; 0 = empty (hashes are forced odd) */
    uint16_t *qtype;
    uint8_t *ref;              /* clock reference bits */
    struct cache_entry *entry; /* NULL until the shard's first insert */
};

struct hastls_cache {
    unsigned nshards;
    unsigned ways;
    struct cache_shard shard[];
};

uint64_t hastls_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec;
}

int hastls_name_normalize(const char *name, char *out)
{
    size_t len = strlen(name);
    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0 || len >= HASTLS_NAME_MAX)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        out[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    out[len] = '\0';
    return 0;
}

static uint32_t key_hash(const char *name, uint16_t qtype)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    h = (h ^ (qtype & 0xff)) * 16777619u;
    h = (h ^ (qtype >> 8)) * 16777619u;
    return h | 1u;
}

struct hastls_cache *hastls_cache_new(unsigned nshards, unsigned ways)
{
    if (nshards == 0 || ways == 0)
        return NULL;
    struct hastls_cache *c = calloc(1, sizeof *c + nshards * sizeof(struct cache_shard));
    if (!c)
        return NULL;
    c->nshards = nshards;
    c->ways = ways;
    for (unsigned i = 0; i < nshards; i++)
        pthread_mutex_init(&c->shard[i].lock, NULL);
    return c;
}

void hastls_cache_free(struct hastls_cache *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->nshards; i++) {
        struct cache_shard *s = &c->shard[i];
        pthread_mutex_destroy(&s->lock);
        free(s->hash);
        free(s->qtype);
        free(s->ref);
        free(s->entry);
    }
    free(c);
}

static struct cache_shard *shard_of(struct hastls_cache *c, uint32_t h)
{
    return &c->shard[(h >> 7) % c->nshards];
}

/* The way holding (NAME, QTYPE), or -1.  Caller holds the shard lock. */
static int shard_find(const struct hastls_cache *c, const struct cache_shard *s,
                      uint32_t h, const char *name, uint16_t qtype)
{
    if (!s->entry)
        return -1;
    for (unsigned w = 0; w < c->ways; w++)
        if (s->hash[w] == h && s->qtype[w] == qtype && !strcmp(s->entry[w].name, name))
            return (int)w;
    return -1;
}

int hastls_cache_get(struct hastls_cache *c, const char *name, uint16_t qtype,
                     uint64_t now, struct hastls_cache_val *out)
{
    uint32_t h = key_hash(name, qtype);
    struct cache_shard *s = shard_of(c, h);
    int hit = 0;
    pthread_mutex_lock(&s->lock);
    int w = shard_find(c, s, h, name, qtype);
    if (w >= 0 && s->entry[w].val.expires > now) {
        const struct hastls_cache_val *v = &s->entry[w].val;
        /* Copy only the items in use: the union is mostly empty. */
        size_t head = offsetof(struct hastls_cache_val, u);
        memcpy(out, v, head);
        memcpy(&out->u, &v->u, (size_t)v->n * sizeof(struct in6_addr));
        s->ref[w] = 1;
        hit = 1;
    }
    pthread_mutex_unlock(&s->lock);
    return hit;
}

static int shard_alloc(const struct hastls_cache *c, struct cache_shard *s)
{
    s->hash = calloc(c->ways, sizeof *s->hash);
    s->qtype = calloc(c->ways, sizeof *s->qtype);
    s->ref = calloc(c->ways, sizeof *s->ref);
    s->entry = calloc(c->ways, sizeof *s->entry);
    if (s->hash && s->qtype && s->ref && s->entry)
        return 0;
    free(s->hash);
    free(s->qtype);
    free(s->ref);
    free(s->entry);
    s->hash = NULL;
    s->qtype = NULL;
    s->ref = NULL;
    s->entry = NULL;
    return -1;
}

/* A way to overwrite: an empty or expired one, else the clock's victim. */
static unsigned shard_victim(const struct hastls_cache *c, struct cache_shard *s,
                             uint64_t now)
{
    for (unsigned w = 0; w < c->ways; w++)
        if (s->hash[w] == 0 || s->entry[w].val.expires <= now)
            return w;
    for (;;) {
        unsigned w = s->hand;
        s->hand = (s->hand + 1) % c->ways;
        if (!s->ref[w])
            return w;
        s->ref[w] = 0;
    }
}

void hastls_cache_put(struct hastls_cache *c, const char *name, uint16_t qtype,
                      uint64_t now, const struct hastls_cache_val *val)
{
    if (val->n > HASTLS_CACHE_MAX_ITEMS || strlen(name) >= HASTLS_NAME_MAX)
        return;
    uint32_t h = key_hash(name, qtype);
    struct cache_shard *s = shard_of(c, h);
    pthread_mutex_lock(&s->lock);
    if (!s->entry && shard_alloc(c, s) < 0) {
        pthread_mutex_unlock(&s->lock);
        return;
    }
    int w = shard_find(c, s, h, name, qtype);
    if (val->expires <= now) {
        if (w >= 0)
            s->hash[w] = 0;
        pthread_mutex_unlock(&s->lock);
        return;
    }
    if (w < 0)
        w = (int)shard_victim(c, s, now);
    s->hash[w] = h;
    s->qtype[w] = qtype;
    s->ref[w] = 1;
    strcpy(s->entry[w].name, name);
    s->entry[w].val = *val;
    pthread_mutex_unlock(&s->lock);
}

size_t hastls_cache_count(struct hastls_cache *c)
{
    size_t n = 0;
    for (unsigned i = 0; i < c->nshards; i++) {
        struct cache_shard *s = &c->shard[i];
        pthread_mutex_lock(&s->lock);
        if (s->entry)
            for (unsigned w = 0; w < c->ways; w++)
                n += s->hash[w] != 0;
        pthread_mutex_unlock(&s->lock);
    }
    return n;
}

void hastls_cache_lock_all(struct hastls_cache *c)
{
    for (unsigned i = 0; i < c->nshards; i++)
        pthread_mutex_lock(&c->shard[i].lock);
}

void hastls_cache_unlock_all(struct hastls_cache *c)
{
    for (unsigned i = c->nshards; i-- > 0;)
        pthread_mutex_unlock(&c->shard[i].lock);
}

void hastls_cache_reinit_locks(struct hastls_cache *c)
{
    for (unsigned i = 0; i < c->nshards; i++)
        pthread_mutex_init(&c->shard[i].lock, NULL);
}
