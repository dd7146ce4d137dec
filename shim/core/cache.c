/* shim/core/cache.c: the front cache (see cache.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shim/core/cache.h"

/* What a way holds. */
enum { KIND_HOST = 1, KIND_PTR = 2 };

struct cache_entry {
    char name[HASTLS_NAME_MAX];
    uint64_t expires;
    union {
        struct hastls_cache_host host;
        struct hastls_cache_ptr ptr;
    } u;
};

struct cache_shard {
    pthread_mutex_t lock;
    unsigned hand;             /* clock hand */
    uint32_t *hash;            /* per way; 0 = empty (hashes are forced odd) */
    uint8_t *kind;             /* KIND_* */
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

static uint32_t key_hash(const char *name, uint8_t kind)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    h = (h ^ kind) * 16777619u;
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

static void shard_release(struct cache_shard *s)
{
    free(s->hash);
    free(s->kind);
    free(s->ref);
    free(s->entry);
    s->hash = NULL;
    s->kind = NULL;
    s->ref = NULL;
    s->entry = NULL;
}

void hastls_cache_free(struct hastls_cache *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->nshards; i++) {
        pthread_mutex_destroy(&c->shard[i].lock);
        shard_release(&c->shard[i]);
    }
    free(c);
}

static struct cache_shard *shard_of(struct hastls_cache *c, uint32_t h)
{
    return &c->shard[(h >> 7) % c->nshards];
}

/* The way holding (NAME, KIND), or -1.  Caller holds the shard lock. */
static int shard_find(const struct hastls_cache *c, const struct cache_shard *s,
                      uint32_t h, const char *name, uint8_t kind)
{
    if (!s->entry)
        return -1;
    for (unsigned w = 0; w < c->ways; w++)
        if (s->hash[w] == h && s->kind[w] == kind && !strcmp(s->entry[w].name, name))
            return (int)w;
    return -1;
}

static int shard_alloc(const struct hastls_cache *c, struct cache_shard *s)
{
    s->hash = calloc(c->ways, sizeof *s->hash);
    s->kind = calloc(c->ways, sizeof *s->kind);
    s->ref = calloc(c->ways, sizeof *s->ref);
    s->entry = calloc(c->ways, sizeof *s->entry);
    if (s->hash && s->kind && s->ref && s->entry)
        return 0;
    shard_release(s);
    return -1;
}

/* A way to overwrite: an empty or expired one, else the clock's victim. */
static unsigned shard_victim(const struct hastls_cache *c, struct cache_shard *s,
                             uint64_t now)
{
    for (unsigned w = 0; w < c->ways; w++)
        if (s->hash[w] == 0 || s->entry[w].expires <= now)
            return w;
    for (;;) {
        unsigned w = s->hand;
        s->hand = (s->hand + 1) % c->ways;
        if (!s->ref[w])
            return w;
        s->ref[w] = 0;
    }
}

/* Copies the fields of SRC in use into DST: the whole arrays are mostly
 * empty, and this copy is most of a warm lookup's cost. */
static void host_copy(struct hastls_cache_host *dst, const struct hastls_cache_host *src)
{
    size_t n4 = src->fam[0].n, n6 = src->fam[1].n, np = src->npairs;
    size_t len = strnlen(src->canon, HASTLS_NAME_MAX - 1);
    dst->expires = src->expires;
    memcpy(dst->canon, src->canon, len);
    dst->canon[len] = '\0';
    dst->fam[0] = src->fam[0];
    dst->fam[1] = src->fam[1];
    dst->rec = src->rec;
    dst->flags = src->flags;
    dst->npairs = src->npairs;
    size_t wl = strnlen(src->why, sizeof src->why - 1);
    memcpy(dst->why, src->why, wl);
    dst->why[wl] = '\0';
    memcpy(dst->a, src->a, n4 * sizeof src->a[0]);
    memcpy(dst->ref4, src->ref4, n4 * sizeof src->ref4[0]);
    memcpy(dst->aaaa, src->aaaa, n6 * sizeof src->aaaa[0]);
    memcpy(dst->ref6, src->ref6, n6 * sizeof src->ref6[0]);
    memcpy(dst->pairs, src->pairs, np * sizeof src->pairs[0]);
}

static void ptr_copy(struct hastls_cache_ptr *dst, const struct hastls_cache_ptr *src)
{
    size_t len = strnlen(src->name, HASTLS_NAME_MAX - 1);
    dst->expires = src->expires;
    dst->status = src->status;
    dst->found = src->found;
    dst->rcode = src->rcode;
    memcpy(dst->name, src->name, len);
    dst->name[len] = '\0';
    size_t wl = strnlen(src->why, sizeof src->why - 1);
    memcpy(dst->why, src->why, wl);
    dst->why[wl] = '\0';
}

/* The live way of (NAME, KIND), locked: returns the shard with its lock held
 * and *W set, or NULL (unlocked) when there is none. */
static struct cache_shard *get_locked(struct hastls_cache *c, const char *name,
                                      uint8_t kind, uint64_t now, int *w)
{
    uint32_t h = key_hash(name, kind);
    struct cache_shard *s = shard_of(c, h);
    pthread_mutex_lock(&s->lock);
    *w = shard_find(c, s, h, name, kind);
    if (*w >= 0 && s->entry[*w].expires > now) {
        s->ref[*w] = 1;
        return s;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int hastls_cache_get_host(struct hastls_cache *c, const char *name, uint64_t now,
                          struct hastls_cache_host *out)
{
    int w;
    struct cache_shard *s = get_locked(c, name, KIND_HOST, now, &w);
    if (!s)
        return 0;
    host_copy(out, &s->entry[w].u.host);
    pthread_mutex_unlock(&s->lock);
    return 1;
}

int hastls_cache_get_ptr(struct hastls_cache *c, const char *rev, uint64_t now,
                         struct hastls_cache_ptr *out)
{
    int w;
    struct cache_shard *s = get_locked(c, rev, KIND_PTR, now, &w);
    if (!s)
        return 0;
    ptr_copy(out, &s->entry[w].u.ptr);
    pthread_mutex_unlock(&s->lock);
    return 1;
}

/* The way to write (NAME, KIND) into, locked; NULL (unlocked) when the value
 * is not to be stored (expired at NOW: an existing entry is dropped) or the
 * shard cannot be allocated. */
static struct cache_shard *put_locked(struct hastls_cache *c, const char *name,
                                      uint8_t kind, uint64_t expires, uint64_t now,
                                      int *way)
{
    if (strlen(name) >= HASTLS_NAME_MAX)
        return NULL;
    uint32_t h = key_hash(name, kind);
    struct cache_shard *s = shard_of(c, h);
    pthread_mutex_lock(&s->lock);
    if (!s->entry && shard_alloc(c, s) < 0) {
        pthread_mutex_unlock(&s->lock);
        return NULL;
    }
    int w = shard_find(c, s, h, name, kind);
    if (expires <= now) {
        if (w >= 0)
            s->hash[w] = 0;
        pthread_mutex_unlock(&s->lock);
        return NULL;
    }
    if (w < 0)
        w = (int)shard_victim(c, s, now);
    s->hash[w] = h;
    s->kind[w] = kind;
    s->ref[w] = 1;
    strcpy(s->entry[w].name, name);
    s->entry[w].expires = expires;
    *way = w;
    return s;
}

int hastls_cache_put_host(struct hastls_cache *c, const char *name, uint64_t now,
                          const struct hastls_cache_host *val)
{
    if (val->fam[0].n > HASTLS_CACHE_MAX_ITEMS ||
        val->fam[1].n > HASTLS_CACHE_MAX_ITEMS || val->npairs > HASTLS_CACHE_MAX_ITEMS)
        return 0;
    int w;
    struct cache_shard *s = put_locked(c, name, KIND_HOST, val->expires, now, &w);
    if (!s)
        return 0;
    host_copy(&s->entry[w].u.host, val);
    pthread_mutex_unlock(&s->lock);
    return 1;
}

int hastls_cache_put_ptr(struct hastls_cache *c, const char *rev, uint64_t now,
                         const struct hastls_cache_ptr *val)
{
    int w;
    struct cache_shard *s = put_locked(c, rev, KIND_PTR, val->expires, now, &w);
    if (!s)
        return 0;
    ptr_copy(&s->entry[w].u.ptr, val);
    pthread_mutex_unlock(&s->lock);
    return 1;
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
