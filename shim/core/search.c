/* shim/core/search.c: resolv.conf search list (see search.h). */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shim/core/locks.h"
#include "shim/core/search.h"

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* The next token of [*P, END) into TOK (TOKLEN); returns its length, 0 at
 * the end.  Overlong tokens are cut (and so never match a keyword). */
static size_t token(const char **p, const char *end, char *tok, size_t toklen)
{
    while (*p < end && is_space(**p))
        (*p)++;
    size_t n = 0;
    while (*p < end && !is_space(**p)) {
        if (n + 1 < toklen)
            tok[n] = **p;
        n++;
        (*p)++;
    }
    tok[n < toklen ? n : toklen - 1] = '\0';
    return n;
}

static void set_domains(struct hastls_search *out, const char *p, const char *end)
{
    out->n = 0;
    char tok[HASTLS_NAME_MAX + 1];
    size_t n;
    while ((n = token(&p, end, tok, sizeof tok)) > 0) {
        if (n >= HASTLS_NAME_MAX - 1 || out->n >= HASTLS_SEARCH_MAX)
            continue;
        size_t len = n;
        if (len > 1 && tok[len - 1] == '.')
            tok[--len] = '\0';
        if (len == 1 && tok[0] == '.')
            continue; /* the root: nothing to append */
        for (size_t i = 0; i < len; i++)
            if (tok[i] >= 'A' && tok[i] <= 'Z')
                tok[i] = (char)(tok[i] + 32);
        memcpy(out->domain[out->n++], tok, len + 1);
    }
}

void hastls_search_parse(const char *buf, size_t len, struct hastls_search *out)
{
    out->ndots = 1;
    out->n = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        const char *end = nl ? nl : buf + len;
        const char *p = buf + pos;
        pos = (size_t)(end - buf) + 1;
        if (p < end && (*p == '#' || *p == ';'))
            continue;
        char key[16];
        if (!token(&p, end, key, sizeof key))
            continue;
        if (!strcmp(key, "search") || !strcmp(key, "domain")) {
            set_domains(out, p, end);
            if (!strcmp(key, "domain") && out->n > 1)
                out->n = 1; /* "domain" takes one name */
        } else if (!strcmp(key, "options")) {
            char opt[32];
            while (token(&p, end, opt, sizeof opt) > 0) {
                if (!strncmp(opt, "ndots:", 6)) {
                    long v = strtol(opt + 6, NULL, 10);
                    out->ndots = v < 0 ? 0 : v > 15 ? 15 : (int)v;
                }
            }
        }
    }
}

static size_t add(char out[][HASTLS_NAME_MAX], size_t n, size_t cap, const char *name,
                  const char *domain)
{
    if (n >= cap)
        return n;
    int len = domain ? snprintf(out[n], HASTLS_NAME_MAX, "%s.%s", name, domain)
                     : snprintf(out[n], HASTLS_NAME_MAX, "%s", name);
    return len > 0 && len < HASTLS_NAME_MAX ? n + 1 : n;
}

size_t hastls_search_candidates(const struct hastls_search *s, const char *name,
                                char out[][HASTLS_NAME_MAX], size_t cap)
{
    int dots = 0;
    for (const char *p = name; *p; p++)
        dots += *p == '.';
    size_t n = 0;
    if (dots >= s->ndots)
        n = add(out, n, cap, name, NULL);
    for (size_t i = 0; i < s->n; i++)
        n = add(out, n, cap, name, s->domain[i]);
    if (dots < s->ndots)
        n = add(out, n, cap, name, NULL);
    if (n == 0 && cap > 0)
        n = add(out, n, cap, name, NULL);
    return n;
}

/* ---- the process's list ---- */

/* Guards current, path and the change-detection fields (in the fork list,
 * locks.h). */
pthread_mutex_t hastls_lock_search = PTHREAD_MUTEX_INITIALIZER;
static struct hastls_search current = {1, 0, {{0}}};
static char conf_path[HASTLS_PATH_MAX] = "/etc/resolv.conf";
static struct timespec conf_mtim;
static off_t conf_size = -1;
static ino_t conf_ino;
static uint64_t next_check; /* monotonic seconds, under hastls_lock_search */

static uint64_t mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec;
}

static void reread(const char *path)
{
    struct stat st;
    struct hastls_search s = {1, 0, {{0}}};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (fstat(fd, &st) == 0 && st.st_size >= 0 && st.st_size < (1 << 20)) {
            size_t cap = (size_t)st.st_size + 1;
            char *buf = malloc(cap);
            ssize_t r = buf ? read(fd, buf, cap) : -1;
            if (r >= 0)
                hastls_search_parse(buf, (size_t)r, &s);
            free(buf);
        }
        close(fd);
    } else {
        memset(&st, 0, sizeof st);
        st.st_size = -2;
    }
    pthread_mutex_lock(&hastls_lock_search);
    current = s;
    conf_mtim = st.st_mtim;
    conf_size = st.st_size;
    conf_ino = st.st_ino;
    pthread_mutex_unlock(&hastls_lock_search);
}

void hastls_search_current(struct hastls_search *out)
{
    uint64_t now = mono_seconds();
    char path[HASTLS_PATH_MAX];
    int check = 0;
    struct timespec mtim;
    off_t size;
    ino_t ino;
    pthread_mutex_lock(&hastls_lock_search);
    if (now >= next_check) {
        next_check = now + 1;
        check = 1;
        memcpy(path, conf_path, sizeof path);
    }
    mtim = conf_mtim;
    size = conf_size;
    ino = conf_ino;
    pthread_mutex_unlock(&hastls_lock_search);
    if (check) {
        struct stat st;
        int ok = stat(path, &st) == 0;
        if (!ok ? size != -2
                : st.st_size != size || st.st_ino != ino ||
                      st.st_mtim.tv_sec != mtim.tv_sec ||
                      st.st_mtim.tv_nsec != mtim.tv_nsec)
            reread(path);
    }
    pthread_mutex_lock(&hastls_lock_search);
    out->ndots = current.ndots;
    out->n = current.n;
    for (size_t i = 0; i < current.n; i++)
        memcpy(out->domain[i], current.domain[i], strlen(current.domain[i]) + 1);
    pthread_mutex_unlock(&hastls_lock_search);
}

void hastls_search_set_path(const char *path)
{
    pthread_mutex_lock(&hastls_lock_search);
    snprintf(conf_path, sizeof conf_path, "%s", path);
    next_check = 0;
    conf_size = -1;
    pthread_mutex_unlock(&hastls_lock_search);
}
