/* shim/core/dane.h: what DANE asks of one TLS connection the program starts.
 *
 * The TLS hooks (shim/hooks/openssl.c) ask here, before a client handshake,
 * which TLSA records govern the peer: the peer's name (the one the program
 * gave its TLS library, else the name its address was looked up under) and
 * port, the TLSA RRset at _PORT._tcp.NAME (_udp for DTLS) with its DNSSEC
 * status, fetched through the process's resolver and cached for its TTL,
 * and what the configuration's `dane` key makes of it.  The OpenSSL specifics stay in the
 * hook; the meaning of an answer is policy/tlsa.h's.
 *
 * Names answered by the hosts file, "localhost" names and address literals
 * never reach DNS, so they have no TLSA records (and are never looked up).
 *
 * A host lookup that knows the port the program will connect to (getaddrinfo
 * with a service) fetches that service's TLSA RRset in the same batch as the
 * addresses (shim/core/lookup.h), under the grace of the HASTLS query, and
 * leaves the answer here: the handshake then finds it in the cache.  An
 * answer still in flight when the handshake asks is joined by the resolver
 * (libunbound merges identical queries), not asked again.
 */
#ifndef HASTLS_SHIM_DANE_H
#define HASTLS_SHIM_DANE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy/config.h"
#include "policy/tlsa.h"

struct hastls_answer; /* shim/resolver/resolver.h */

/* The most usable records of one RRset kept; more are ignored (they can only
 * add ways to match, never make a refusal an acceptance). */
#define HASTLS_DANE_MAX_RECORDS 16
/* The TLSA owner name's room: "_65535._tcp." and a name. */
#define HASTLS_DANE_OWNER_MAX (HASTLS_NAME_MAX + 16)

/* One peer's TLSA answer: one allocation (free with free()); the records'
 * data points inside it. */
struct hastls_dane_set {
    enum hastls_dane state;
    char owner[HASTLS_DANE_OWNER_MAX]; /* "_443._tcp.www.example" */
    char why[192]; /* bogus or failed: why (validator's reason, RCODE) */
    size_t n;      /* usable records in rec[] (state USE: n >= 1) */
    struct hastls_tlsa rec[];
};

/* The TLSA answer for NAME (presentation form, any case, trailing dot or
 * not) on TCP port PORT: from the cache, else the resolver (one query; this
 * blocks for the lookup, like the program's own getaddrinfo).  Returns a new
 * set, or NULL when NAME never reaches DNS (see above), is not a valid name,
 * or memory ran out (logged). */
struct hastls_dane_set *hastls_dane_lookup(const char *name, uint16_t port);

/* The same for PROTO, IPPROTO_TCP (_tcp) or IPPROTO_UDP (_udp: DTLS);
 * another PROTO returns NULL. */
struct hastls_dane_set *hastls_dane_lookup_proto(const char *name, uint16_t port,
                                                 int proto);

/* Whether a host lookup of KEY (normalized, reaching DNS) for PORT, asked
 * with getaddrinfo's hints SOCKTYPE and PROTOCOL, should fetch the TLSA
 * RRset along: policy/tlsa.h's hastls_tlsa_prefetch_proto agrees, `dane`
 * is not off for the program, the program has loaded a TLS library (an
 * object of its own needs libssl or libgnutls: a program without one never
 * makes a handshake the hooks could check), and the cache lacks it.
 * Returns 1 with its owner name in OWNER (HASTLS_DANE_OWNER_MAX bytes), else
 * 0. */
int hastls_dane_prefetch_owner(const char *key, uint16_t port, int socktype, int protocol,
                               char *owner);

/* Keeps the answer A to the TLSA query of OWNER (from a host lookup's batch,
 * or late from the resolver's event thread) in the cache, as
 * hastls_dane_lookup would have: for its TTL (a bogus one at most a minute),
 * a failed one not at all.  HOW says where it came from, for the debug
 * line. */
void hastls_dane_keep(const char *owner, const struct hastls_answer *a, const char *how);

/* Remembers the destination of the calling thread's latest connect() of FD:
 * the TLS hook finds the peer of a handshake whose library was given no
 * descriptor (a program's own BIO, as curl's) there.  Cheap: a thread-local
 * store, no lock, no allocation. */
void hastls_dane_note_connect(int fd, const struct sockaddr *addr, socklen_t len);

/* The peer of a TLS connection: FD's peer when FD >= 0 is a connected TCP
 * socket, else that of the calling thread's latest connect() (noted above)
 * when that descriptor is still a TCP socket connected there.  Returns 0 with
 * *PORT and KEY (see ip.h), or -1 (also for a configured upstream on its DoT
 * port: the resolver's own connections). */
int hastls_dane_peer(int fd, uint8_t key[16], uint16_t *port);

/* The same for TLS over TCP and DTLS: FD (or the latest connect()'s socket)
 * may also be a connected UDP socket; *PROTO gets IPPROTO_TCP or
 * IPPROTO_UDP. */
int hastls_dane_peer_proto(int fd, uint8_t key[16], uint16_t *port, int *proto);

/* The name the address KEY was looked up under (the address map's), into
 * NAME (HASTLS_NAME_MAX).  Returns 0, or -1 when no lookup returned it. */
int hastls_dane_name_of(const uint8_t key[16], uint16_t port, char *name);

/* Writes "hastls: DANE check failed for NAME:PORT: REASON (dane MODE)" at
 * error level under enforce, warn level under report. */
void hastls_dane_log_failure(enum hastls_dane_mode mode, const char *name, uint16_t port,
                             const char *reason);

/* The cache's lock (locks.h) and, for tests, its size. */
size_t hastls_dane_cache_count(void);

#endif
