/* shim/resolver/tls.h: the transport's TLS context and TLS connections.
 *
 * Owns: the one OpenSSL client context (CA bundle, TLS 1.2 at least, partial
 * writes, session slots), setting up one connection (authentication name
 * through auth.h, ALPN, resumption through session.h), stepping its
 * handshake, reading and writing records, and the words for what went wrong.
 * Verification is not enforced by OpenSSL during the handshake: auth.c
 * decides after it, so that the encrypted profile can still use an
 * unauthenticated connection and every failure gets a precise message.  Every
 * set-up call whose failure changes security is checked.  Event thread only,
 * but the context is created before the thread starts.
 */
#ifndef HASTLS_RESOLVER_TLS_H
#define HASTLS_RESOLVER_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "policy/checked.h"
#include "policy/config.h"
#include "shim/resolver/session.h"

/* The system's CA bundle (the built-in ca_bundle) and the directory of the
 * same certificates by subject hash that update-ca-certificates keeps. */
#define HASTLS_SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define HASTLS_SYSTEM_CA_DIR "/etc/ssl/certs"

/* The client context for CFG.  NULL with ERR (an unreadable CA bundle).
 * With the system's bundle (or none named), the CAs come from the hashed
 * directory when it has hash names, read only for the certificates a chain
 * needs; otherwise the bundle is loaded whole, as any other ca_bundle. */
SSL_CTX *hastls_tls_context(const struct hastls_config *cfg, char *err, size_t errlen);

/* Whether DIR holds at least one certificate by hash name (8 hex digits, a
 * dot, a digit: "002c0b4f.0"), among its first 4096 entries. */
int hastls_tls_hashed_dir(const char *dir);

/* A TLS client on the connected socket FD for the upstream U, resuming from
 * and storing into the slot S.  NULL with the reason in WHY: the connection
 * must then fail (never go on without its authentication name). */
HASTLS_MUST_CHECK SSL *hastls_tls_open(SSL_CTX *ctx, int fd,
                                       const struct hastls_config *cfg,
                                       const struct hastls_upstream *u,
                                       struct hastls_session *s, char *why, size_t wl);

/* The ALPN list LIST ("dot,dns", as the configuration keeps it) in wire form
 * (RFC 7301: each id after its length byte) into OUT: its length, or 0 when
 * LIST is empty, has an empty or over-long id, or does not fit in CAP. */
size_t hastls_tls_alpn_wire(const char *list, unsigned char *out, size_t cap);

/* The ALPN id the server selected into OUT ("" when none). */
void hastls_tls_alpn_selected(SSL *ssl, char *out, size_t len);

enum hastls_tls_step {
    HASTLS_TLS_DONE,
    HASTLS_TLS_WANT_READ,
    HASTLS_TLS_WANT_WRITE,
    HASTLS_TLS_FAILED, /* with the reason */
};

/* One step of SSL's handshake. */
HASTLS_MUST_CHECK enum hastls_tls_step hastls_tls_handshake(SSL *ssl, char *why,
                                                            size_t wl);

/* Whether the finished handshake resumed a session. */
int hastls_tls_resumed(SSL *ssl);

/* "TLSv1.3, authenticated, resumed, ALPN dot" for the debug log. */
void hastls_tls_describe(SSL *ssl, int authenticated, char *out, size_t len);

/* Reads up to N bytes: their count; 0 when it would block (*WANT_WRITE set
 * when OpenSSL waits for writability); -1 when the connection is closed or
 * failed. */
HASTLS_MUST_CHECK ssize_t hastls_tls_read(SSL *ssl, void *buf, size_t n, int *want_write);

/* Writes up to N bytes, as hastls_tls_read counts. */
HASTLS_MUST_CHECK ssize_t hastls_tls_write(SSL *ssl, const void *buf, size_t n,
                                           int *want_write);

/* Frees SSL, first sending close_notify (without waiting) when SHUTDOWN. */
void hastls_tls_free(SSL *ssl, int shutdown);

#endif
