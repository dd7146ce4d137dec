/* shim/resolver/resolver.h: DNSSEC-validated lookups over DNS-over-TLS.
 *
 * Built into libhastls-resolver.so, which the shim dlopen()s on the first
 * lookup (so programs that never resolve a name never load libunbound or
 * OpenSSL), and linked statically into the hastls CLI.  libunbound validates
 * and caches; it forwards over loopback TCP to a DNS-over-TLS transport of our
 * own on OpenSSL inside the same process (Debian's libunbound cannot do TLS).
 * The privacy profiles of shared/DESIGN.md decide which transports may carry a
 * query.  Thread-safe: any number of threads may call lookup at once.
 *
 * The resolver's own sockets go only to literal addresses (its loopback
 * listener and the configured upstreams), which the shim never governs, and it
 * never calls getaddrinfo() or any other name lookup of libc.
 */
#ifndef HASTLS_RESOLVER_H
#define HASTLS_RESOLVER_H

#include <stddef.h>
#include <stdint.h>

#include "policy/config.h"
#include "policy/dnswire.h"
#include "policy/record.h"

#define HASTLS_RESOLVER_API_VERSION 2
/* The one symbol libhastls-resolver.so exports. */
#define HASTLS_RESOLVER_API_SYMBOL "hastls_resolver_api"

struct hastls_answer {
    uint16_t qtype;
    enum hastls_sec status;
    int rcode;    /* DNS RCODE of the answer; -1 when there was none */
    uint32_t ttl; /* seconds this answer may be cached (RR or negative TTL) */
    char qname[HASTLS_NAME_MAX];
    char canonname[HASTLS_NAME_MAX]; /* after following CNAMEs; = qname if none */
    char reason[512]; /* bogus: libunbound's reason; failed: per upstream */
    size_t n_rr;
    struct hastls_rr *rr; /* the records of type qtype, in answer order */
    uint8_t *packet;      /* the whole DNS response (for res_query), or NULL */
    size_t packet_len;
};

struct hastls_query {
    const char *name; /* presentation form, absolute or not ("a.example") */
    uint16_t type;
};

typedef void (*hastls_log_fn)(enum hastls_log_level level, const char *msg);

struct hastls_resolver;

/* Creates a resolver for CFG (copied).  LOG receives one line per event
 * (without "hastls: " prefix or newline), or NULL for silence.  Does no network
 * I/O; threads and connections start on the first lookup.  Returns NULL with a
 * message in ERR (e.g. an unreadable trust anchor). */
struct hastls_resolver *hastls_resolver_new(const struct hastls_config *cfg,
                                            hastls_log_fn log, char *err, size_t errlen);

/* The HASTLS query of a host lookup waits at most timeout_ms divided by this
 * once the address answers are in (see hastls_resolver_lookup). */
#define HASTLS_RESOLVER_GRACE_DIV 4

/* Resolves the NQ queries together (one round trip, not NQ) and stores a newly
 * allocated answer for each in ANS[i] (free each with hastls_answer_free).
 * Returns 0, or -1 when out of memory (ANS[] all NULL then).  The whole call
 * is bounded by the configuration's timeout_ms.
 *
 * A batch that asks A or AAAA together with the configuration's record_type
 * is a host lookup, and its record_type queries (and TLSA queries: the shim
 * fetches the TLSA RRset of a TLS service along) wait for their answers at
 * most timeout_ms / HASTLS_RESOLVER_GRACE_DIV after the last address answer
 * came (never past timeout_ms): an upstream that never answers them costs a
 * lookup a quarter of its deadline, not all of it.  Such a query is then
 * answered failed ("no answer within N ms of the address answers") but left
 * to finish: its answer, if one comes, is cached by libunbound for the next
 * lookups and handed to the late handler (hastls_resolver_set_late).  For
 * 30 s, or until that answer comes, the name's lookups do not wait for its
 * HASTLS query at all once the addresses are in (answered failed: "not
 * waited for"). */
int hastls_resolver_lookup(struct hastls_resolver *r, const struct hastls_query *q,
                           size_t nq, struct hastls_answer **ans);

/* Receives the answer A to a HASTLS query its lookup gave up on (see
 * hastls_resolver_lookup) when it arrives after all, in the resolver's event
 * thread: it must not call the resolver, and A is freed after it returns.
 * Failures are not passed on. */
typedef void (*hastls_late_fn)(const struct hastls_answer *a);

/* Sets R's late handler (NULL: none, the default).  Thread-safe. */
void hastls_resolver_set_late(struct hastls_resolver *r, hastls_late_fn fn);

/* Whether R's host lookups give their HASTLS queries only the grace above
 * (ON, the default: the shim and the agent) or wait for every answer until
 * the deadline (0: `hastls lookup`, which reports what each answer is, not
 * what a connection gets).  Thread-safe. */
void hastls_resolver_set_grace(struct hastls_resolver *r, int on);

void hastls_answer_free(struct hastls_answer *a);

/* Stops threads, closes connections, frees everything. */
void hastls_resolver_free(struct hastls_resolver *r);

/* In a child after fork(): closes the resolver's file descriptors without
 * locking, joining or freeing anything (the parent's threads do not exist in
 * the child).  The object must not be used afterwards. */
void hastls_resolver_forget(struct hastls_resolver *r);

/* Counters for tests and the benchmark. */
struct hastls_resolver_stats {
    unsigned long tls_handshakes;    /* full handshakes, all upstreams */
    unsigned long tls_resumptions;   /* resumed sessions */
    unsigned long queries_tls;       /* queries sent over TLS */
    unsigned long queries_cleartext; /* queries sent over cleartext port 53 */
};
void hastls_resolver_get_stats(struct hastls_resolver *r,
                               struct hastls_resolver_stats *out);

/* The table the shim finds with dlsym(HASTLS_RESOLVER_API_SYMBOL). */
struct hastls_resolver_api {
    unsigned version; /* HASTLS_RESOLVER_API_VERSION */
    struct hastls_resolver *(*create)(const struct hastls_config *, hastls_log_fn, char *,
                                      size_t);
    int (*lookup)(struct hastls_resolver *, const struct hastls_query *, size_t,
                  struct hastls_answer **);
    void (*answer_free)(struct hastls_answer *);
    void (*destroy)(struct hastls_resolver *);
    void (*forget)(struct hastls_resolver *);
    void (*get_stats)(struct hastls_resolver *, struct hastls_resolver_stats *);
    void (*set_late)(struct hastls_resolver *, hastls_late_fn); /* may be NULL */
};

/* libhastls-resolver.so's one exported symbol (the CLI and tests may use the
 * functions directly). */
extern const struct hastls_resolver_api hastls_resolver_api;

#endif
