/* shim/hooks/getnameinfo.c: getnameinfo(3).
 *
 * The service part and numeric hosts go to the next getnameinfo() (they read
 * /etc/services at most); a host name comes from hastls_lookup_ptr() (hosts
 * file, then PTR through the resolver).  NI_NOFQDN shortens a name in the
 * host's own domain, as glibc does.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "shim/core/lookup.h"
#include "shim/core/real.h"
#include "shim/core/state.h"

typedef int (*getnameinfo_fn)(const struct sockaddr *, socklen_t, char *, socklen_t,
                              char *, socklen_t, int);

/* Cuts NAME at its first dot when the rest is this host's domain. */
static void strip_own_domain(char *name)
{
    char self[HASTLS_NAME_MAX];
    if (gethostname(self, sizeof self) != 0)
        return;
    self[sizeof self - 1] = '\0';
    const char *mydom = strchr(self, '.');
    char *dot = strchr(name, '.');
    if (mydom && dot && !strcasecmp(dot, mydom))
        *dot = '\0';
}

/* Returns 0 or an EAI_* code, as getnameinfo(3). */
__attribute__((visibility("default"))) int getnameinfo(const struct sockaddr *sa,
                                                       socklen_t salen, char *host,
                                                       socklen_t hostlen, char *serv,
                                                       socklen_t servlen, int flags)
{
    getnameinfo_fn real = HASTLS_REAL(getnameinfo);
    if (!real)
        return EAI_SYSTEM;
    int inet =
        sa && salen >= (socklen_t)sizeof(sa_family_t) &&
        ((sa->sa_family == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in)) ||
         (sa->sa_family == AF_INET6 && salen >= (socklen_t)sizeof(struct sockaddr_in6)));
    if (!inet || !host || hostlen == 0 || (flags & NI_NUMERICHOST))
        return real(sa, salen, host, hostlen, serv, servlen, flags);
    if (hastls_guarded())
        return real(sa, salen, host, hostlen, serv, servlen, flags | NI_NUMERICHOST);
    int saved = errno;
    if (serv && servlen) {
        int rc = real(sa, salen, NULL, 0, serv, servlen, flags);
        if (rc)
            return rc;
    }
    int family = sa->sa_family;
    const void *addr;
    if (family == AF_INET) {
        addr = &((const struct sockaddr_in *)sa)->sin_addr;
    } else {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        addr = a6;
        if (IN6_IS_ADDR_V4MAPPED(a6) || IN6_IS_ADDR_V4COMPAT(a6)) {
            family = AF_INET; /* glibc asks in-addr.arpa for these */
            addr = a6->s6_addr + 12;
        }
    }
    char name[HASTLS_NAME_MAX];
    int rc = hastls_lookup_ptr(family, addr, name);
    if (rc == 0) {
        if (flags & NI_NOFQDN)
            strip_own_domain(name);
        if (strlen(name) >= hostlen)
            return EAI_OVERFLOW;
        strcpy(host, name);
        errno = saved;
        return 0;
    }
    if (flags & NI_NAMEREQD)
        return rc == EAI_AGAIN ? EAI_AGAIN : EAI_NONAME;
    rc = real(sa, salen, host, hostlen, NULL, 0, flags | NI_NUMERICHOST);
    if (rc == 0)
        errno = saved;
    return rc;
}
