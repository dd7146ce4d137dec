/* shim/hooks/gethostbyname.c: gethostbyname(3) and relatives, gethostbyaddr(3).
 *
 * The answers, *h_errnop and the global h_errno follow glibc 2.36 (with
 * "hosts: files dns"), source by source, so that programs reading either see
 * what they would see without the shim:
 *   - numeric names ("192.0.2.1", "1.2.3", "::1"), as glibc's digits-and-dots
 *     check reads them: the address itself, *h_errnop NETDB_SUCCESS, or
 *     HOST_NOT_FOUND for a malformed one; h_errno untouched;
 *   - the hosts file (hosts.h: every matching line, aliases merged):
 *     *h_errnop HOST_NOT_FOUND even on success, as glibc's files source
 *     leaves it, h_errno untouched; gethostbyaddr_r leaves both untouched;
 *   - a name that is no host name (hostname.h): HOST_NOT_FOUND, h_errno
 *     untouched, no query;
 *   - DNS (the shim's resolver): *h_errnop the result, h_errno too, and
 *     HOST_NOT_FOUND in h_errno after a successful name lookup (what glibc's
 *     res_search leaves there).
 * The classic forms set h_errno from *h_errnop when that is not 0, as glibc's
 * do.  Their storage is per thread (glibc uses one static buffer; per-thread is
 * only safer), allocated on first use, grown when an answer needs more, and
 * freed when the thread exits.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shim/core/hostname.h"
#include "shim/core/hosts.h"
#include "shim/core/lookup.h"
#include "shim/core/real.h"
#include "shim/core/state.h"

static int herr_of(int eai)
{
    switch (eai) {
    case 0:
        return NETDB_SUCCESS;
    case EAI_NONAME:
        return HOST_NOT_FOUND;
    case EAI_NODATA:
        return NO_DATA;
    case EAI_AGAIN:
        return TRY_AGAIN;
    case EAI_MEMORY:
        return NETDB_INTERNAL;
    default:
        return NO_RECOVERY;
    }
}

/* Lays out a hostent in BUF: NAME, NALIASES aliases (NUL-separated in
 * ALIASES), N addresses of AF.  Returns 0, or ERANGE when BUF is too small. */
static int fill_hostent(struct hostent *he, char *buf, size_t buflen, const char *name,
                        const char *aliases, size_t naliases, int af,
                        const struct hastls_ip *ips, size_t n)
{
    size_t alen = af == AF_INET ? 4 : 16;
    size_t pad = (uintptr_t)buf % sizeof(char *);
    pad = pad ? sizeof(char *) - pad : 0;
    size_t nlen = strlen(name) + 1, aliaslen = 0;
    for (size_t i = 0; i < naliases; i++)
        aliaslen += strlen(aliases + aliaslen) + 1;
    size_t need =
        pad + (naliases + 1 + n + 1) * sizeof(char *) + n * alen + nlen + aliaslen;
    if (need > buflen)
        return ERANGE;
    char **ptrs = (char **)(void *)(buf + pad);
    char **alias_ptrs = ptrs, **addrs = ptrs + naliases + 1;
    char *p = (char *)(addrs + n + 1);
    for (size_t i = 0; i < n; i++) {
        memcpy(p, ips[i].addr, alen);
        addrs[i] = p;
        p += alen;
    }
    addrs[n] = NULL;
    memcpy(p, name, nlen);
    he->h_name = p;
    p += nlen;
    memcpy(p, aliases, aliaslen);
    for (size_t i = 0; i < naliases; i++) {
        alias_ptrs[i] = p;
        p += strlen(p) + 1;
    }
    alias_ptrs[naliases] = NULL;
    he->h_aliases = alias_ptrs;
    he->h_addrtype = af;
    he->h_length = (int)alen;
    he->h_addr_list = addrs;
    return 0;
}

/* What one lookup gives the reentrant functions. */
struct answer {
    int rc;     /* the function's return value: 0, ERANGE, EAGAIN */
    int herr;   /* for *h_errnop; H_KEEP leaves it alone */
    int global; /* for h_errno; H_KEEP leaves it alone */
    int found;  /* the hostent was filled */
};
#define H_KEEP (-1000)

/* glibc's digits-and-dots check: NAME as an address when it looks like one.
 * Returns 1 when it decided (A filled), 0 when NAME is a name. */
static int numeric(const char *name, int af, struct hostent *he, char *buf, size_t buflen,
                   struct answer *a)
{
    unsigned char c0 = (unsigned char)name[0];
    if (!isdigit(c0) && !isxdigit(c0) && c0 != ':')
        return 0;
    size_t len = strlen(name);
    struct hastls_ip ip;
    memset(&ip, 0, sizeof ip);
    ip.family = af;
    int ok = -1; /* -1: not numeric after all */
    if (isdigit(c0) && strspn(name, "0123456789.") == len && name[len - 1] != '.') {
        struct in_addr in;
        if (af == AF_INET)
            ok = inet_aton(name, &in) != 0;
        else
            ok = inet_pton(AF_INET6, name, ip.addr) == 1;
        if (af == AF_INET && ok)
            memcpy(ip.addr, &in, 4);
    } else if ((isxdigit(c0) && strchr(name, ':')) || c0 == ':') {
        if (af == AF_INET)
            ok = 0; /* an IPv6 literal has no IPv4 form */
        else if (strspn(name, "0123456789abcdefABCDEF:.") == len && name[len - 1] != '.')
            ok = inet_pton(AF_INET6, name, ip.addr) == 1;
    }
    if (ok < 0)
        return 0;
    a->global = H_KEEP;
    if (!ok) {
        a->herr = HOST_NOT_FOUND;
        return 1;
    }
    a->rc = fill_hostent(he, buf, buflen, name, "", 0, af, &ip, 1);
    a->herr = a->rc ? NETDB_INTERNAL : NETDB_SUCCESS;
    a->found = a->rc == 0;
    return 1;
}

/* The hosts file.  Returns 1 when it knows NAME (A filled), else 0. */
static int from_hosts(const char *name, int af, struct hostent *he, char *buf,
                      size_t buflen, struct answer *a)
{
    struct hastls_hosts_entry *e = malloc(sizeof *e);
    if (!e) {
        a->rc = ENOMEM;
        a->herr = NETDB_INTERNAL;
        return 1;
    }
    int known = hastls_hosts_lookup_entry(name, af, e);
    if (known && e->n) {
        a->rc = fill_hostent(he, buf, buflen, e->name, e->aliases, e->naliases, af,
                             e->addr, e->n);
        a->herr = a->rc ? NETDB_INTERNAL : HOST_NOT_FOUND;
        a->found = a->rc == 0;
    } else if (known && hastls_hosts_is_localhost(name)) {
        /* The file lacks this family of a localhost name: glibc would ask
         * DNS, where every RFC 6761 resolver answers loopback. */
        struct hastls_ip lo;
        hastls_hosts_loopback(af, &lo);
        char canon[HASTLS_NAME_MAX];
        size_t len = strlen(name);
        if (len > 1 && name[len - 1] == '.')
            len--;
        memcpy(canon, name, len);
        canon[len] = '\0';
        a->rc = fill_hostent(he, buf, buflen, canon, "", 0, af, &lo, 1);
        a->herr = a->rc ? NETDB_INTERNAL : NETDB_SUCCESS;
        a->global = a->rc ? H_KEEP : HOST_NOT_FOUND;
        a->found = a->rc == 0;
    } else if (known) {
        /* Known, not for this family: glibc would ask DNS; the shim keeps
         * the file's names out of DNS and answers as DNS would for a name
         * without such an address. */
        a->herr = a->global = HOST_NOT_FOUND;
    }
    free(e);
    return known;
}

/* The resolver. */
static void from_dns(const char *name, int af, struct hostent *he, char *buf,
                     size_t buflen, struct answer *a)
{
    struct hastls_hostinfo *hi = malloc(sizeof *hi);
    if (!hi) {
        a->rc = ENOMEM;
        a->herr = NETDB_INTERNAL;
        return;
    }
    int eai = hastls_lookup_host(name, af, hi);
    if (eai == 0 && (af == AF_INET ? hi->n4 : hi->n6) == 0)
        eai = EAI_NODATA;
    if (eai == 0) {
        /* The names as glibc spells them (hastls_lookup_host): the alias
         * only when a CNAME was followed. */
        int alias = hi->alias[0] != '\0';
        a->rc = fill_hostent(he, buf, buflen, hi->canon[0] ? hi->canon : name, hi->alias,
                             alias, af, af == AF_INET ? hi->v4 : hi->v6,
                             af == AF_INET ? hi->n4 : hi->n6);
        a->found = a->rc == 0;
        a->herr = a->rc ? NETDB_INTERNAL : NETDB_SUCCESS;
        a->global = HOST_NOT_FOUND;
    } else {
        a->herr = a->global = herr_of(eai);
        a->rc = eai == EAI_AGAIN ? EAGAIN : 0;
    }
    free(hi);
}

/* The common body of the gethostbyname family. */
static void byname(const char *name, int af, struct hostent *he, char *buf, size_t buflen,
                   struct answer *a)
{
    a->rc = 0;
    a->herr = a->global = H_KEEP;
    a->found = 0;
    if (af != AF_INET && af != AF_INET6) {
        a->herr = NETDB_INTERNAL;
        a->rc = EAFNOSUPPORT;
        return;
    }
    if (numeric(name, af, he, buf, buflen, a) || from_hosts(name, af, he, buf, buflen, a))
        return;
    if (name[0] == '\0') {
        /* glibc's resolver refuses to build the query */
        a->herr = a->global = NO_RECOVERY;
        return;
    }
    if (name[0] == '.' && name[1] == '\0') {
        /* the root, which has no address records */
        a->herr = a->global = NO_DATA;
        return;
    }
    if (!hastls_hostname_ok(name)) {
        a->herr = HOST_NOT_FOUND;
        return;
    }
    from_dns(name, af, he, buf, buflen, a);
}

/* Hands A to the caller of a reentrant function.  Returns its value. */
static int finish_r(const struct answer *a, struct hostent *he, struct hostent **result,
                    int *h_errnop, int saved_errno)
{
    *result = a->found ? he : NULL;
    if (a->herr != H_KEEP)
        *h_errnop = a->herr;
    if (a->global != H_KEEP && a->rc != ERANGE) /* glibc's lookup stops before a query */
        h_errno = a->global;
    if (a->rc == 0)
        errno = saved_errno;
    else
        errno = a->rc;
    return a->rc;
}

/* Per-thread storage of the classic forms, allocated on a thread's first
 * call (a static TLS array would cost every thread of every program). */
#define CLASSIC_BUF 8192
#define CLASSIC_BUF_MAX (1 << 20)
struct classic {
    struct hostent he;
    size_t len;
    char *buf;
};
static pthread_key_t classic_key;
static pthread_once_t classic_once = PTHREAD_ONCE_INIT;

static void classic_free(void *p)
{
    struct classic *c = p;
    free(c->buf);
    free(c);
}

static void classic_key_init(void)
{
    pthread_key_create(&classic_key, classic_free);
}

static struct classic *classic_storage(void)
{
    pthread_once(&classic_once, classic_key_init);
    struct classic *c = pthread_getspecific(classic_key);
    if (!c) {
        c = calloc(1, sizeof *c);
        if (c && (!(c->buf = malloc(CLASSIC_BUF)) ||
                  pthread_setspecific(classic_key, c) != 0)) {
            free(c->buf);
            free(c);
            c = NULL;
        } else if (c) {
            c->len = CLASSIC_BUF;
        }
    }
    return c;
}

/* Doubles C's buffer.  Returns 0, or -1 at the limit or out of memory. */
static int classic_grow(struct classic *c)
{
    char *nb = c->len < CLASSIC_BUF_MAX ? realloc(c->buf, c->len * 2) : NULL;
    if (!nb)
        return -1;
    c->buf = nb;
    c->len *= 2;
    return 0;
}

/* Returns 0 / ERANGE / EAGAIN as glibc; *RESULT NULL when not found. */
__attribute__((visibility("default"))) int
gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t buflen,
                 struct hostent **result, int *h_errnop)
{
    int saved = errno;
    struct answer a;
    byname(name, af, ret, buf, buflen, &a);
    return finish_r(&a, ret, result, h_errnop, saved);
}

__attribute__((visibility("default"))) int
gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
                struct hostent **result, int *h_errnop)
{
    return gethostbyname2_r(name, AF_INET, ret, buf, buflen, result, h_errnop);
}

/* Returns the entry (per-thread storage) or NULL with h_errno set. */
__attribute__((visibility("default"))) struct hostent *gethostbyname2(const char *name,
                                                                      int af)
{
    struct hostent *res = NULL;
    int herr = 0;
    struct classic *c = classic_storage();
    if (!c) {
        h_errno = NETDB_INTERNAL;
        return NULL;
    }
    while (gethostbyname2_r(name, af, &c->he, c->buf, c->len, &res, &herr) == ERANGE &&
           classic_grow(c) == 0)
        herr = 0;
    if (herr != 0)
        h_errno = herr;
    return res;
}

__attribute__((visibility("default"))) struct hostent *gethostbyname(const char *name)
{
    return gethostbyname2(name, AF_INET);
}

/* glibc's DNS source asks a v4-mapped or v4-compatible IPv6 address (not
 * ::1) as its IPv4 address, and answers with that: *FAMILY and *ADDR are
 * changed to it.  */
static void dns_form(int *family, const unsigned char **addr, socklen_t *len)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char zero[12] = {0};
    const unsigned char *a = *addr;
    if (*family == AF_INET6 &&
        (!memcmp(a, mapped, 12) ||
         (!memcmp(a, zero, 12) && memcmp(a + 12, "\0\0\0\x01", 4)))) {
        *family = AF_INET;
        *addr = a + 12;
        *len = 4;
    }
}

/* Returns 0 / ERANGE / EAGAIN; *RESULT NULL with *H_ERRNOP when not found. */
__attribute__((visibility("default"))) int
gethostbyaddr_r(const void *addr, socklen_t len, int type, struct hostent *ret, char *buf,
                size_t buflen, struct hostent **result, int *h_errnop)
{
    int saved = errno;
    struct answer a = {0, H_KEEP, H_KEEP, 0};
    *result = NULL;
    if (len == 16 && !memcmp(addr, &in6addr_any, 16)) {
        *h_errnop = HOST_NOT_FOUND; /* glibc answers "::" at once */
        errno = ENOENT;
        return ENOENT;
    }
    if (!((type == AF_INET && len == 4) || (type == AF_INET6 && len == 16))) {
        *h_errnop = NETDB_INTERNAL;
        errno = EAFNOSUPPORT;
        return EINVAL;
    }
    struct hastls_hosts_entry *e = malloc(sizeof *e);
    if (!e) {
        *h_errnop = NETDB_INTERNAL;
        errno = ENOMEM;
        return ENOMEM;
    }
    if (hastls_hosts_lookup_addr_entry(type, addr, e)) {
        a.rc = fill_hostent(ret, buf, buflen, e->name, e->aliases, e->naliases, type,
                            e->addr, 1);
        a.herr = a.rc ? NETDB_INTERNAL : H_KEEP;
    } else {
        char name[HASTLS_NAME_MAX];
        const unsigned char *qaddr = addr;
        dns_form(&type, &qaddr, &len);
        int eai = hastls_lookup_ptr(type, qaddr, name);
        if (eai) {
            a.herr = a.global = herr_of(eai);
            a.rc = eai == EAI_AGAIN ? EAGAIN : 0;
        } else {
            struct hastls_ip ip;
            memset(&ip, 0, sizeof ip);
            ip.family = type;
            memcpy(ip.addr, qaddr, len);
            a.rc = fill_hostent(ret, buf, buflen, name, "", 0, type, &ip, 1);
            a.herr = a.rc ? NETDB_INTERNAL : NETDB_SUCCESS;
        }
    }
    free(e);
    a.found = a.rc == 0 && (a.herr == H_KEEP || a.herr == NETDB_SUCCESS);
    return finish_r(&a, ret, result, h_errnop, saved);
}

__attribute__((visibility("default"))) struct hostent *
gethostbyaddr(const void *addr, socklen_t len, int type)
{
    struct hostent *res = NULL;
    int herr = 0;
    struct classic *c = classic_storage();
    if (!c) {
        h_errno = NETDB_INTERNAL;
        return NULL;
    }
    while (gethostbyaddr_r(addr, len, type, &c->he, c->buf, c->len, &res, &herr) ==
               ERANGE &&
           classic_grow(c) == 0)
        herr = 0;
    if (herr != 0)
        h_errno = herr;
    return res;
}
