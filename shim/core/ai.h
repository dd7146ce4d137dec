/* shim/core/ai.h: struct addrinfo results, built the way glibc 2.36 builds them.
 *
 * The checks, the error codes and the list shape follow glibc's getaddrinfo()
 * (verified against it for numeric hosts in tests/unit/test_shim_ai.c): one
 * entry per address per socket type, and with neither socket type nor protocol
 * given, one each for SOCK_STREAM/tcp, SOCK_DGRAM/udp and SOCK_RAW; the
 * canonical name on the first entry only.
 *
 * Memory layout: every entry is one malloc() block holding the struct
 * addrinfo followed by its socket address, and ai_canonname is a separate
 * malloc() block, exactly as glibc allocates them.  So either freeaddrinfo()
 * (ours or libc's) frees either kind of list correctly, even after a program
 * re-links entries of several lists (some do, to sort them) - a registry or a
 * header in front of our blocks could not survive that.
 *
 * Address order (documented in the man page): with AF_UNSPEC, IPv6 addresses
 * come first when the host has a route to the first IPv6 address (probed once
 * per answer with a UDP connect, which sends nothing), else IPv4 first; within
 * a family the answer's order.  This approximates RFC 6724 rule 1 (avoid
 * unusable destinations) and otherwise its IPv6-first default precedence.
 */
#ifndef HASTLS_SHIM_AI_H
#define HASTLS_SHIM_AI_H

#include <netdb.h>
#include <stddef.h>
#include <stdint.h>

#include "shim/core/ip.h"

#define HASTLS_AI_MAX_SVC 8

struct hastls_svc {
    int socktype;
    int protocol;
    uint16_t port; /* network order */
};

struct hastls_svc_list {
    size_t n;
    struct hastls_svc s[HASTLS_AI_MAX_SVC];
};

/* The glibc checks on the arguments that come before any lookup: NULL node
 * and service, unknown flags, AI_CANONNAME without a node, the family.
 * Returns 0 or an EAI_* code. */
int hastls_ai_check(const char *node, const char *service, const struct addrinfo *hints);

/* The (socktype, protocol, port) triples for SERVICE (NULL or "" for none)
 * under HINTS: numeric ports, names through getservbyname_r (which reads
 * /etc/services, never the network).  Returns 0 or EAI_SERVICE, EAI_SOCKTYPE,
 * EAI_NONAME (AI_NUMERICSERV with a name). */
int hastls_ai_services(const char *service, const struct addrinfo *hints,
                       struct hastls_svc_list *out);

/* Chooses and orders the addresses to return for FAMILY and FLAGS
 * (AI_V4MAPPED, AI_ALL) from V4[0..N4) and V6[0..N6), into OUT (capacity
 * CAP), IPv4 as v4-mapped IPv6 where AF_INET6 asks for it.  V6_FIRST orders
 * IPv6 first with AF_UNSPEC.  Returns the count. */
size_t hastls_ai_select(int family, int flags, const struct hastls_ip *v4, size_t n4,
                        const struct hastls_ip *v6, size_t n6, int v6_first,
                        struct hastls_ip *out, size_t cap);

/* Builds the list for IPS[0..N) x SVC; CANON (or NULL) goes on the first entry
 * when AI_CANONNAME is set.  Returns 0, EAI_MEMORY, or EAI_NONAME when N or the
 * service list is empty. */
int hastls_ai_build(const struct hastls_ip *ips, size_t n, const char *canon,
                    const struct addrinfo *hints, const struct hastls_svc_list *svc,
                    struct addrinfo **res);

/* Frees a list as glibc does (each entry, each canonical name). */
void hastls_ai_free(struct addrinfo *ai);

/* AI_ADDRCONFIG as glibc: whether a non-loopback IPv4 / IPv6 address is
 * configured (cached for a second). */
void hastls_ai_addrconfig(int *seen4, int *seen6);

/* Whether the host has a route to ADDR (AF_INET6): a UDP connect, no packet. */
int hastls_ai_v6_usable(const uint8_t addr[16]);

#endif
