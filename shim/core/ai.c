/* shim/core/ai.c: addrinfo lists (see ai.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shim/core/ai.h"
#include "shim/core/locks.h"
#include "shim/core/real.h"

/* glibc's gaih_inet_typeproto table (sysdeps/posix/getaddrinfo.c), in order:
 * the first row matching the hints is used; DEFAULT rows are returned when
 * neither socket type nor protocol is given. */
#define PROTO_ANY 1    /* the hints' protocol is used as is */
#define PROTO_NOSERV 2 /* no service port (raw) */
static const struct typeproto {
    int socktype, protocol, flags, dflt;
    const char *name;
} typeproto[] = {
    {SOCK_STREAM, IPPROTO_TCP, 0, 1, "tcp"},
    {SOCK_DGRAM, IPPROTO_UDP, 0, 1, "udp"},
    {SOCK_DCCP, IPPROTO_DCCP, 0, 0, "dccp"},
    {SOCK_DGRAM, IPPROTO_UDPLITE, 0, 0, "udplite"},
    {SOCK_STREAM, IPPROTO_SCTP, 0, 0, "sctp"},
    {SOCK_SEQPACKET, IPPROTO_SCTP, 0, 0, "sctp"},
    {SOCK_RAW, 0, PROTO_ANY | PROTO_NOSERV, 1, "raw"},
};
#define NTP (sizeof typeproto / sizeof typeproto[0])

#define KNOWN_FLAGS                                                                      \
    (AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_ADDRCONFIG | AI_V4MAPPED |          \
     AI_NUMERICSERV | AI_ALL | AI_IDN | AI_CANONIDN | DEPRECATED_AI_IDN)
/* glibc still accepts the two deprecated IDN flags (0x100, 0x200). */
#define DEPRECATED_AI_IDN 0x300

int hastls_ai_check(const char *node, const char *service, const struct addrinfo *hints)
{
    if (!node && !service)
        return EAI_NONAME;
    if (hints->ai_flags & ~KNOWN_FLAGS)
        return EAI_BADFLAGS;
    if ((hints->ai_flags & AI_CANONNAME) && !node)
        return EAI_BADFLAGS;
    if (hints->ai_family != AF_UNSPEC && hints->ai_family != AF_INET &&
        hints->ai_family != AF_INET6)
        return EAI_FAMILY;
    return 0;
}

static int tp_matches(const struct typeproto *tp, const struct addrinfo *hints)
{
    if (hints->ai_socktype != 0 && hints->ai_socktype != tp->socktype)
        return 0;
    if (hints->ai_protocol != 0 && !(tp->flags & PROTO_ANY) &&
        hints->ai_protocol != tp->protocol)
        return 0;
    return 1;
}

/* Service names are looked up in /etc/services (getservbyname_r reads the
 * file on every call: ~10 us per protocol, six protocols per name).  The
 * answers, found or not, are kept for the life of the process in a small
 * table; /etc/services is not expected to change under a running program. */
#define SERV_CACHE 64
static struct {
    char name[32];
    const char *proto; /* points into typeproto[]: compared by address */
    int port;          /* network order, or -1 */
} serv_cache[SERV_CACHE];
static unsigned serv_cache_next;
/* Guards serv_cache and serv_cache_next (in the fork list, locks.h). */
pthread_mutex_t hastls_lock_serv = PTHREAD_MUTEX_INITIALIZER;

/* getservbyname_r for one protocol name: the port in network order, or -1. */
static int serv_port(const char *service, const char *proto)
{
    size_t len = strlen(service);
    int cacheable = len < sizeof serv_cache[0].name;
    if (cacheable) {
        pthread_mutex_lock(&hastls_lock_serv);
        for (unsigned i = 0; i < SERV_CACHE; i++)
            if (serv_cache[i].proto == proto && !strcmp(serv_cache[i].name, service)) {
                int port = serv_cache[i].port;
                pthread_mutex_unlock(&hastls_lock_serv);
                return port;
            }
        pthread_mutex_unlock(&hastls_lock_serv);
    }
    struct servent se, *res = NULL;
    char buf[1024];
    int port = -1;
    if (getservbyname_r(service, proto, &se, buf, sizeof buf, &res) == 0 && res)
        port = (uint16_t)res->s_port;
    if (cacheable) {
        pthread_mutex_lock(&hastls_lock_serv);
        unsigned i = serv_cache_next++ % SERV_CACHE;
        memcpy(serv_cache[i].name, service, len + 1);
        serv_cache[i].proto = proto;
        serv_cache[i].port = port;
        pthread_mutex_unlock(&hastls_lock_serv);
    }
    return port;
}

static void svc_add(struct hastls_svc_list *out, int socktype, int protocol, int port)
{
    if (out->n < HASTLS_AI_MAX_SVC)
        out->s[out->n++] = (struct hastls_svc){socktype, protocol, (uint16_t)port};
}

int hastls_ai_services(const char *service, const struct addrinfo *hints,
                       struct hastls_svc_list *out)
{
    out->n = 0;
    /* glibc: strtoul, all of it consumed, and this check comes first; a
     * value negative as an int (e.g. "-1") is looked up as a name and so
     * fails. */
    int has_service = service && service[0];
    int num = -1;
    if (has_service) {
        char *end;
        num = (int)strtoul(service, &end, 10);
        if (*end != '\0') {
            if (hints->ai_flags & AI_NUMERICSERV)
                return EAI_NONAME;
            num = -1;
        }
    }
    const struct typeproto *tp = NULL;
    if (hints->ai_socktype || hints->ai_protocol) {
        for (size_t i = 0; i < NTP && !tp; i++)
            if (tp_matches(&typeproto[i], hints))
                tp = &typeproto[i];
        if (!tp)
            return hints->ai_socktype ? EAI_SOCKTYPE : EAI_SERVICE;
    }
    int port = 0; /* network order */
    if (has_service) {
        if (tp && (tp->flags & PROTO_NOSERV))
            return EAI_SERVICE;
        if (num < 0) {
            if (tp) {
                int p = serv_port(service, tp->name);
                if (p < 0)
                    return EAI_SERVICE;
                svc_add(out, tp->socktype,
                        (tp->flags & PROTO_ANY) ? hints->ai_protocol : tp->protocol, p);
            } else {
                for (size_t i = 0; i < NTP; i++) {
                    if (typeproto[i].flags & PROTO_NOSERV)
                        continue;
                    int p = serv_port(service, typeproto[i].name);
                    if (p >= 0)
                        svc_add(out, typeproto[i].socktype, typeproto[i].protocol, p);
                }
                if (out->n == 0)
                    return EAI_SERVICE;
            }
            return 0;
        }
        port = htons((uint16_t)num);
    }
    if (tp) {
        svc_add(out, tp->socktype,
                (tp->flags & PROTO_ANY) ? hints->ai_protocol : tp->protocol, port);
    } else {
        for (size_t i = 0; i < NTP; i++)
            if (typeproto[i].dflt)
                svc_add(out, typeproto[i].socktype, typeproto[i].protocol, port);
    }
    return 0;
}

static size_t push(struct hastls_ip *out, size_t n, size_t cap,
                   const struct hastls_ip *ip, int mapped)
{
    if (n >= cap)
        return n;
    if (mapped) {
        out[n].family = AF_INET6;
        hastls_ip_key(AF_INET, ip->addr, out[n].addr);
    } else {
        out[n] = *ip;
    }
    return n + 1;
}

size_t hastls_ai_select(int family, int flags, const struct hastls_ip *v4, size_t n4,
                        const struct hastls_ip *v6, size_t n6, int v6_first,
                        struct hastls_ip *out, size_t cap)
{
    size_t n = 0;
    if (family == AF_INET) {
        for (size_t i = 0; i < n4; i++)
            n = push(out, n, cap, &v4[i], 0);
    } else if (family == AF_INET6) {
        for (size_t i = 0; i < n6; i++)
            n = push(out, n, cap, &v6[i], 0);
        /* AI_V4MAPPED: mapped IPv4 only when there is no IPv6 address, or
         * always with AI_ALL. */
        if ((flags & AI_V4MAPPED) && (n6 == 0 || (flags & AI_ALL)))
            for (size_t i = 0; i < n4; i++)
                n = push(out, n, cap, &v4[i], 1);
    } else if (v6_first) {
        for (size_t i = 0; i < n6; i++)
            n = push(out, n, cap, &v6[i], 0);
        for (size_t i = 0; i < n4; i++)
            n = push(out, n, cap, &v4[i], 0);
    } else {
        for (size_t i = 0; i < n4; i++)
            n = push(out, n, cap, &v4[i], 0);
        for (size_t i = 0; i < n6; i++)
            n = push(out, n, cap, &v6[i], 0);
    }
    return n;
}

void hastls_ai_free(struct addrinfo *ai)
{
    while (ai) {
        struct addrinfo *next = ai->ai_next;
        free(ai->ai_canonname);
        free(ai);
        ai = next;
    }
}

int hastls_ai_build(const struct hastls_ip *ips, size_t n, const char *canon,
                    const struct addrinfo *hints, const struct hastls_svc_list *svc,
                    struct addrinfo **res)
{
    *res = NULL;
    if (n == 0 || svc->n == 0)
        return EAI_NONAME;
    struct addrinfo *head = NULL, **tail = &head;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < svc->n; k++) {
            socklen_t salen = ips[i].family == AF_INET ? sizeof(struct sockaddr_in)
                                                       : sizeof(struct sockaddr_in6);
            /* One block: the entry, then its socket address (glibc's layout). */
            struct addrinfo *ai = calloc(1, sizeof *ai + salen);
            if (!ai)
                goto nomem;
            ai->ai_family = ips[i].family;
            ai->ai_socktype = svc->s[k].socktype;
            ai->ai_protocol = svc->s[k].protocol;
            ai->ai_addrlen = salen;
            ai->ai_addr = (struct sockaddr *)(ai + 1);
            if (ips[i].family == AF_INET) {
                struct sockaddr_in *s4 = (struct sockaddr_in *)ai->ai_addr;
                s4->sin_family = AF_INET;
                s4->sin_port = svc->s[k].port;
                memcpy(&s4->sin_addr, ips[i].addr, 4);
            } else {
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ai->ai_addr;
                s6->sin6_family = AF_INET6;
                s6->sin6_port = svc->s[k].port;
                memcpy(&s6->sin6_addr, ips[i].addr, 16);
            }
            *tail = ai;
            tail = &ai->ai_next;
        }
    }
    if ((hints->ai_flags & AI_CANONNAME) && canon) {
        head->ai_canonname = strdup(canon);
        if (!head->ai_canonname)
            goto nomem;
    }
    *res = head;
    return 0;
nomem:
    hastls_ai_free(head);
    return EAI_MEMORY;
}

/* ---- AI_ADDRCONFIG and the IPv6 route probe ---- */

/* Guards the three fields below (in the fork list, locks.h). */
pthread_mutex_t hastls_lock_addrconfig = PTHREAD_MUTEX_INITIALIZER;
static time_t addrconfig_when;
static int addrconfig_seen4, addrconfig_seen6;

void hastls_ai_addrconfig(int *seen4, int *seen6)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    pthread_mutex_lock(&hastls_lock_addrconfig);
    int fresh = addrconfig_when != 0 && ts.tv_sec - addrconfig_when < 1;
    *seen4 = addrconfig_seen4;
    *seen6 = addrconfig_seen6;
    pthread_mutex_unlock(&hastls_lock_addrconfig);
    if (fresh)
        return;
    /* As glibc's __check_pf: any address but 127.0.0.1 / ::1 counts. */
    int s4 = 0, s6 = 0;
    struct ifaddrs *ifa = NULL;
    if (getifaddrs(&ifa) == 0) {
        for (struct ifaddrs *p = ifa; p; p = p->ifa_next) {
            if (!p->ifa_addr)
                continue;
            if (p->ifa_addr->sa_family == AF_INET) {
                const struct sockaddr_in *a = (const struct sockaddr_in *)p->ifa_addr;
                if (a->sin_addr.s_addr != htonl(INADDR_LOOPBACK))
                    s4 = 1;
            } else if (p->ifa_addr->sa_family == AF_INET6) {
                const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)p->ifa_addr;
                if (!IN6_IS_ADDR_LOOPBACK(&a->sin6_addr))
                    s6 = 1;
            }
        }
        freeifaddrs(ifa);
    } else {
        s4 = s6 = 1; /* unknown: filter nothing */
    }
    pthread_mutex_lock(&hastls_lock_addrconfig);
    addrconfig_seen4 = s4;
    addrconfig_seen6 = s6;
    addrconfig_when = ts.tv_sec;
    pthread_mutex_unlock(&hastls_lock_addrconfig);
    *seen4 = s4;
    *seen6 = s6;
}

int hastls_ai_v6_usable(const uint8_t addr[16])
{
    int saved = errno;
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0) {
        errno = saved;
        return 0;
    }
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(9); /* any port: a UDP connect sends nothing */
    memcpy(&sa.sin6_addr, addr, 16);
    int (*real_connect)(int, const struct sockaddr *, socklen_t) = HASTLS_REAL(connect);
    int ok = real_connect && real_connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    errno = saved;
    return ok;
}
