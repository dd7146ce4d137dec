/* shim/resolver/auth.c: authentication of upstreams (see auth.h). */
#include "shim/resolver/auth.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static int is_ip_literal(const char *s)
{
    struct in6_addr a;
    return inet_pton(AF_INET, s, &a) == 1 || inet_pton(AF_INET6, s, &a) == 1;
}

int hastls_auth_expect(SSL *ssl, const char *auth_name)
{
    if (is_ip_literal(auth_name)) {
        HASTLS_GUARD_OSSL(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), auth_name));
        return 0;
    }
    HASTLS_GUARD_OSSL(SSL_set_tlsext_host_name(ssl, auth_name));
    HASTLS_GUARD_OSSL(SSL_set1_host(ssl, auth_name));
    return 0;
}

/* Whether the SHA-256 of X's SubjectPublicKeyInfo is one of CFG's pins. */
static int spki_pinned(X509 *x, const struct hastls_config *cfg)
{
    unsigned char *der = NULL;
    int dl = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    if (dl <= 0)
        return 0;
    unsigned char h[32];
    unsigned hl = 0;
    int ok = EVP_Digest(der, (size_t)dl, h, &hl, EVP_sha256(), NULL);
    OPENSSL_free(der);
    if (ok != 1 || hl != sizeof h)
        return 0;
    for (size_t p = 0; p < cfg->n_pins; p++)
        if (!memcmp(h, cfg->pins[p], sizeof h))
            return 1;
    return 0;
}

static int verify_pins(SSL *ssl, const struct hastls_config *cfg, char *why, size_t wl)
{
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    X509 *leaf = SSL_get0_peer_certificate(ssl);
    int n = chain ? sk_X509_num(chain) : 0;
    for (int i = -1; i < n; i++) {
        X509 *x = i < 0 ? leaf : sk_X509_value(chain, i);
        if (x && spki_pinned(x, cfg))
            return 1;
    }
    snprintf(why, wl, "no configured SPKI pin matches the certificate");
    return 0;
}

int hastls_auth_verify(SSL *ssl, const struct hastls_config *cfg,
                       const struct hastls_upstream *u, char *why, size_t wl)
{
    if (cfg->n_pins)
        return verify_pins(ssl, cfg, why, wl);
    if (!u->auth_name[0]) {
        snprintf(why, wl, "no authentication name or pin configured");
        return 0;
    }
    if (!SSL_get0_peer_certificate(ssl)) {
        snprintf(why, wl, "no certificate");
        return 0;
    }
    long v = SSL_get_verify_result(ssl);
    if (v == X509_V_OK)
        return 1;
    if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH)
        snprintf(why, wl, "certificate name mismatch (wanted %s)", u->auth_name);
    else
        snprintf(why, wl, "certificate verification failed: %s",
                 X509_verify_cert_error_string(v));
    return 0;
}
