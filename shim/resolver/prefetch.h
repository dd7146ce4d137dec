/* shim/resolver/prefetch.h: the chain-of-trust prefetch.
 *
 * A validating lookup of www.example.com needs, after the answer, the root's
 * DNSKEY, then DS and DNSKEY of com, then of example.com: libunbound asks for
 * them one after the other, each a round trip to the upstream.  When a
 * validating query for a name arrives, the transport asks for all of them at
 * once and hands libunbound the answers when it asks: a cold lookup costs one
 * round trip instead of one per zone.  libunbound still validates everything;
 * only the timing changes.  Only ancestors of the name are asked for (the
 * HASTLS_PREFETCH_LEVELS closest to the root), never anything else.
 *
 * Owns: which queries to ask for a name (hastls_prefetch_plan, pure), the
 * store of their answers keyed by question, how long an answer is handed out
 * and how long a question is not asked again (libunbound caches it by then).
 * Sending the queries is the state machine's (upstream.h), deciding when to
 * prefetch the event loop's.  Event thread only.
 */
#ifndef HASTLS_RESOLVER_PREFETCH_H
#define HASTLS_RESOLVER_PREFETCH_H

#include <stddef.h>
#include <stdint.h>

#include "policy/checked.h"
#include "policy/config.h"
#include "policy/dnswire.h"

#define HASTLS_PREFETCH_LEVELS 4
#define HASTLS_PREFETCH_MAX_ASKS (1 + 2 * HASTLS_PREFETCH_LEVELS)
#define HASTLS_PREFETCH_STORE 64
#define HASTLS_PREFETCH_SERVE_MS 10000
#define HASTLS_PREFETCH_FRESH_MS 300000
/* A question: a name and type and class. */
#define HASTLS_PREFETCH_QUESTION_MAX (HASTLS_DNS_MAX_WIRE_NAME + 4)
/* A built query: header, question, an OPT record. */
#define HASTLS_PREFETCH_QUERY_MAX                                                        \
    (HASTLS_DNS_HEADER_LEN + HASTLS_PREFETCH_QUESTION_MAX + 11)

/* One query to ask, built (ID 0, RD, DO). */
struct hastls_prefetch_ask {
    uint8_t query[HASTLS_PREFETCH_QUERY_MAX];
    size_t len;
};

struct hastls_prefetch_entry {
    uint8_t question[HASTLS_PREFETCH_QUESTION_MAX]; /* lower case */
    size_t qlen;                                    /* 0: free slot */
    uint8_t *answer;                                /* NULL until answered */
    size_t alen;
    uint64_t serial; /* of the prefetch query in flight, 0 when none */
    uint64_t serve_until, fresh_until;
};

struct hastls_prefetch {
    struct hastls_prefetch_entry entry[HASTLS_PREFETCH_STORE];
};

/* For the validating query MSG: the root's DNSKEY, and DS and DNSKEY of the
 * name's ancestors, into ASKS (room for CAP).  Returns how many; 0 for a
 * compressed or malformed name. */
size_t hastls_prefetch_plan(const uint8_t *msg, size_t len,
                            struct hastls_prefetch_ask *asks, size_t cap);

void hastls_prefetch_init(struct hastls_prefetch *p);
void hastls_prefetch_free(struct hastls_prefetch *p);

/* For the DS or DNSKEY query MSG from libunbound: returns 1 with the stored
 * answer in *ANS (valid until the store changes) when one may be handed out;
 * else 0, with *FOLLOW the serial of a prefetch of that question in flight (0
 * when none). */
HASTLS_MUST_CHECK int hastls_prefetch_lookup(struct hastls_prefetch *p, uint64_t now,
                                             const uint8_t *msg, size_t len,
                                             const uint8_t **ans, size_t *alen,
                                             uint64_t *follow);

/* Whether the prefetch query ASK is worth sending now (not in flight, not
 * asked recently).  If so, returns its slot, marked asked; else NULL. */
struct hastls_prefetch_entry *
hastls_prefetch_claim(struct hastls_prefetch *p, uint64_t now,
                      const struct hastls_prefetch_ask *ask);

/* The claimed query went out as SERIAL (0: it could not be sent). */
void hastls_prefetch_started(struct hastls_prefetch_entry *e, uint64_t serial);

/* The prefetch SERIAL is over: ANS is its answer, or NULL when there was no
 * usable one (the question is asked again next time). */
void hastls_prefetch_done(struct hastls_prefetch *p, uint64_t now, uint64_t serial,
                          const uint8_t *ans, size_t alen);

#endif
