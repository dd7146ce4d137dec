/* shim/resolver/tls.c: TLS context and connections (see tls.h). */
#include "shim/resolver/tls.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "shim/resolver/auth.h"
#include "shim/resolver/logf.h"

int hastls_tls_hashed_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    for (unsigned seen = 0; !found && seen < 4096 && (e = readdir(d)); seen++) {
        const char *n = e->d_name;
        size_t i = 0;
        while (i < 8 && isxdigit((unsigned char)n[i]))
            i++;
        found = i == 8 && n[8] == '.' && isdigit((unsigned char)n[9]);
    }
    closedir(d);
    return found;
}

/* Whether the CA store is the system's: the default bundle (or none named)
 * with the hashed directory beside it.  update-ca-certificates writes both
 * from the same certificates; the directory is read a certificate at a time,
 * by subject hash, when a chain is verified, where the bundle would be
 * parsed whole (about 140 certificates, 14-15 ms) in every process that
 * starts the resolver. */
static int use_system_dir(const char *bundle)
{
    if (bundle[0] && strcmp(bundle, HASTLS_SYSTEM_CA_BUNDLE) != 0)
        return 0;
    return hastls_tls_hashed_dir(HASTLS_SYSTEM_CA_DIR);
}

SSL_CTX *hastls_tls_context(const struct hastls_config *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "OpenSSL: cannot create a TLS context");
        return NULL;
    }
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        snprintf(err, errlen, "OpenSSL: cannot require TLS 1.2 or later");
        goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_mode(ctx,
                     SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (hastls_session_setup(ctx) < 0) {
        snprintf(err, errlen, "OpenSSL: cannot set up session resumption");
        goto fail;
    }
    if (use_system_dir(cfg->ca_bundle) &&
        SSL_CTX_load_verify_locations(ctx, NULL, HASTLS_SYSTEM_CA_DIR) == 1) {
        /* Looked up by subject hash when a chain is verified. */
    } else if (cfg->ca_bundle[0]) {
        ERR_clear_error();
        if (SSL_CTX_load_verify_locations(ctx, cfg->ca_bundle, NULL) != 1) {
            unsigned long e = ERR_get_error();
            snprintf(err, errlen, "cannot load CA bundle %s: %s", cfg->ca_bundle,
                     e ? ERR_reason_error_string(e) : "unknown error");
            ERR_clear_error();
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        /* No system store: every chain then fails verification, so
         * authentication fails closed, with its own message. */
        ERR_clear_error();
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* Offers CFG's ALPN ids, in its order of preference (RFC 7858 3.2: "dot";
 * "dns" for the draft's port-443 servers).  Returns 0 or -1. */
static int set_alpn(SSL *ssl, const struct hastls_config *cfg)
{
    unsigned char wire[sizeof cfg->alpn + 1];
    size_t n = hastls_tls_alpn_wire(cfg->alpn, wire, sizeof wire);
    if (n == 0)
        return cfg->alpn[0] ? -1 : 0;
    HASTLS_GUARD_ZERO(SSL_set_alpn_protos(ssl, wire, (unsigned)n)); /* 0: success */
    return 0;
}

size_t hastls_tls_alpn_wire(const char *list, unsigned char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n > 255 || o + 1 + n > cap)
            return 0;
        out[o++] = (unsigned char)n;
        memcpy(out + o, p, n);
        o += n;
        p += n;
        if (*p == ',' && !*++p)
            return 0; /* a trailing comma: an empty id */
    }
    return o;
}

SSL *hastls_tls_open(SSL_CTX *ctx, int fd, const struct hastls_config *cfg,
                     const struct hastls_upstream *u, struct hastls_session *s, char *why,
                     size_t wl)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        snprintf(why, wl, "out of memory setting up TLS");
        goto fail;
    }
    if (u->auth_name[0] && hastls_auth_expect(ssl, u->auth_name) < 0) {
        snprintf(why, wl, "cannot set the authentication name %s", u->auth_name);
        goto fail;
    }
    if (set_alpn(ssl, cfg) < 0) {
        snprintf(why, wl, "cannot set ALPN %s", cfg->alpn);
        goto fail;
    }
    if (hastls_session_attach(ssl, s) < 0) {
        snprintf(why, wl, "out of memory setting up TLS");
        goto fail;
    }
    return ssl;
fail:
    if (ssl)
        SSL_free(ssl);
    ERR_clear_error();
    return NULL;
}

enum hastls_tls_step hastls_tls_handshake(SSL *ssl, char *why, size_t wl)
{
    ERR_clear_error();
    int r = SSL_connect(ssl);
    if (r == 1)
        return HASTLS_TLS_DONE;
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        return HASTLS_TLS_WANT_READ;
    if (e == SSL_ERROR_WANT_WRITE)
        return HASTLS_TLS_WANT_WRITE;
    unsigned long oe = ERR_get_error();
    if (oe) {
        const char *reason = ERR_reason_error_string(oe);
        snprintf(why, wl, "TLS handshake failed: %s", reason ? reason : "unknown error");
    } else if (e == SSL_ERROR_SYSCALL && errno) {
        char eb[128];
        snprintf(why, wl, "TLS handshake failed: %s",
                 hastls_errtext(errno, eb, sizeof eb));
    } else {
        snprintf(why, wl, "TLS handshake failed: connection closed");
    }
    ERR_clear_error();
    return HASTLS_TLS_FAILED;
}

int hastls_tls_resumed(SSL *ssl)
{
    return SSL_session_reused(ssl) == 1;
}

void hastls_tls_alpn_selected(SSL *ssl, char *out, size_t len)
{
    const unsigned char *alpn = NULL;
    unsigned alpnlen = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpnlen);
    if (len)
        snprintf(out, len, "%.*s", alpn ? (int)alpnlen : 0,
                 alpn ? (const char *)alpn : "");
}

void hastls_tls_describe(SSL *ssl, int authenticated, char *out, size_t len)
{
    const unsigned char *alpn = NULL;
    unsigned alpnlen = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpnlen);
    snprintf(out, len, "%s, %s%s, ALPN %.*s", SSL_get_version(ssl),
             authenticated ? "authenticated" : "unauthenticated",
             hastls_tls_resumed(ssl) ? ", resumed" : "", alpnlen ? (int)alpnlen : 4,
             alpnlen ? (const char *)alpn : "none");
}

/* Classifies a failed SSL_read or SSL_write. */
static ssize_t io_result(SSL *ssl, int r, int *want_write)
{
    if (r > 0)
        return r;
    int e = SSL_get_error(ssl, r);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ)
        return 0;
    if (e == SSL_ERROR_WANT_WRITE) {
        *want_write = 1;
        return 0;
    }
    return -1; /* closed or failed: handled as the end of the connection */
}

ssize_t hastls_tls_read(SSL *ssl, void *buf, size_t n, int *want_write)
{
    ERR_clear_error();
    return io_result(ssl, SSL_read(ssl, buf, n > 65536 ? 65536 : (int)n), want_write);
}

ssize_t hastls_tls_write(SSL *ssl, const void *buf, size_t n, int *want_write)
{
    ERR_clear_error();
    return io_result(ssl, SSL_write(ssl, buf, n > 65536 ? 65536 : (int)n), want_write);
}

void hastls_tls_free(SSL *ssl, int shutdown)
{
    if (!ssl)
        return;
    if (shutdown)
        SSL_shutdown(ssl); /* best effort close_notify, non-blocking */
    SSL_free(ssl);
    ERR_clear_error();
}
