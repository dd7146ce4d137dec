/* shim/hooks/getnameinfo.c: getnameinfo(3).
 *
 * The service part and numeric hosts go to the next getnameinfo() (they read
 * /etc/services at most).  A host name comes from gethostbyaddr_r() - the
 * shim's own (hosts file, then PTR through the resolver) - exactly as glibc's
 * getnameinfo asks its own: the IPv6 form of a v4-mapped address included,
 * EAI_AGAIN when the lookup could not be answered, EAI_NONAME or the numeric
 * form when the address has no name.  NI_NOFQDN cuts the host's own domain
 * found as glibc finds it (own_domain).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim/core/real.h"
#include "shim/core/state.h"

typedef int (*getnameinfo_fn)(const struct sockaddr *, socklen_t, char *, socklen_t,
                              char *, socklen_t, int);

#define NAME_BUF 8192

/* The domain part (after the first dot) of NAME into DOMAIN; 1 when NAME has
 * one. */
static int domain_of(const char *name, char *domain)
{
    const char *dot = strchr(name, '.');
    if (!dot || strlen(dot + 1) >= HASTLS_NAME_MAX)
        return 0;
    memcpy(domain, dot + 1, strlen(dot + 1) + 1);
    return 1;
}

/* This host's domain as glibc's getnameinfo finds it: the domain part of
 * the canonical name of "localhost", else of gethostname(), else of the
 * canonical name of that host name, else of the name of 127.0.0.1.  Each
 * step goes through the shim's own lookups.  Returns 1 with DOMAIN
 * (HASTLS_NAME_MAX bytes) set, 0 when none is found. */
static int own_domain(char *domain, char *buf)
{
    struct hostent he, *h = NULL;
    int herr;
    if (gethostbyname_r("localhost", &he, buf, NAME_BUF, &h, &herr) == 0 && h &&
        domain_of(h->h_name, domain))
        return 1;
    char self[HASTLS_NAME_MAX];
    if (gethostname(self, sizeof self) != 0)
        return 0;
    self[sizeof self - 1] = '\0';
    if (domain_of(self, domain))
        return 1;
    h = NULL;
    if (gethostbyname_r(self, &he, buf, NAME_BUF, &h, &herr) == 0 && h &&
        domain_of(h->h_name, domain))
        return 1;
    struct in_addr lo = {htonl(INADDR_LOOPBACK)};
    h = NULL;
    if (gethostbyaddr_r(&lo, sizeof lo, AF_INET, &he, buf, NAME_BUF, &h, &herr) == 0 &&
        h && domain_of(h->h_name, domain))
        return 1;
    return 0;
}

/* NI_NOFQDN as glibc applies it: NAME is cut before the first place where
 * the domain appears right after a dot (not only at its end). */
static void strip_own_domain(char *name, char *buf)
{
    char domain[HASTLS_NAME_MAX];
    if (!own_domain(domain, buf))
        return;
    char *c = strstr(name, domain);
    if (c && c != name && c[-1] == '.')
        c[-1] = '\0';
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
    if (!inet || !host || hostlen == 0 || (flags & NI_NUMERICHOST) ||
        (flags & ~(NI_NUMERICHOST | NI_NUMERICSERV | NI_NOFQDN | NI_NAMEREQD | NI_DGRAM |
                   NI_IDN)))
        return real(sa, salen, host, hostlen, serv, servlen, flags);
    if (hastls_guarded())
        return real(sa, salen, host, hostlen, serv, servlen, flags | NI_NUMERICHOST);
    int saved = errno;
    if (serv && servlen) {
        int rc = real(sa, salen, NULL, 0, serv, servlen, flags);
        if (rc)
            return rc;
    }
    const void *addr;
    socklen_t alen;
    if (sa->sa_family == AF_INET) {
        addr = &((const struct sockaddr_in *)sa)->sin_addr;
        alen = 4;
    } else {
        addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        alen = 16;
    }
    char *buf = malloc(NAME_BUF);
    if (!buf)
        return EAI_MEMORY;
    struct hostent he, *h = NULL;
    int herr = NETDB_SUCCESS;
    int rc = gethostbyaddr_r(addr, alen, sa->sa_family, &he, buf, NAME_BUF, &h, &herr);
    if (!h) {
        free(buf);
        if (rc == ERANGE || herr == NETDB_INTERNAL)
            return EAI_SYSTEM;
        if (herr == TRY_AGAIN)
            return EAI_AGAIN;
        if (flags & NI_NAMEREQD)
            return EAI_NONAME;
        rc = real(sa, salen, host, hostlen, NULL, 0, flags | NI_NUMERICHOST);
        if (rc == 0)
            errno = saved;
        return rc;
    }
    char name[HASTLS_NAME_MAX];
    size_t len = strlen(h->h_name);
    if (len >= sizeof name)
        len = sizeof name - 1;
    memcpy(name, h->h_name, len);
    name[len] = '\0';
    if (flags & NI_NOFQDN)
        strip_own_domain(name, buf);
    free(buf);
    if (strlen(name) >= hostlen)
        return EAI_OVERFLOW;
    strcpy(host, name);
    errno = saved;
    return 0;
}
