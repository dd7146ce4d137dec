/* shim/hooks/res.c: the resolver routines of <resolv.h>.
 *
 * res_query, res_search, res_querydomain, res_send and their res_n* forms,
 * each exported under both names glibc 2.36 has: the plain one (res_query@@
 * GLIBC_2.34, in libc.so.6) and __res_query (what <resolv.h> renames calls
 * to, still exported for old binaries).  All are answered from the resolver's
 * own response packet (DNSSEC-validated, over DoT); libc's resolver never
 * sends a query.  res_search applies the search list and ndots of the
 * resolver state (read by res_ninit() from resolv.conf, no network).
 */
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>

#include "policy/dnswire.h"
#include "shim/core/lookup.h"
#include "shim/core/state.h"

/* <resolv.h> renames these to __res_*; we define both names ourselves. */
#undef res_query
#undef res_search
#undef res_querydomain
#undef res_send
#undef res_nquery
#undef res_nsearch
#undef res_nquerydomain
#undef res_nsend

#define EXPORT __attribute__((visibility("default")))

static void set_herr(res_state st, int herr)
{
    h_errno = herr;
    if (st)
        st->res_h_errno = herr;
}

/* res_query semantics: the length, or -1 with h_errno (RCODE not NOERROR, or
 * no answer records). */
static int query(res_state st, const char *name, int cls, int type, unsigned char *answer,
                 int anslen)
{
    int herr;
    int saved = errno;
    /* The caller never sees the query, so any ID will do: a counter. */
    static unsigned id;
    uint16_t qid = (uint16_t)__atomic_add_fetch(&id, 1, __ATOMIC_RELAXED);
    int len = hastls_lookup_raw(name, cls, type, qid, answer, anslen, &herr);
    set_herr(st, herr);
    if (len < 0 || herr != NETDB_SUCCESS)
        return -1;
    errno = saved;
    return len;
}

static int querydomain(res_state st, const char *name, const char *domain, int cls,
                       int type, unsigned char *answer, int anslen)
{
    char full[NS_MAXDNAME + 2];
    if (!domain) {
        return query(st, name, cls, type, answer, anslen);
    }
    size_t nlen = strlen(name);
    if (nlen && name[nlen - 1] == '.')
        nlen--;
    int n = snprintf(full, sizeof full, "%.*s.%s", (int)nlen, name, domain);
    if (n < 0 || (size_t)n >= sizeof full) {
        set_herr(st, NO_RECOVERY);
        errno = EMSGSIZE;
        return -1;
    }
    return query(st, full, cls, type, answer, anslen);
}

/* The state to read the search list from: ST, initialized if needed. */
static res_state ready(res_state st)
{
    if (st && !(st->options & RES_INIT))
        res_ninit(st); /* reads resolv.conf only */
    return st;
}

static int search(res_state st, const char *name, int cls, int type,
                  unsigned char *answer, int anslen)
{
    st = ready(st);
    size_t len = strlen(name);
    if (len && name[len - 1] == '.')
        return query(st, name, cls, type, answer, anslen);
    unsigned dots = 0;
    for (const char *p = name; *p; p++)
        dots += *p == '.';
    unsigned ndots = st ? st->ndots : 1;
    int r = -1;
    if (dots >= ndots) {
        r = query(st, name, cls, type, answer, anslen);
        if (r >= 0 || h_errno == TRY_AGAIN)
            return r;
    }
    if (st && (st->options & RES_DNSRCH))
        for (int i = 0; i < MAXDNSRCH && st->dnsrch[i]; i++) {
            r = querydomain(st, name, st->dnsrch[i], cls, type, answer, anslen);
            if (r >= 0 || h_errno == TRY_AGAIN)
                return r;
        }
    if (dots < ndots)
        r = query(st, name, cls, type, answer, anslen);
    return r;
}

/* res_send: the question of MSG answered with MSG's ID.  Returns the response
 * length whatever its RCODE, or -1. */
static int send_msg(res_state st, const unsigned char *msg, int msglen,
                    unsigned char *answer, int anslen)
{
    char name[NS_MAXDNAME];
    uint16_t type, cls;
    if (!msg || msglen < 0 ||
        hastls_dns_query_question(msg, (size_t)msglen, name, sizeof name, &type, &cls) <
            0) {
        set_herr(st, NO_RECOVERY);
        errno = EINVAL;
        return -1;
    }
    int herr;
    int saved = errno;
    int len =
        hastls_lookup_raw(name, cls, type, hastls_dns_id(msg), answer, anslen, &herr);
    set_herr(st, herr);
    if (len < 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    errno = saved;
    return len;
}

EXPORT int res_query(const char *dname, int cls, int type, unsigned char *answer,
                     int anslen)
{
    return query(NULL, dname, cls, type, answer, anslen);
}
EXPORT int res_search(const char *dname, int cls, int type, unsigned char *answer,
                      int anslen)
{
    return search(&_res, dname, cls, type, answer, anslen);
}
EXPORT int res_querydomain(const char *name, const char *domain, int cls, int type,
                           unsigned char *answer, int anslen)
{
    return querydomain(NULL, name, domain, cls, type, answer, anslen);
}
EXPORT int res_send(const unsigned char *msg, int msglen, unsigned char *answer,
                    int anslen)
{
    return send_msg(NULL, msg, msglen, answer, anslen);
}
EXPORT int res_nquery(res_state st, const char *dname, int cls, int type,
                      unsigned char *answer, int anslen)
{
    return query(st, dname, cls, type, answer, anslen);
}
EXPORT int res_nsearch(res_state st, const char *dname, int cls, int type,
                       unsigned char *answer, int anslen)
{
    return search(st, dname, cls, type, answer, anslen);
}
EXPORT int res_nquerydomain(res_state st, const char *name, const char *domain, int cls,
                            int type, unsigned char *answer, int anslen)
{
    return querydomain(st, name, domain, cls, type, answer, anslen);
}
EXPORT int res_nsend(res_state st, const unsigned char *msg, int msglen,
                     unsigned char *answer, int anslen)
{
    return send_msg(st, msg, msglen, answer, anslen);
}

/* The __res_* names: aliases of the functions above.  copy() takes over the
 * attributes <resolv.h> gives the __res_* declarations (nothrow, leaf), which
 * GCC otherwise reports as a mismatch; clang has no copy attribute and does
 * not check. */
#if __has_attribute(copy)
#define RES_ALIAS_ATTRS(name) alias(#name), copy(name), visibility("default")
#else
#define RES_ALIAS_ATTRS(name) alias(#name), visibility("default")
#endif
#define RES_ALIAS(name) extern __typeof(name) __##name __attribute__((RES_ALIAS_ATTRS(name)))
RES_ALIAS(res_query);
RES_ALIAS(res_search);
RES_ALIAS(res_querydomain);
RES_ALIAS(res_send);
RES_ALIAS(res_nquery);
RES_ALIAS(res_nsearch);
RES_ALIAS(res_nquerydomain);
RES_ALIAS(res_nsend);
