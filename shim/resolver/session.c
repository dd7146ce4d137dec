/* shim/resolver/session.c: TLS session resumption (see session.h). */
#include "shim/resolver/session.h"

#include <pthread.h>

static int ex_index = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void ex_init(void)
{
    ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* Keeps a private copy: OpenSSL marks the connection's own session object not
 * resumable when the connection ends with an error (a server closing without
 * close_notify), which must not spoil the next connection. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct hastls_session *s = SSL_get_ex_data(ssl, ex_index);
    /* One arriving during a TLS 1.2 handshake is dropped again by
     * hastls_session_refuse if authentication fails. */
    if (!s || s->refused)
        return 0;
    SSL_SESSION *copy = SSL_SESSION_dup(sess);
    if (!copy)
        return 0;
    if (s->sess)
        SSL_SESSION_free(s->sess);
    s->sess = copy;
    return 0; /* the original reference stays with OpenSSL */
}

int hastls_session_setup(SSL_CTX *ctx)
{
    HASTLS_GUARD_ZERO(pthread_once(&ex_once, ex_init));
    HASTLS_ENSURE(ex_index >= 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
                                            SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    return 0;
}

int hastls_session_attach(SSL *ssl, struct hastls_session *s)
{
    s->refused = 0;
    HASTLS_GUARD_OSSL(SSL_set_ex_data(ssl, ex_index, s));
    /* A session OpenSSL will not take only costs a full handshake. */
    if (s->sess && SSL_set_session(ssl, s->sess) != 1) {
        SSL_SESSION_free(s->sess);
        s->sess = NULL;
    }
    return 0;
}

void hastls_session_refuse(struct hastls_session *s)
{
    s->refused = 1;
    if (s->sess) {
        SSL_SESSION_free(s->sess);
        s->sess = NULL;
    }
}

void hastls_session_free(struct hastls_session *s)
{
    if (s->sess)
        SSL_SESSION_free(s->sess);
    s->sess = NULL;
}
