/* shim/hooks/gethostbyname.c: gethostbyname(3) and relatives, gethostbyaddr(3).
 *
 * The reentrant forms fill the caller's buffer; the classic forms use a
 * per-thread buffer (glibc uses one static buffer; per-thread is only
 * safer), allocated on first use and freed when the thread exits.  Numeric names are
 * answered without a lookup, as glibc does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* Lays out a hostent in BUF: NAME, ALIAS (or none), N addresses of AF.
 * Returns 0, or ERANGE when BUF is too small. */
static int fill_hostent(struct hostent *he, char *buf, size_t buflen, const char *name,
                        const char *alias, int af, const struct hastls_ip *ips, size_t n)
{
    size_t alen = af == AF_INET ? 4 : 16;
    size_t pad = (uintptr_t)buf % sizeof(char *);
    pad = pad ? sizeof(char *) - pad : 0;
    size_t nlen = strlen(name) + 1, aliaslen = alias ? strlen(alias) + 1 : 0;
    size_t need = pad + (2 + n + 1) * sizeof(char *) + n * alen + nlen + aliaslen;
    if (need > buflen)
        return ERANGE;
    char **ptrs = (char **)(void *)(buf + pad);
    char **aliases = ptrs, **addrs = ptrs + 2;
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
    aliases[0] = aliases[1] = NULL;
    if (alias) {
        memcpy(p, alias, aliaslen);
        aliases[0] = p;
    }
    he->h_aliases = aliases;
    he->h_addrtype = af;
    he->h_length = (int)alen;
    he->h_addr_list = addrs;
    return 0;
}

/* The common body of the gethostbyname family.  Returns 0 (with *RESULT set,
 * or NULL and *HERR when not found), or ERANGE / EAGAIN. */
static int byname(const char *name, int af, struct hostent *he, char *buf, size_t buflen,
                  struct hostent **result, int *herr)
{
    *result = NULL;
    if (af != AF_INET && af != AF_INET6) {
        *herr = NETDB_INTERNAL;
        errno = EAFNOSUPPORT;
        return EAFNOSUPPORT;
    }
    struct hastls_ip ip;
    memset(&ip, 0, sizeof ip);
    ip.family = af;
    int numeric = af == AF_INET ? inet_aton(name, (struct in_addr *)ip.addr)
                                : inet_pton(AF_INET6, name, ip.addr) == 1;
    if (numeric) {
        int rc = fill_hostent(he, buf, buflen, name, NULL, af, &ip, 1);
        if (rc) {
            *herr = NETDB_INTERNAL;
            return rc;
        }
        *herr = NETDB_SUCCESS;
        *result = he;
        return 0;
    }
    struct hastls_hostinfo *hi = malloc(sizeof *hi);
    if (!hi) {
        *herr = NETDB_INTERNAL;
        return ENOMEM;
    }
    int eai = hastls_lookup_host(name, af, hi);
    int rc = 0;
    if (eai == 0 && (af == AF_INET ? hi->n4 : hi->n6) == 0)
        eai = EAI_NODATA;
    if (eai == 0) {
        char canon[HASTLS_NAME_MAX];
        memcpy(canon, hi->canon, sizeof canon);
        const char *alias = strcasecmp(canon, name) ? name : NULL;
        rc = fill_hostent(he, buf, buflen, canon[0] ? canon : name, alias, af,
                          af == AF_INET ? hi->v4 : hi->v6,
                          af == AF_INET ? hi->n4 : hi->n6);
        if (rc == 0)
            *result = he;
        *herr = rc ? NETDB_INTERNAL : NETDB_SUCCESS;
    } else {
        *herr = herr_of(eai);
        rc = eai == EAI_AGAIN ? EAGAIN : 0;
    }
    free(hi);
    return rc;
}

/* Per-thread storage of the classic forms, allocated on a thread's first
 * call (a static TLS array would cost every thread of every program). */
#define CLASSIC_BUF 8192
struct classic {
    struct hostent he;
    char buf[CLASSIC_BUF];
};
static pthread_key_t classic_key;
static pthread_once_t classic_once = PTHREAD_ONCE_INIT;

static void classic_key_init(void)
{
    pthread_key_create(&classic_key, free);
}

static struct classic *classic_storage(void)
{
    pthread_once(&classic_once, classic_key_init);
    struct classic *c = pthread_getspecific(classic_key);
    if (!c) {
        c = malloc(sizeof *c);
        if (c && pthread_setspecific(classic_key, c) != 0) {
            free(c);
            c = NULL;
        }
    }
    return c;
}

/* Returns 0 / ERANGE / EAGAIN as glibc; *RESULT NULL when not found. */
__attribute__((visibility("default"))) int
gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t buflen,
                 struct hostent **result, int *h_errnop)
{
    int saved = errno;
    int rc = byname(name, af, ret, buf, buflen, result, h_errnop);
    if (rc == 0)
        errno = saved;
    return rc;
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
    int herr = NETDB_INTERNAL;
    struct classic *c = classic_storage();
    if (c)
        gethostbyname2_r(name, af, &c->he, c->buf, sizeof c->buf, &res, &herr);
    if (!res)
        h_errno = herr;
    return res;
}

__attribute__((visibility("default"))) struct hostent *gethostbyname(const char *name)
{
    return gethostbyname2(name, AF_INET);
}

/* Returns 0 / ERANGE / EAGAIN; *RESULT NULL with *H_ERRNOP when not found. */
__attribute__((visibility("default"))) int
gethostbyaddr_r(const void *addr, socklen_t len, int type, struct hostent *ret, char *buf,
                size_t buflen, struct hostent **result, int *h_errnop)
{
    int saved = errno;
    *result = NULL;
    if (!((type == AF_INET && len == 4) || (type == AF_INET6 && len == 16))) {
        *h_errnop = NETDB_INTERNAL;
        errno = EAFNOSUPPORT;
        return EINVAL;
    }
    char name[HASTLS_NAME_MAX];
    int eai = hastls_lookup_ptr(type, addr, name);
    if (eai) {
        *h_errnop = herr_of(eai);
        return eai == EAI_AGAIN ? EAGAIN : 0;
    }
    struct hastls_ip ip;
    memset(&ip, 0, sizeof ip);
    ip.family = type;
    memcpy(ip.addr, addr, len);
    int rc = fill_hostent(ret, buf, buflen, name, NULL, type, &ip, 1);
    if (rc) {
        *h_errnop = NETDB_INTERNAL;
        return rc;
    }
    *h_errnop = NETDB_SUCCESS;
    *result = ret;
    errno = saved;
    return 0;
}

__attribute__((visibility("default"))) struct hostent *
gethostbyaddr(const void *addr, socklen_t len, int type)
{
    struct hostent *res = NULL;
    int herr = NETDB_INTERNAL;
    struct classic *c = classic_storage();
    if (c)
        gethostbyaddr_r(addr, len, type, &c->he, c->buf, sizeof c->buf, &res, &herr);
    if (!res)
        h_errno = herr;
    return res;
}
