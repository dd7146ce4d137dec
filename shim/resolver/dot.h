/* shim/resolver/dot.h: the in-process DNS-over-TLS transport.
 *
 * libunbound forwards its queries over TCP to a listener on 127.0.0.1 (an
 * ephemeral port) that this module owns.  One event-loop thread relays each
 * query to an upstream: over one persistent TLS connection per upstream, shared
 * by all queries, pipelined, answers matched out of order by a DNS ID of our
 * own (so concurrent clients never collide), queries padded per RFC 8467.
 * Which transports may carry a query is the privacy profile's decision:
 *   strict        authenticated TLS only
 *   encrypted     authenticated TLS, else unauthenticated TLS
 *   opportunistic as encrypted, then cleartext TCP to the upstream's port 53
 *   off           cleartext TCP to port 53 only
 * Upstreams are tried in configuration order; one that refuses, fails its
 * handshake or times out is skipped for a back-off period.  A query the server
 * leaves unanswered is sent once more (new ID); one on a connection the server
 * closes goes once more on a new connection.  When no transport is left, the
 * query is answered SERVFAIL and the per-upstream reasons are kept for
 * hastls_dot_failures().
 *
 * With validation on, a query for a name also sends DNSKEY and DS queries for
 * its ancestors (and the root's DNSKEY) at once, and libunbound's later chain
 * queries are answered from those answers: one round trip to the upstream for
 * a cold lookup instead of one per zone.
 *
 * The same thread also runs libunbound's result processing (ub_process) when
 * its descriptor becomes readable, so one thread serves the whole resolver.
 */
#ifndef HASTLS_RESOLVER_DOT_H
#define HASTLS_RESOLVER_DOT_H

#include <stdint.h>

#include "shim/resolver/resolver.h"

struct hastls_dot;

/* Creates the transport for CFG (the pointer is kept: CFG must outlive it).
 * Sets up TLS (CA bundle) but opens no socket.  NULL with ERR on failure. */
struct hastls_dot *hastls_dot_new(const struct hastls_config *cfg, hastls_log_fn log,
                                  char *err, size_t errlen);

/* Binds the loopback listener and starts the event thread; it also calls
 * PROCESS(ARG) whenever EXTRA_FD is readable (-1 for none).  Returns the
 * listener's port, or -1 with ERR. */
int hastls_dot_start(struct hastls_dot *d, int extra_fd, void (*process)(void *),
                     void *arg, char *err, size_t errlen);

/* Stops the event thread (no more ub_process calls); sockets stay open, so
 * libunbound may still write to them until it is deleted.  Idempotent. */
void hastls_dot_stop(struct hastls_dot *d);

/* Stops the thread if still running, closes every socket, frees everything. */
void hastls_dot_free(struct hastls_dot *d);

/* After fork() in the child: closes every descriptor, frees nothing. */
void hastls_dot_forget(struct hastls_dot *d);

void hastls_dot_stats(struct hastls_dot *d, struct hastls_resolver_stats *out);

/* Writes "UPSTREAM: reason; UPSTREAM: reason" for every transport attempt that
 * failed at or after SINCE_MS (CLOCK_MONOTONIC milliseconds) into BUF.
 * Returns the number of failures listed. */
unsigned hastls_dot_failures(struct hastls_dot *d, uint64_t since_ms, char *buf,
                             size_t buflen);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t hastls_dot_now_ms(void);

/* Checks whether the TCP connection FD (accepted on a listener bound to
 * LISTEN_ADDR) comes from a socket of this very process: some descriptor in
 * /proc/self/fd must be a socket whose local address is FD's peer and whose
 * peer is the listener.  A TCP 4-tuple is unique on a host, so no other
 * process can hold such a socket at the same time.  Returns 1 or 0. */
int hastls_dot_peer_is_self(int fd);

#endif
