/* shim/resolver/dot.h: the in-process DNS-over-TLS transport.
 *
 * libunbound forwards its queries over TCP to a listener on 127.0.0.1 (an
 * ephemeral port) that only this process may use.  One event-loop thread
 * relays each query to an upstream: over one persistent TLS connection per
 * upstream, shared by all queries, pipelined, answers matched out of order by
 * a DNS ID of our own (so concurrent clients never collide), queries padded
 * per RFC 8467.  The same thread also runs libunbound's result processing
 * (ub_process) when its descriptor becomes readable, so one thread serves the
 * whole resolver.  Its parts, each with its own header:
 *
 *   upstream.h  the state machine: queries, connections, privacy profile,
 *               fail-over, back-off, resends, deadlines, failure reasons
 *   link.h      the sockets and TLS objects of those connections
 *   tls.h       the TLS context and connection set-up
 *   auth.h      authentication: names, SPKI pins
 *   session.h   session resumption
 *   relay.h     the loopback listener, its own-process peer check, clients
 *   prefetch.h  the chain-of-trust prefetch and its store
 *   work.h      the work queue the state machine fills and the loop drains
 *   dot.c       the event loop that ties them (this header's functions)
 * and every DNS byte goes through policy/dnswire.h.
 */
#ifndef HASTLS_RESOLVER_DOT_H
#define HASTLS_RESOLVER_DOT_H

#include <stdint.h>

#include "policy/checked.h"
#include "shim/resolver/resolver.h"

struct hastls_dot;

/* Creates the transport for CFG (the pointer is kept: CFG must outlive it).
 * Sets up TLS (CA bundle) but opens no socket.  NULL with ERR on failure. */
struct hastls_dot *hastls_dot_new(const struct hastls_config *cfg, hastls_log_fn log,
                                  char *err, size_t errlen);

/* Binds the loopback listener and starts the event thread (with every signal
 * blocked from its first instruction on); it also calls PROCESS(ARG)
 * whenever EXTRA_FD is readable (-1 for none).  Returns the listener's port,
 * or -1 with ERR. */
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

/* Writes "UPSTREAM: reason; UPSTREAM: reason" for what happened to every
 * transport attempt at or after SINCE_MS (CLOCK_MONOTONIC milliseconds) into
 * BUF (hastls_up_failures).  Returns the number listed, *ANSWERED (if not
 * NULL) how many of them are SERVFAIL answers. */
unsigned hastls_dot_failures(struct hastls_dot *d, uint64_t since_ms, char *buf,
                             size_t buflen, unsigned *answered);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t hastls_dot_now_ms(void);

#endif
