/* shim/core/lookup.h: the lookups every hook shares.
 *
 * A host lookup asks A, AAAA and the HASTLS type (cfg->record_type) in one
 * batched resolver call, caches each answer in the front cache and records
 * every address in the address map with the name and what the HASTLS answer
 * said.  Sources, in order: the hosts file (hosts.h), "localhost" and
 * "*.localhost" (RFC 6761, when the file lacks them), the front cache, the
 * resolver.  Never libc's resolver.  A name without a trailing dot is also
 * tried with the search domains of resolv.conf (search.h), as glibc does.
 * Names answered from the hosts file have no HASTLS record and are not
 * recorded in the address map (connections to them are not governed).
 */
#ifndef HASTLS_SHIM_LOOKUP_H
#define HASTLS_SHIM_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include "policy/config.h"
#include "shim/core/ip.h"
#include "shim/resolver/resolver.h"

#define HASTLS_LOOKUP_MAX 32 /* addresses per family */

struct hastls_hostinfo {
    char canon[HASTLS_NAME_MAX]; /* canonical name, no trailing dot, spelled
                                  * as glibc spells it (see hastls_lookup_host) */
    char alias[HASTLS_NAME_MAX]; /* when a CNAME was followed: the name asked
                                  * (as spelled, no trailing dot); else "" */
    size_t n4, n6;
    struct hastls_ip v4[HASTLS_LOOKUP_MAX];
    struct hastls_ip v6[HASTLS_LOOKUP_MAX];
    int v6_first; /* order IPv6 first with AF_UNSPEC (see ai.h) */
};

/* Looks NAME up for FAMILY (AF_UNSPEC, AF_INET, AF_INET6; both families are
 * always asked and recorded, FAMILY decides the result code).  Returns 0 with
 * OUT filled (addresses of both families), or EAI_NONAME (no such name),
 * EAI_NODATA (no address of FAMILY), EAI_AGAIN (no answer under the privacy
 * profile, or resolver unavailable), EAI_FAIL (DNSSEC-bogus), EAI_MEMORY.
 * Failures are logged with the reason.  The front cache keys names
 * lowercased; the names handed out keep the case of NAME as glibc does
 * (DNS name compression carries the question's spelling into the answer):
 * without a CNAME the canonical name is NAME as asked, without its trailing
 * dot; with one, the target, whose labels in common with NAME take NAME's
 * spelling, and NAME is the alias. */
int hastls_lookup_host(const char *name, int family, struct hastls_hostinfo *out);

/* The service a program looks a host up for (getaddrinfo's port and
 * hints): the lookup fetches its TLSA RRset along (shim/core/dane.h). */
struct hastls_lookup_service {
    uint16_t port;          /* host order */
    int socktype, protocol; /* the hints' (0: left open) */
};

/* hastls_lookup_host for the service SVC (NULL: none).  When the name goes
 * to the resolver (not from the hosts file or the front cache) and
 * hastls_dane_prefetch_owner agrees, the TLSA query for SVC at the name as
 * asked (not at a name the search list adds: the TLS library is given the
 * name the program asked for) is part of the lookup's batch, with the grace
 * of the HASTLS query: the lookup never waits longer for it. */
int hastls_lookup_host_service(const char *name, int family,
                               const struct hastls_lookup_service *svc,
                               struct hastls_hostinfo *out);

/* The name of FAMILY/ADDR: the hosts file, else a PTR lookup.  Returns 0 with
 * NAME (HASTLS_NAME_MAX bytes) set, or EAI_NONAME, EAI_AGAIN, EAI_FAIL. */
int hastls_lookup_ptr(int family, const void *addr, char *name);

/* A query of NAME/CLASS/TYPE for res_query() and res_send(): the resolver's
 * whole response copied into ANSWER (ANSLEN bytes; a longer one is cut and
 * flagged TC), its ID set to ID.  Returns the length copied, with *HERR set
 * from the RCODE (NETDB_SUCCESS, HOST_NOT_FOUND, NO_DATA, TRY_AGAIN,
 * NO_RECOVERY), or -1 when there is no response at all (*HERR TRY_AGAIN or
 * NO_RECOVERY).  For A and AAAA the HASTLS record is asked in the same batch
 * and the addresses are recorded in the address map, as for a host lookup. */
int hastls_lookup_raw(const char *name, int cls, int type, uint16_t id,
                      unsigned char *answer, int anslen, int *herr);

/* A query of NAME/TYPE (class IN) for a program's own DNS client
 * (dnsredir.h): the resolver's answer in *ANS, to be freed with
 * (*API)->answer_free.  For A and AAAA the HASTLS record is asked in the same
 * batch and the addresses are recorded in the address map, as for
 * hastls_lookup_raw.  Returns 0, or -1 (logged) when the resolver is
 * unavailable or the addresses could not be recorded (then nothing may be
 * handed out). */
int hastls_lookup_answer(const char *name, uint16_t type, struct hastls_answer **ans,
                         const struct hastls_resolver_api **api);

/* "1.2.0.192.in-addr.arpa" / nibble ip6.arpa name of an address. */
void hastls_reverse_name(int family, const void *addr, char *out, size_t len);

#endif
