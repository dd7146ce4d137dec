/* shim/core/hosts.c: hosts-file parser and the process's table (see hosts.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy/config.h"
#include "shim/core/hosts.h"
#include "shim/core/locks.h"

struct hosts_line {
    struct hastls_ip ip;
    size_t names; /* offset of the first name in h->text */
    size_t nnames;
};

struct hosts_index {
    uint32_t hash; /* 0 = empty */
    uint32_t line;
    size_t name; /* offset in h->text */
};

struct hastls_hosts {
    char *text; /* the names as written, each NUL-terminated */
    size_t text_len, text_cap;
    struct hosts_line *line;
    size_t nline, line_cap;
    struct hosts_index *index; /* open addressing, index_cap a power of two */
    size_t index_cap;
};

static uint32_t name_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 'A' && ch <= 'Z')
            ch += 32;
        h = (h ^ ch) * 16777619u;
    }
    return h | 1u;
}

/* The length of NAME (LEN bytes) as a lookup key: without one trailing dot. */
static size_t key_len(const char *name, size_t len)
{
    return len > 1 && name[len - 1] == '.' ? len - 1 : len;
}

/* Whether A and B (key lengths ALEN, BLEN) are the same name, ignoring case. */
static int same_key(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && strncasecmp(a, b, alen) == 0;
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            return -1;
        n *= 2;
    }
    void *q = realloc(*p, n * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

/* Parses one line [S, S+LEN) and appends it.  Returns -1 only when out of
 * memory; a malformed line is skipped. */
static int parse_line(struct hastls_hosts *h, const char *s, size_t len)
{
    const char *hash = memchr(s, '#', len);
    if (hash)
        len = (size_t)(hash - s);
    size_t i = 0;
    while (i < len && is_space(s[i]))
        i++;
    size_t a0 = i;
    while (i < len && !is_space(s[i]))
        i++;
    size_t alen = i - a0;
    if (alen == 0 || alen >= INET6_ADDRSTRLEN)
        return 0;
    char abuf[INET6_ADDRSTRLEN];
    memcpy(abuf, s + a0, alen);
    abuf[alen] = '\0';
    struct hosts_line ln;
    memset(&ln, 0, sizeof ln);
    if (inet_pton(AF_INET, abuf, ln.ip.addr) == 1)
        ln.ip.family = AF_INET;
    else if (inet_pton(AF_INET6, abuf, ln.ip.addr) == 1)
        ln.ip.family = AF_INET6;
    else
        return 0;
    ln.names = h->text_len;
    for (;;) {
        while (i < len && is_space(s[i]))
            i++;
        if (i >= len)
            break;
        size_t n0 = i;
        while (i < len && !is_space(s[i]))
            i++;
        size_t nlen = i - n0;
        if (nlen >= HASTLS_NAME_MAX || memchr(s + n0, '\0', nlen))
            continue;
        if (grow((void **)&h->text, &h->text_cap, h->text_len + nlen + 1, 1) < 0)
            return -1;
        memcpy(h->text + h->text_len, s + n0, nlen);
        h->text[h->text_len + nlen] = '\0';
        h->text_len += nlen + 1;
        ln.nnames++;
    }
    if (ln.nnames == 0) {
        h->text_len = ln.names;
        return 0;
    }
    if (grow((void **)&h->line, &h->line_cap, h->nline + 1, sizeof *h->line) < 0)
        return -1;
    h->line[h->nline++] = ln;
    return 0;
}

static int build_index(struct hastls_hosts *h)
{
    size_t total = 0;
    for (size_t l = 0; l < h->nline; l++)
        total += h->line[l].nnames;
    size_t cap = 16;
    while (cap < total * 2)
        cap *= 2;
    h->index = calloc(cap, sizeof *h->index);
    if (!h->index)
        return -1;
    h->index_cap = cap;
    for (size_t l = 0; l < h->nline; l++) {
        size_t off = h->line[l].names;
        for (size_t k = 0; k < h->line[l].nnames; k++) {
            const char *nm = h->text + off;
            size_t len = strlen(nm);
            uint32_t hv = name_hash(nm, key_len(nm, len));
            size_t slot = hv & (cap - 1);
            while (h->index[slot].hash)
                slot = (slot + 1) & (cap - 1);
            h->index[slot] = (struct hosts_index){hv, (uint32_t)l, off};
            off += len + 1;
        }
    }
    return 0;
}

struct hastls_hosts *hastls_hosts_parse(const char *buf, size_t len)
{
    struct hastls_hosts *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        if (h->nline >= UINT32_MAX || parse_line(h, buf + pos, end - pos) < 0)
            goto fail;
        pos = end + 1;
    }
    if (build_index(h) < 0)
        goto fail;
    return h;
fail:
    hastls_hosts_free(h);
    return NULL;
}

void hastls_hosts_free(struct hastls_hosts *h)
{
    if (!h)
        return;
    free(h->text);
    free(h->line);
    free(h->index);
    free(h);
}

size_t hastls_hosts_count(const struct hastls_hosts *h)
{
    return h->nline;
}

/* The address line LN gives when FAMILY is asked, as glibc's parser reads
 * it (see hosts.h).  Returns 1 with OUT set, or 0 when the line does not
 * count for FAMILY. */
static int line_addr(const struct hosts_line *ln, int family, struct hastls_ip *out)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t loopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (family == AF_UNSPEC || family == ln->ip.family) {
        *out = ln->ip;
        return 1;
    }
    if (family != AF_INET) /* AF_INET6 never reads an IPv4 line */
        return 0;
    memset(out, 0, sizeof *out);
    out->family = AF_INET;
    if (!memcmp(ln->ip.addr, mapped, sizeof mapped))
        memcpy(out->addr, ln->ip.addr + 12, 4);
    else if (!memcmp(ln->ip.addr, loopback6, sizeof loopback6))
        memcpy(out->addr, "\x7f\0\0\x01", 4);
    else
        return 0;
    return 1;
}

static void add_alias(struct hastls_hosts_entry *e, const char *name)
{
    size_t len = strlen(name) + 1;
    if (len > sizeof e->aliases - e->aliases_len)
        return; /* full: the rest are left out */
    memcpy(e->aliases + e->aliases_len, name, len);
    e->aliases_len += len;
    e->naliases++;
}

/* Copies line LN's names into E, as glibc merges the lines of one name: for
 * the FIRST line, its first name as E->name and the others as aliases; for a
 * later one, its other names as aliases, then its first name when that
 * differs (case-sensitively) from E->name. */
static void add_names(const struct hastls_hosts *h, const struct hosts_line *ln,
                      int first, struct hastls_hosts_entry *e)
{
    const char *head = h->text + ln->names;
    const char *nm = head + strlen(head) + 1;
    if (first)
        memcpy(e->name, head, strlen(head) + 1);
    for (size_t k = 1; k < ln->nnames; k++) {
        add_alias(e, nm);
        nm += strlen(nm) + 1;
    }
    if (!first && strcmp(head, e->name))
        add_alias(e, head);
}

/* The lines naming NAME, in file order, into LINES (at most CAP).  Returns
 * the count. */
static size_t matching_lines(const struct hastls_hosts *h, const char *name,
                             uint32_t *lines, size_t cap)
{
    size_t len = key_len(name, strlen(name));
    if (len == 0 || len >= HASTLS_NAME_MAX || h->index_cap == 0 || name[0] == '.')
        return 0;
    uint32_t hv = name_hash(name, len);
    size_t nl = 0;
    for (size_t slot = hv & (h->index_cap - 1); h->index[slot].hash;
         slot = (slot + 1) & (h->index_cap - 1)) {
        const struct hosts_index *e = &h->index[slot];
        const char *nm = h->text + e->name;
        if (e->hash != hv || !same_key(nm, key_len(nm, strlen(nm)), name, len))
            continue;
        size_t k = 0;
        while (k < nl && lines[k] != e->line)
            k++;
        if (k == nl && nl < cap)
            lines[nl++] = e->line;
    }
    for (size_t i = 1; i < nl; i++) /* insertion sort: nl is tiny */
        for (size_t j = i; j > 0 && lines[j - 1] > lines[j]; j--) {
            uint32_t t = lines[j];
            lines[j] = lines[j - 1];
            lines[j - 1] = t;
        }
    return nl;
}

int hastls_hosts_find_entry(const struct hastls_hosts *h, const char *name, int family,
                            struct hastls_hosts_entry *out)
{
    uint32_t lines[HASTLS_HOSTS_ADDRS];
    out->n = out->naliases = out->aliases_len = 0;
    out->name[0] = '\0';
    size_t nl = matching_lines(h, name, lines, HASTLS_HOSTS_ADDRS);
    if (nl == 0)
        return 0;
    for (size_t i = 0; i < nl; i++) {
        const struct hosts_line *ln = &h->line[lines[i]];
        struct hastls_ip ip;
        if (!line_addr(ln, family, &ip))
            continue;
        add_names(h, ln, out->n == 0, out);
        out->addr[out->n++] = ip;
    }
    if (out->n == 0) { /* known, but not for FAMILY: its first name all the same */
        const char *c = h->text + h->line[lines[0]].names;
        memcpy(out->name, c, strlen(c) + 1);
    }
    return 1;
}

int hastls_hosts_find_addr_entry(const struct hastls_hosts *h, int family,
                                 const void *addr, struct hastls_hosts_entry *out)
{
    size_t alen = family == AF_INET ? 4 : 16;
    out->n = out->naliases = out->aliases_len = 0;
    out->name[0] = '\0';
    if (family != AF_INET && family != AF_INET6)
        return 0;
    for (size_t l = 0; l < h->nline; l++) {
        struct hastls_ip ip;
        if (line_addr(&h->line[l], family, &ip) && !memcmp(ip.addr, addr, alen)) {
            add_names(h, &h->line[l], 1, out);
            out->addr[out->n++] = ip;
            return 1;
        }
    }
    return 0;
}

int hastls_hosts_find_name(const struct hastls_hosts *h, const char *name, int family,
                           struct hastls_ip *out, size_t cap, size_t *n, char *canon)
{
    uint32_t lines[HASTLS_HOSTS_ADDRS];
    *n = 0;
    size_t nl = matching_lines(h, name, lines, HASTLS_HOSTS_ADDRS);
    if (nl == 0)
        return 0;
    const char *first = NULL;
    for (size_t i = 0; i < nl; i++) {
        struct hastls_ip ip;
        if (!line_addr(&h->line[lines[i]], family, &ip))
            continue;
        if (!first)
            first = h->text + h->line[lines[i]].names;
        if (*n < cap)
            out[(*n)++] = ip;
    }
    if (canon) {
        const char *c = first ? first : h->text + h->line[lines[0]].names;
        memcpy(canon, c, strlen(c) + 1);
    }
    return 1;
}

int hastls_hosts_find_addr(const struct hastls_hosts *h, int family, const void *addr,
                           char *name)
{
    size_t alen = family == AF_INET ? 4 : 16;
    if (family != AF_INET && family != AF_INET6)
        return 0;
    for (size_t l = 0; l < h->nline; l++) {
        struct hastls_ip ip;
        if (line_addr(&h->line[l], family, &ip) && !memcmp(ip.addr, addr, alen)) {
            const char *c = h->text + h->line[l].names;
            memcpy(name, c, strlen(c) + 1);
            return 1;
        }
    }
    return 0;
}

/* ---- the process's table ---- */

/* Guards table, path and the change-detection fields below (in the fork
 * list, locks.h). */
pthread_rwlock_t hastls_lock_hosts = PTHREAD_RWLOCK_INITIALIZER;
static struct hastls_hosts *table;
static char hosts_path[HASTLS_PATH_MAX] = "/etc/hosts";
static struct stat table_st;
static int table_read;      /* table_st describes the file as last read */
static uint64_t next_check; /* monotonic seconds; atomic */

static uint64_t mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec;
}

static struct hastls_hosts *read_table(const char *path, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct hastls_hosts *h = NULL;
    if (fstat(fd, st) == 0 && st->st_size >= 0 && st->st_size < (64 << 20)) {
        size_t cap = (size_t)st->st_size + 1, len = 0;
        char *buf = malloc(cap);
        while (buf) {
            ssize_t r = read(fd, buf + len, cap - len);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            len += (size_t)r;
            if (len == cap) { /* grew since fstat */
                char *nb = cap < (64 << 20) ? realloc(buf, cap * 2) : NULL;
                if (!nb)
                    break;
                buf = nb;
                cap *= 2;
            }
        }
        if (buf)
            h = hastls_hosts_parse(buf, len);
        free(buf);
    }
    close(fd);
    return h;
}

/* Re-reads the file when its identity, size or mtime changed. */
static void refresh(void)
{
    uint64_t now = mono_seconds();
    if (now < __atomic_load_n(&next_check, __ATOMIC_RELAXED))
        return;
    __atomic_store_n(&next_check, now + 1, __ATOMIC_RELAXED);
    char path[HASTLS_PATH_MAX];
    pthread_rwlock_rdlock(&hastls_lock_hosts);
    memcpy(path, hosts_path, sizeof path);
    struct stat old = table_st;
    int have = table_read;
    pthread_rwlock_unlock(&hastls_lock_hosts);

    struct stat st;
    if (stat(path, &st) < 0) {
        memset(&st, 0, sizeof st);
    } else if (have && st.st_ino == old.st_ino && st.st_dev == old.st_dev &&
               st.st_size == old.st_size && st.st_mtim.tv_sec == old.st_mtim.tv_sec &&
               st.st_mtim.tv_nsec == old.st_mtim.tv_nsec) {
        return;
    }
    struct hastls_hosts *h = st.st_ino ? read_table(path, &st) : NULL;
    pthread_rwlock_wrlock(&hastls_lock_hosts);
    struct hastls_hosts *old_table = table;
    table = h;
    table_st = st;
    table_read = h != NULL;
    pthread_rwlock_unlock(&hastls_lock_hosts);
    hastls_hosts_free(old_table);
}

int hastls_hosts_lookup_name(const char *name, int family, struct hastls_ip *out,
                             size_t cap, size_t *n, char *canon)
{
    refresh();
    int r = 0;
    *n = 0;
    pthread_rwlock_rdlock(&hastls_lock_hosts);
    if (table)
        r = hastls_hosts_find_name(table, name, family, out, cap, n, canon);
    pthread_rwlock_unlock(&hastls_lock_hosts);
    return r;
}

int hastls_hosts_lookup_addr(int family, const void *addr, char *name)
{
    refresh();
    int r = 0;
    pthread_rwlock_rdlock(&hastls_lock_hosts);
    if (table)
        r = hastls_hosts_find_addr(table, family, addr, name);
    pthread_rwlock_unlock(&hastls_lock_hosts);
    return r;
}

int hastls_hosts_lookup_entry(const char *name, int family,
                              struct hastls_hosts_entry *out)
{
    refresh();
    int r = 0;
    out->n = out->naliases = out->aliases_len = 0;
    pthread_rwlock_rdlock(&hastls_lock_hosts);
    if (table)
        r = hastls_hosts_find_entry(table, name, family, out);
    pthread_rwlock_unlock(&hastls_lock_hosts);
    return r;
}

int hastls_hosts_lookup_addr_entry(int family, const void *addr,
                                   struct hastls_hosts_entry *out)
{
    refresh();
    int r = 0;
    out->n = out->naliases = out->aliases_len = 0;
    pthread_rwlock_rdlock(&hastls_lock_hosts);
    if (table)
        r = hastls_hosts_find_addr_entry(table, family, addr, out);
    pthread_rwlock_unlock(&hastls_lock_hosts);
    return r;
}

int hastls_hosts_is_localhost(const char *name)
{
    size_t len = key_len(name, strlen(name));
    if (len == 9)
        return !strncasecmp(name, "localhost", 9);
    return len > 10 && name[0] != '.' && !strncasecmp(name + len - 10, ".localhost", 10);
}

void hastls_hosts_loopback(int family, struct hastls_ip *out)
{
    memset(out, 0, sizeof *out);
    out->family = family;
    if (family == AF_INET)
        memcpy(out->addr, "\x7f\0\0\x01", 4);
    else
        out->addr[15] = 1;
}

int hastls_hosts_lookup_local(const char *name, struct hastls_ip *out, size_t cap,
                              size_t *n, char *canon)
{
    *n = 0;
    if (hastls_hosts_lookup_name(name, AF_UNSPEC, out, cap, n, canon))
        return 1;
    size_t len = strlen(name);
    if (cap < 2 || len >= HASTLS_NAME_MAX || !hastls_hosts_is_localhost(name))
        return 0;
    memcpy(canon, name, len + 1);
    hastls_hosts_loopback(AF_INET, &out[0]);
    hastls_hosts_loopback(AF_INET6, &out[1]);
    *n = 2;
    return 1;
}

void hastls_hosts_set_path(const char *path)
{
    pthread_rwlock_wrlock(&hastls_lock_hosts);
    size_t len = strnlen(path, sizeof hosts_path - 1);
    memcpy(hosts_path, path, len);
    hosts_path[len] = '\0';
    table_read = 0;
    pthread_rwlock_unlock(&hastls_lock_hosts);
    __atomic_store_n(&next_check, 0, __ATOMIC_RELAXED);
}
