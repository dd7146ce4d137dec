/* shim/resolver/auth.h: authentication of DNS-over-TLS upstreams.
 *
 * Owns: what an upstream's certificate must prove (RFC 8310): the name it is
 * checked against (a host name, sent as SNI too, or an IP address), and the
 * decision after the handshake -- by an SPKI pin when any is configured
 * (RFC 7858 4.2), else by the certificate chain and the authentication name.
 * Every OpenSSL call here is checked: a name that cannot be set fails the
 * connection, it never leaves the certificate checked without its name.
 */
#ifndef HASTLS_RESOLVER_AUTH_H
#define HASTLS_RESOLVER_AUTH_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "policy/checked.h"
#include "policy/config.h"

/* Makes SSL check the peer's certificate against AUTH_NAME (an IP literal or
 * a host name; a host name is also sent as SNI).  Returns 0, or -1 when OpenSSL
 * refuses any part of it: the connection must then fail. */
HASTLS_MUST_CHECK int hastls_auth_expect(SSL *ssl, const char *auth_name);

/* Decides whether the finished handshake SSL with the upstream U
 * authenticated it under CFG's pins.  Returns 1, or 0 with the reason in WHY. */
HASTLS_MUST_CHECK int hastls_auth_verify(SSL *ssl, const struct hastls_config *cfg,
                                         const struct hastls_upstream *u, char *why,
                                         size_t wl);

#endif
