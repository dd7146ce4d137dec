/* shim/resolver/upstream.h: the upstream state machine.
 *
 * Owns: the queries in flight and the connections to the upstreams as states
 * (down, connecting, handshaking, ready), the order of transports the privacy
 * profile allows, fail-over, back-off and hold-down, resending and
 * reconnecting, the deadlines, our own DNS IDs (so that concurrent clients
 * never collide and answers are matched out of order, RFC 7766), the bytes
 * queued for each connection and the reassembly of what it answers, and the
 * per-upstream failure reasons kept for error messages.
 *
 * It does no I/O and reads no clock: it is driven by events, each with the
 * time NOW (CLOCK_MONOTONIC milliseconds) -- a query from a client, a
 * connection that connected, finished its TLS handshake, failed, was closed,
 * or delivered bytes, and the passing of time (hastls_up_tick).  What it wants
 * done in the world (open or close a socket, answer a client, store a
 * prefetched answer) it appends to the work queue given at creation, for the
 * event loop (dot.c) to carry out; bytes to send wait in each connection's
 * output (hastls_up_pending / hastls_up_sent).  Within one event, queries that
 * must find a new transport are marked and dispatched one after the other at
 * the end of the event: no function here calls back into its caller.
 *
 * Which transports may carry a query is the privacy profile's decision:
 *   strict        authenticated TLS only
 *   encrypted     authenticated TLS, else unauthenticated TLS
 *   opportunistic as encrypted, then cleartext TCP to the upstream's port 53
 *   off           cleartext TCP to port 53 only
 * Upstreams are tried in configuration order; one that refuses, fails its
 * handshake, replies with something that is not DNS, times out connecting or
 * closes HASTLS_UP_MAX_CLOSES connections in a row before answering anything
 * is down: skipped for a back-off period (HASTLS_UP_BACKOFF_MIN_MS doubling
 * to HASTLS_UP_BACKOFF_MAX_MS, reset by its next answer or, for one that
 * never closed on us, its next handshake).  When its back-off is over and
 * another transport is left, it is probed in the background: a connection of
 * its own that no query waits for, while the queries go on to the next
 * transport; so a down upstream costs a live lookup nothing after the first
 * failure.  A query the server leaves unanswered is sent once more (new ID);
 * one on a connection the server closes goes once more on a new connection.
 * When no transport is left, the query is answered SERVFAIL.
 *
 * Used by the event thread only, except hastls_up_stats and hastls_up_failures
 * (any thread).
 */
#ifndef HASTLS_RESOLVER_UPSTREAM_H
#define HASTLS_RESOLVER_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy/checked.h"
#include "policy/config.h"
#include "shim/resolver/buf.h"
#include "shim/resolver/resolver.h"
#include "shim/resolver/work.h"

#define HASTLS_UP_IDLE_CLOSE_MS 10000 /* close a connection idle this long */
#define HASTLS_UP_BACKOFF_MIN_MS 1000 /* first back-off after a failure, doubling */
#define HASTLS_UP_BACKOFF_MAX_MS 60000
#define HASTLS_UP_HOLD_DOWN_MS                                                           \
    1000 /* never retried sooner after a failure, even alone                             \
          */
#define HASTLS_UP_MIN_ATTEMPT_MS 200
/* Connections in a row that the server closed before answering anything
 * after which its upstream counts as failed (and backs off). */
#define HASTLS_UP_MAX_CLOSES 2
#define HASTLS_UP_FAILURE_RING 32
#define HASTLS_UP_MAX_CONNS (2 * HASTLS_MAX_UPSTREAMS) /* [2u] TLS, [2u+1] cleartext */

enum hastls_up_state {
    HASTLS_UP_DOWN,
    HASTLS_UP_CONNECTING,
    HASTLS_UP_HANDSHAKING,
    HASTLS_UP_READY,
};

/* One connection to one upstream over one transport.  Read-only outside
 * upstream.c. */
struct hastls_up_conn {
    int up;  /* index into cfg->upstreams */
    int tls; /* 1: DoT to the upstream's port; 0: cleartext TCP to port 53 */
    struct sockaddr_storage sa;
    socklen_t salen;
    char label[96]; /* "127.0.0.53@853", for messages */
    enum hastls_up_state st;
    int auth; /* READY TLS connection is authenticated */
    struct hastls_buf in, out;
    size_t out_head;   /* bytes of the message at the head of OUT not yet written
                        * (0: OUT starts with a whole message) */
    uint64_t deadline; /* connect + handshake deadline */
    uint64_t last_active;
    unsigned fails;
    unsigned closes;    /* connections in a row the server closed before
                         * answering anything */
    int answered;       /* this connection delivered an answer */
    char last_why[256]; /* the last failure, for "skipped: backing off after ..." */
    uint64_t failed_at;
    uint64_t backoff_until;
    struct hastls_work connect_work, close_work;
};

/* How a TLS handshake ended (hastls_up_secured). */
struct hastls_up_secured {
    int authenticated;
    int resumed;
    const char *why;  /* when not authenticated: why not */
    const char *alpn; /* the ALPN id the server selected (NULL or "": none) */
};

struct hastls_up_engine;

/* A state machine for CFG's upstreams and privacy profile (CFG must outlive
 * it), logging to LOG, appending work to WORK.  NULL when out of memory. */
struct hastls_up_engine *hastls_up_new(const struct hastls_config *cfg, hastls_log_fn log,
                                       struct hastls_workq *work);
void hastls_up_free(struct hastls_up_engine *e);

/* Replaces the random source of DNS IDs (tests: predictable IDs). */
void hastls_up_set_id_source(struct hastls_up_engine *e, uint16_t (*next)(void *),
                             void *arg);

size_t hastls_up_nconns(const struct hastls_up_engine *e);
const struct hastls_up_conn *hastls_up_conn(const struct hastls_up_engine *e, size_t i);

/* Queries in flight or waiting (tests, the idle check). */
size_t hastls_up_nqueries(const struct hastls_up_engine *e);

/* A query MSG from CLIENT (copied).  With FOLLOW, the serial of a prefetch in
 * flight for the same question: the query waits for its answer instead of
 * going upstream (it goes upstream if that prefetch is no longer in flight).
 * Returns 0, or -1 when MSG is not a relayable query or memory ran out (the
 * client will ask again). */
HASTLS_MUST_CHECK int hastls_up_submit(struct hastls_up_engine *e, uint64_t now,
                                       void *client, const uint8_t *msg, size_t len,
                                       uint64_t follow);

/* A prefetch query of our own (no client; its end is reported with
 * HASTLS_WORK_PREFETCH_DONE).  Returns its serial, or 0 when not sent. */
uint64_t hastls_up_submit_prefetch(struct hastls_up_engine *e, uint64_t now,
                                   const uint8_t *msg, size_t len);

/* CLIENT is gone: its queries not yet sent are dropped, answers to the rest
 * will be discarded. */
void hastls_up_client_gone(struct hastls_up_engine *e, const void *client);

/* Connection I's TCP connection is established. */
void hastls_up_connected(struct hastls_up_engine *e, size_t i, uint64_t now);

/* Connection I's TLS handshake finished as S says.  When the ALPN list
 * offered has no "dot" (only ids such as the draft's "dns", which a port-443
 * server needs to tell DNS from its other services), a server that selected
 * none is not a DNS server: the connection fails.  With "dot" offered, none
 * selected is fine (RFC 7858 servers need not do ALPN). */
void hastls_up_secured(struct hastls_up_engine *e, size_t i, uint64_t now,
                       const struct hastls_up_secured *s);

/* Connection I failed (connect refused, TLS set-up or handshake failed...):
 * WHY is recorded, the upstream backs off, its queries move on. */
void hastls_up_failed(struct hastls_up_engine *e, size_t i, uint64_t now,
                      const char *why);

/* The server closed connection I (or a write failed): its queries try once
 * more on a new connection, without counting as a failure (RFC 7766 6.2.3),
 * unless the server has now closed HASTLS_UP_MAX_CLOSES connections in a row
 * with queries waiting and no answer: then the upstream fails as above. */
void hastls_up_closed(struct hastls_up_engine *e, size_t i, uint64_t now);

/* N bytes arrived on connection I. */
void hastls_up_received(struct hastls_up_engine *e, size_t i, uint64_t now,
                        const uint8_t *data, size_t n);

/* The bytes waiting to be written on connection I: their count, *P at them.
 * On a TLS connection, at most the rest of one message: the link writes each
 * query in a TLS record of its own, since some servers (dnsdist 1.7) answer
 * only the first query of a record that carries several.  A record per query
 * costs one write each, nothing a lookup can measure. */
size_t hastls_up_pending(const struct hastls_up_engine *e, size_t i, const uint8_t **p);

/* N of them were written. */
void hastls_up_sent(struct hastls_up_engine *e, size_t i, size_t n);

/* Deadlines up to NOW: connect and handshake timeouts, resends, fail-over,
 * answers SERVFAIL for queries out of time, idle connections closed. */
void hastls_up_tick(struct hastls_up_engine *e, uint64_t now);

/* Milliseconds from NOW until the next deadline (at most 1000). */
int hastls_up_timeout(const struct hastls_up_engine *e, uint64_t now);

void hastls_up_stats(struct hastls_up_engine *e, struct hastls_resolver_stats *out);

/* Writes "UPSTREAM: reason; UPSTREAM: reason" for every reason recorded at
 * or after SINCE_MS into BUF: transport failures ("connection refused", "TLS
 * handshake failed: ...", "malformed answer: ...", "answer truncated (TC)
 * over TLS", "no answer within N ms"), connections the upstream closed
 * before answering, upstreams skipped ("skipped: backing off after FAILURE
 * until N ms from now") and SERVFAIL answers ("answered SERVFAIL", counted
 * in *ANSWERED when not NULL).  A reason repeated is listed once, the latest.
 * Returns the number listed. */
unsigned hastls_up_failures(struct hastls_up_engine *e, uint64_t since_ms, char *buf,
                            size_t buflen, unsigned *answered);

#endif
