/* shim/hooks/getaddrinfo.c: getaddrinfo(3), freeaddrinfo(3), getaddrinfo_a(3).
 *
 * Numeric hosts and a NULL node involve no lookup: they go to the next
 * getaddrinfo() with AI_NUMERICHOST forced, so libc can never turn them into
 * a DNS query.  A name the hosts file knows is answered from it the way
 * glibc's files source answers getaddrinfo (hosts_answer); a name glibc would
 * not send to DNS (hostname.h) is EAI_NONAME at once; the rest go through
 * hastls_lookup_host_service() (front cache, resolver; with the service's
 * port, its TLSA RRset for DANE comes along).  The list is built by ai.c
 * the way glibc builds it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim/core/ai.h"
#include "shim/core/hostname.h"
#include "shim/core/hosts.h"
#include "shim/core/log.h"
#include "shim/core/lookup.h"
#include "shim/core/real.h"
#include "shim/core/sigthread.h"
#include "shim/core/state.h"

/* Could NODE be an address literal (inet_aton forms such as "127.1" or
 * "0x7f.1", IPv6 with a scope)?  Host names never hold ':' and never start
 * with a digit while consisting only of hex digits, dots and 'x'. */
static int numeric_candidate(const char *node)
{
    if (strchr(node, ':'))
        return 1;
    if (node[0] < '0' || node[0] > '9')
        return 0;
    for (const char *p = node; *p; p++)
        if (!strchr("0123456789abcdefABCDEFxX.", *p))
            return 0;
    return 1;
}

static int next_numeric(const char *node, const char *service,
                        const struct addrinfo *hints, struct addrinfo **res)
{
    int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **) =
        HASTLS_REAL(getaddrinfo);
    if (!real)
        return EAI_SYSTEM;
    struct addrinfo h = *hints;
    if (node)
        h.ai_flags |= AI_NUMERICHOST;
    return real(node, service, &h, res);
}

/* The hosts file's answer for NODE asked as FAMILY with FLAGS, as glibc
 * reads the file for getaddrinfo: AF_UNSPEC every line with its own family,
 * AF_INET the IPv4 view (v4-mapped and ::1 lines as IPv4), AF_INET6 the IPv6
 * lines and, with AI_V4MAPPED when they give nothing (or AI_ALL), the IPv4
 * view as well.  A localhost name the file lacks this family of gets the
 * loopback address: glibc would ask DNS, where every RFC 6761 resolver
 * answers so.  Returns 0 when the file does not know NODE, else 1 with HI
 * filled (no address at all: the name has none of FAMILY). */
static int hosts_answer(const char *node, int family, int flags,
                        struct hastls_hostinfo *hi)
{
    hi->n4 = hi->n6 = 0;
    hi->v6_first = 0;
    if (family == AF_UNSPEC) {
        struct hastls_ip ips[2 * HASTLS_LOOKUP_MAX];
        size_t n = 0;
        if (!hastls_hosts_lookup_name(node, AF_UNSPEC, ips, 2 * HASTLS_LOOKUP_MAX, &n,
                                      hi->canon))
            return 0;
        for (size_t i = 0; i < n; i++) {
            if (ips[i].family == AF_INET && hi->n4 < HASTLS_LOOKUP_MAX)
                hi->v4[hi->n4++] = ips[i];
            else if (ips[i].family == AF_INET6 && hi->n6 < HASTLS_LOOKUP_MAX)
                hi->v6[hi->n6++] = ips[i];
        }
    } else if (family == AF_INET) {
        if (!hastls_hosts_lookup_name(node, AF_INET, hi->v4, HASTLS_LOOKUP_MAX, &hi->n4,
                                      hi->canon))
            return 0;
    } else {
        if (!hastls_hosts_lookup_name(node, AF_INET6, hi->v6, HASTLS_LOOKUP_MAX, &hi->n6,
                                      hi->canon))
            return 0;
        if ((flags & AI_V4MAPPED) && (hi->n6 == 0 || (flags & AI_ALL))) {
            char canon4[HASTLS_NAME_MAX];
            hastls_hosts_lookup_name(node, AF_INET, hi->v4, HASTLS_LOOKUP_MAX, &hi->n4,
                                     canon4);
            if (hi->n6 == 0 && hi->n4)
                memcpy(hi->canon, canon4, sizeof canon4);
        }
    }
    if (hi->n4 + hi->n6 == 0 && family != AF_UNSPEC && hastls_hosts_is_localhost(node)) {
        size_t len = strlen(node);
        if (len > 1 && node[len - 1] == '.')
            len--;
        memcpy(hi->canon, node, len);
        hi->canon[len] = '\0';
        if (family == AF_INET)
            hastls_hosts_loopback(AF_INET, &hi->v4[hi->n4++]);
        else
            hastls_hosts_loopback(AF_INET6, &hi->v6[hi->n6++]);
    }
    hi->v6_first = hi->n6 && hastls_ai_v6_usable(hi->v6[0].addr);
    return 1;
}

/* Returns 0 with *RES set, or an EAI_* code (see getaddrinfo(3)); errno is
 * unchanged unless the result is EAI_SYSTEM. */
__attribute__((visibility("default"))) int getaddrinfo(const char *node,
                                                       const char *service,
                                                       const struct addrinfo *hints,
                                                       struct addrinfo **res)
{
    /* glibc's defaults when HINTS is NULL. */
    static const struct addrinfo default_hints = {.ai_flags = AI_V4MAPPED | AI_ADDRCONFIG,
                                                  .ai_family = AF_UNSPEC};
    if (!hints)
        hints = &default_hints;
    if (hastls_guarded())
        return next_numeric(node, service, hints, res);
    if (node && node[0] == '*' && node[1] == '\0')
        node = NULL;
    if (service && service[0] == '*' && service[1] == '\0')
        service = NULL;
    int rc = hastls_ai_check(node, service, hints);
    if (rc)
        return rc;
    if (!node)
        return next_numeric(NULL, service, hints, res);
    if (numeric_candidate(node)) {
        rc = next_numeric(node, service, hints, res);
        if (rc != EAI_NONAME)
            return rc;
    }
    int saved = errno;
    struct hastls_svc_list svc;
    rc = hastls_ai_services(service, hints, &svc); /* glibc checks it first */
    if (rc)
        return rc;
    if (hints->ai_flags & AI_NUMERICHOST)
        return EAI_NONAME;
    int family = hints->ai_family;
    if (hints->ai_flags & AI_ADDRCONFIG) {
        int seen4, seen6;
        hastls_guard_enter();
        hastls_ai_addrconfig(&seen4, &seen6);
        hastls_guard_leave();
        if (family == AF_UNSPEC && (seen4 || seen6)) {
            if (!seen6)
                family = AF_INET;
            else if (!seen4)
                family = AF_INET6;
        } else if ((family == AF_INET && !seen4) || (family == AF_INET6 && !seen6)) {
            return EAI_NONAME;
        }
    }
    /* AF_INET6 with AI_V4MAPPED may answer with IPv4: ask for both. */
    int lookup_family =
        family == AF_INET6 && (hints->ai_flags & AI_V4MAPPED) ? AF_UNSPEC : family;
    /* On the stack (about 3 KiB): a warm lookup allocates only the result. */
    struct hastls_hostinfo hi;
    if (hosts_answer(node, family, hints->ai_flags, &hi)) {
        rc = hi.n4 + hi.n6 ? 0 : EAI_NONAME;
    } else if (node[0] == '.' && node[1] == '\0') {
        rc = EAI_NODATA; /* the root, which has no address records */
    } else if (!hastls_hostname_ok(node)) {
        errno = saved;
        return EAI_NONAME; /* glibc sends no query for it */
    } else {
        /* The service's TLSA RRset comes along for the handshake to come
         * (shim/core/dane.h; which ports and sockets: policy/tlsa.h). */
        struct hastls_lookup_service want = {svc.n ? ntohs(svc.s[0].port) : 0,
                                             hints->ai_socktype, hints->ai_protocol};
        rc = hastls_lookup_host_service(node, lookup_family, svc.n ? &want : NULL, &hi);
    }
    if (rc == 0) {
        struct hastls_ip ips[2 * HASTLS_LOOKUP_MAX];
        size_t n = hastls_ai_select(family, hints->ai_flags, hi.v4, hi.n4, hi.v6, hi.n6,
                                    hi.v6_first, ips, 2 * HASTLS_LOOKUP_MAX);
        rc = n ? hastls_ai_build(ips, n, hi.canon, hints, &svc, res) : EAI_NODATA;
    }
    errno = saved;
    return rc;
}

/* Frees a list from either getaddrinfo: ours allocates exactly as glibc does
 * (see ai.h), so libc's freeaddrinfo is right for both. */
__attribute__((visibility("default"))) void freeaddrinfo(struct addrinfo *ai)
{
    void (*real)(struct addrinfo *) = HASTLS_REAL(freeaddrinfo);
    if (real)
        real(ai);
    else
        hastls_ai_free(ai);
}

struct notify {
    void (*fn)(union sigval);
    union sigval value;
};

/* The notification thread: it starts with every signal blocked (sigthread.h)
 * and, as glibc's own notification thread does, opens them all just before
 * the program's function runs. */
static void *notify_thread(void *arg)
{
    struct notify n = *(struct notify *)arg;
    free(arg);
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    n.fn(n.value);
    return NULL;
}

/* Starts the SIGEV_THREAD notification as glibc does: with the program's
 * attributes when it gave some, else detached. */
static void notify_start(const struct sigevent *sevp)
{
    struct notify *n = malloc(sizeof *n);
    if (!n)
        return;
    n->fn = sevp->sigev_notify_function;
    n->value = sevp->sigev_value;
    pthread_attr_t detached;
    const pthread_attr_t *attr = sevp->sigev_notify_attributes;
    if (!attr) {
        if (pthread_attr_init(&detached) != 0) {
            free(n);
            return;
        }
        pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
        attr = &detached;
    }
    pthread_t t;
    if (hastls_sigthread_start(&t, attr, notify_thread, n) != 0)
        free(n);
    if (attr == &detached)
        pthread_attr_destroy(&detached);
}

/* getaddrinfo_a() is served synchronously through our getaddrinfo(): libc's
 * version would resolve on its own threads through libc's resolver.  Each
 * request's result and status are set before returning (gai_error() reads the
 * status, gai_suspend() sees nothing pending, gai_cancel() says EAI_ALLDONE);
 * with GAI_NOWAIT the notification is delivered as asked.  Returns 0, or
 * EAI_SYSTEM with errno EINVAL for a bad mode. */
__attribute__((visibility("default"))) int
getaddrinfo_a(int mode, struct gaicb *list[], int nitems, struct sigevent *sevp)
{
    if ((mode != GAI_WAIT && mode != GAI_NOWAIT) || nitems < 0) {
        errno = EINVAL;
        return EAI_SYSTEM;
    }
    for (int i = 0; i < nitems; i++) {
        struct gaicb *r = list[i];
        if (!r)
            continue;
        r->ar_result = NULL;
        r->__return =
            getaddrinfo(r->ar_name, r->ar_service, r->ar_request, &r->ar_result);
    }
    if (mode == GAI_NOWAIT && sevp) {
        if (sevp->sigev_notify == SIGEV_SIGNAL) {
            sigqueue(getpid(), sevp->sigev_signo, sevp->sigev_value);
        } else if (sevp->sigev_notify == SIGEV_THREAD && sevp->sigev_notify_function) {
            notify_start(sevp);
        }
    }
    return 0;
}
