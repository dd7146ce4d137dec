/* shim/resolver/link.h: the sockets and TLS objects of upstream connections.
 *
 * Owns: for each connection of the state machine (upstream.h), its socket and
 * TLS object, and turning readiness into the machine's events: a connect
 * that completed or failed, a handshake that finished (authenticated or not,
 * asked of auth.h), bytes read, the server closing.  It writes the bytes the
 * machine has queued.  The machine decides everything; a link only does what
 * the work queue says (open, close) and reports what happened.  The
 * resolver's own sockets go to configured literal addresses with the raw
 * connect system call: never through the shim's connect() policy.  Event
 * thread only.
 */
#ifndef HASTLS_RESOLVER_LINK_H
#define HASTLS_RESOLVER_LINK_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "policy/config.h"
#include "shim/resolver/resolver.h"
#include "shim/resolver/session.h"
#include "shim/resolver/upstream.h"

struct hastls_link {
    int fd;
    SSL *ssl;
    int secured;    /* the TLS handshake finished */
    int want_write; /* OpenSSL asked for writability */
    unsigned gen;   /* changes whenever the socket does */
    struct hastls_session session;
};

/* What the links of one transport share. */
struct hastls_links {
    const struct hastls_config *cfg;
    hastls_log_fn log;
    SSL_CTX *ssl_ctx; /* NULL when the profile allows no TLS */
    struct hastls_up_engine *up;
    struct hastls_link link[HASTLS_UP_MAX_CONNS];
};

void hastls_links_init(struct hastls_links *ls, const struct hastls_config *cfg,
                       hastls_log_fn log, SSL_CTX *ctx, struct hastls_up_engine *up);

/* Opens connection I's socket and starts connecting (HASTLS_WORK_CONNECT). */
void hastls_link_open(struct hastls_links *ls, size_t i, uint64_t now);

/* Closes connection I's socket and TLS object (HASTLS_WORK_CLOSE). */
void hastls_link_close(struct hastls_links *ls, size_t i);

/* The poll events connection I waits for (0: none, no socket). */
short hastls_link_events(const struct hastls_links *ls, size_t i);

/* Handles REVENTS from poll on connection I. */
void hastls_link_event(struct hastls_links *ls, size_t i, short revents, uint64_t now);

/* Writes what the machine has queued on connection I, as far as the socket
 * takes it. */
void hastls_link_flush(struct hastls_links *ls, size_t i, uint64_t now);

/* Closes every socket and frees every TLS object and session. */
void hastls_links_free(struct hastls_links *ls);

/* After fork() in the child: closes every socket, frees nothing. */
void hastls_links_forget(struct hastls_links *ls);

#endif
