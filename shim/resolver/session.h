/* shim/resolver/session.h: TLS session resumption, per upstream connection.
 *
 * Owns: the newest session ticket of each TLS connection slot and the rule
 * that only sessions of authenticated connections are kept, so that resuming
 * one proves the server is the one authenticated before (a resumed handshake
 * carries no certificate to check again).  OpenSSL hands new sessions to the
 * callback installed by hastls_session_setup (TLS 1.3 delivers tickets after
 * the handshake, while the connection is read).  Event thread only.
 */
#ifndef HASTLS_RESOLVER_SESSION_H
#define HASTLS_RESOLVER_SESSION_H

#include <openssl/ssl.h>

#include "policy/checked.h"

struct hastls_session {
    SSL_SESSION *sess; /* for resumption on the next connection */
    int refused;       /* the current connection could not be authenticated */
};

/* Makes CTX keep client sessions through hastls_session slots.  Returns 0 or
 * -1. */
HASTLS_MUST_CHECK int hastls_session_setup(SSL_CTX *ctx);

/* Ties the new connection SSL to the slot S and offers S's session for
 * resumption.  Returns 0, or -1 when SSL cannot carry the slot (the
 * connection must not go on: its tickets would be lost or misfiled). */
HASTLS_MUST_CHECK int hastls_session_attach(SSL *ssl, struct hastls_session *s);

/* The current connection of S was not authenticated: its session is never
 * offered again, and tickets arriving later on it are dropped. */
void hastls_session_refuse(struct hastls_session *s);

void hastls_session_free(struct hastls_session *s);

#endif
