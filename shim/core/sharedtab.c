/* shim/core/sharedtab.c: the shared address table (see sharedtab.h). */
#include "shim/core/sharedtab.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/verdict.h"

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
    void *map; /* the mapping this view owns (hastls_sharedtab_create/open) */
    size_t map_len;
    dev_t dev; /* the file's identity (create) */
    ino_t ino;
};

size_t hastls_sharedtab_size(uint32_t nslots)
{
    if (nslots == 0 || nslots > HASTLS_SHAREDTAB_MAX_SLOTS || (nslots & (nslots - 1)))
        return 0;
    return sizeof(struct header) + (size_t)nslots * sizeof(struct slot);
}

static struct hastls_sharedtab *view(void *mem, uint32_t nslots)
{
    struct hastls_sharedtab *t = calloc(1, sizeof *t);
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
    if (!hastls_rec_enforced(rec))
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
 * KEY, 0 for another slot, 2 for a slot never used (the end of KEY's
 * entries, sharedtab.h), -1 when it kept changing.  The key is compared in
 * place first, to copy only the slots of KEY; only the copy is validated and
 * used. */
static int slot_read(const struct slot *s, const uint8_t key[16], struct slot *c)
{
    for (int tries = 0; tries < READ_TRIES; tries++) {
        uint32_t before = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        if (before & 1)
            continue;
        uint8_t used = __atomic_load_n(&s->used, __ATOMIC_RELAXED);
        int other = !used || memcmp((const void *)s->key, key, 16) != 0;
        if (!other)
            memcpy(c, s, sizeof *c);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != before)
            continue;
        if (other)
            return used ? 0 : 2;
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

/* The record state a reader takes from a valid copy C: more pairs than a
 * slot holds is never decided on a part of them. */
static enum hastls_rec copy_rec(const struct slot *c)
{
    return (c->flags & HASTLS_SHAREDTAB_TRUNCATED) ? HASTLS_REC_BOGUS
                                                   : (enum hastls_rec)c->rec;
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
        if (r == 2)
            break;
        if (r <= 0)
            continue;
        struct hastls_sharedtab_entry *e = &out[found++];
        memcpy(e->key, c.key, 16);
        memcpy(e->name, c.name, sizeof e->name);
        e->flags = c.flags;
        e->expires = c.expires;
        e->n = c.n;
        memcpy(e->pairs, c.pairs, sizeof e->pairs);
        e->rec = copy_rec(&c);
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

/* The best (strictest, first of equal rank) decision seen so far. */
struct pick {
    int have;
    struct hastls_decision d;
    enum hastls_rec rec;
    char name[HASTLS_NAME_MAX];
};

static void pick_offer(struct pick *p, const struct slot *c, enum hastls_rec rec,
                       const struct hastls_decision *d)
{
    if (p->have && hastls_verdict_rank(d->verdict) <= hastls_verdict_rank(p->d.verdict))
        return;
    p->have = 1;
    p->d = *d;
    p->rec = rec;
    memcpy(p->name, c->name, sizeof p->name);
}

int hastls_sharedtab_decide(struct hastls_sharedtab *t, const uint8_t key[16],
                            uint16_t port, enum hastls_client client,
                            enum hastls_bogus bogus, uint64_t now,
                            struct hastls_addrmap_verdict *out)
{
    /* One slot on the stack at a time: this runs inside connect(), on
     * whatever stack the program gave the thread. */
    struct pick live = {0}, stale = {0};
    uint32_t home = home_of(key);
    for (uint32_t i = 0; i < HASTLS_SHAREDTAB_PROBE && i <= t->mask; i++) {
        struct slot c;
        int r = slot_read(&t->slots[(home + i) & t->mask], key, &c);
        if (r < 0)
            return -1;
        if (r == 2)
            break;
        if (r == 0)
            continue;
        enum hastls_rec rec = copy_rec(&c);
        struct hastls_decision d =
            hastls_rec_decide(rec, c.pairs, c.n, port, client, bogus);
        pick_offer(c.expires > now ? &live : &stale, &c, rec, &d);
    }
    const struct pick *p = live.have ? &live : &stale;
    if (!p->have)
        return 0;
    memcpy(out->name, p->name, sizeof out->name);
    out->rec = p->rec;
    out->d = p->d;
    out->stale = !live.have;
    return 1;
}

/* ---- the file ------------------------------------------------------------ */

static void say(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    if (errlen)
        snprintf(err, errlen, fmt, a, b);
}

/* Marks the table in the file NAME of DIRFD retired, when it is one: the
 * readers of an agent that died then map the new file. */
static void retire_old(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        (size_t)st.st_size >= sizeof(struct header)) {
        struct header *h =
            mmap(NULL, sizeof *h, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (h != MAP_FAILED) {
            if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == HASTLS_SHAREDTAB_MAGIC)
                __atomic_store_n(&h->retired, 1, __ATOMIC_RELEASE);
            munmap(h, sizeof *h);
        }
    }
    close(fd);
}

struct hastls_sharedtab *hastls_sharedtab_create(int dirfd, const char *name,
                                                 uint32_t nslots, char *err,
                                                 size_t errlen)
{
    char tmp[256];
    size_t size = hastls_sharedtab_size(nslots);
    if (!size || snprintf(tmp, sizeof tmp, "%s.new", name) >= (int)sizeof tmp) {
        say(err, errlen, "%s%s: bad table size or name", name, "");
        return NULL;
    }
    /* Only the agent holding the lock writes here: a leftover is its
     * predecessor's. */
    unlinkat(dirfd, tmp, 0);
    int fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        say(err, errlen, "%s: %s", tmp, strerror(errno));
        return NULL;
    }
    struct stat st;
    void *mem = MAP_FAILED;
    struct hastls_sharedtab *t = NULL;
    if (fchmod(fd, 0600) < 0 || ftruncate(fd, (off_t)size) < 0 || fstat(fd, &st) < 0 ||
        (mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
            MAP_FAILED) {
        say(err, errlen, "%s: %s", tmp, strerror(errno));
        goto fail;
    }
    t = hastls_sharedtab_init(mem, size); /* a new file reads as zeros */
    if (!t) {
        say(err, errlen, "%s: %s", tmp, strerror(ENOMEM));
        goto fail;
    }
    t->map = mem;
    t->map_len = size;
    t->dev = st.st_dev;
    t->ino = st.st_ino;
    retire_old(dirfd, name);
    if (renameat(dirfd, tmp, dirfd, name) < 0) {
        say(err, errlen, "%s: %s", name, strerror(errno));
        goto fail;
    }
    close(fd);
    return t;
fail:
    free(t);
    if (mem != MAP_FAILED)
        munmap(mem, size);
    close(fd);
    unlinkat(dirfd, tmp, 0);
    return NULL;
}

void hastls_sharedtab_destroy(struct hastls_sharedtab *t, int dirfd, const char *name)
{
    if (!t)
        return;
    hastls_sharedtab_retire(t);
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == t->dev &&
        st.st_ino == t->ino)
        unlinkat(dirfd, name, 0);
    if (t->map)
        munmap(t->map, t->map_len);
    free(t);
}

enum hastls_sharedtab_open_result hastls_sharedtab_open(int dirfd, const char *name,
                                                        uid_t uid,
                                                        struct hastls_sharedtab **out,
                                                        char *err, size_t errlen)
{
    *out = NULL;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return HASTLS_SHAREDTAB_ABSENT;
        say(err, errlen, "%s: %s", name, strerror(errno));
        return HASTLS_SHAREDTAB_REFUSED;
    }
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) < 0)
        why = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (st.st_uid != uid)
        why = "owned by another user";
    else if ((st.st_mode & 07777) != 0600)
        why = "its mode is not 0600";
    else if (st.st_size < (off_t)sizeof(struct header) ||
             (uint64_t)st.st_size >
                 (uint64_t)hastls_sharedtab_size(HASTLS_SHAREDTAB_MAX_SLOTS))
        why = "its size is not a table's";
    void *mem = MAP_FAILED;
    size_t size = why ? 0 : (size_t)st.st_size;
    if (!why && (mem = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
        why = strerror(errno);
    close(fd);
    struct hastls_sharedtab *t = why ? NULL : hastls_sharedtab_attach(mem, size);
    if (!why && !t)
        why = "its header does not describe a table of its size";
    if (why) {
        if (mem != MAP_FAILED)
            munmap(mem, size);
        say(err, errlen, "%s: %s", name, why);
        return HASTLS_SHAREDTAB_REFUSED;
    }
    t->map = mem;
    t->map_len = size;
    *out = t;
    return HASTLS_SHAREDTAB_OPENED;
}

void hastls_sharedtab_close(struct hastls_sharedtab *t)
{
    if (!t)
        return;
    if (t->map)
        munmap(t->map, t->map_len);
    free(t);
}
