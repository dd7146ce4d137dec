/* shim/hooks/openssl.c: DANE (RFC 6698, 7671) in programs that use OpenSSL.
 *
 * The shim never links libssl: these definitions of libssl's handshake and
 * I/O entry points only matter in a program that calls them, and each finds
 * libssl's own function, and the few others it needs, in the object that
 * defines the one called (dlsym(RTLD_NEXT), else the libssl already loaded
 * into the process, e.g. by a dlopen()ed module such as python's _ssl).
 *
 * Every way a client handshake starts passes here first: SSL_connect,
 * SSL_do_handshake (also what BIO_do_handshake calls), and the implicit
 * handshake of SSL_read/SSL_write/SSL_peek and their _ex forms.  Before the
 * first of them on a client SSL, the peer is found (name: the SNI name, else
 * the first name given to SSL_set1_host, else the name the connected
 * address was looked up under; port: the descriptor's peer, else the
 * thread's latest connect(), for programs with their own BIO as curl; an
 * OpenSSL connect BIO that is to open the connection inside the handshake
 * gives its own host and port, without SRV delegation) and
 * its TLSA records asked (shim/core/dane.h).  Once per SSL (a mark in the
 * SSL's ex_data), by what the answer says:
 *   - insecure, none, or no name/port known: the SSL is left untouched;
 *   - secure usable records: DANE is enabled on the SSL with them
 *     (SSL_CTX_dane_enable, SSL_dane_enable, the program's own reference
 *     names added back, SSL_dane_tlsa_add), so OpenSSL applies RFC 7671:
 *     DANE-EE(3) authenticates the key alone (no names, no expiry), DANE-TA(2)
 *     a chain to the named anchor with the name check, PKIX-TA/EE(0/1) add to
 *     the PKIX check.  Under `dane = enforce` the SSL verifies the peer even
 *     when the program turned verification off, a verify callback of the
 *     program cannot accept a certificate that matches no record, a session
 *     the program set for resumption is dropped (a resumed session would skip
 *     the check), and after the handshake the SSL must have a DANE match
 *     (SSL_get0_dane_authority), else the call fails;
 *   - bogus or failed lookup: under enforce the handshake is refused before
 *     any byte is sent.
 * A refusal is one line, "hastls: DANE check failed for NAME:PORT: REASON
 * (dane enforce)", and an ordinary certificate failure for the program: the
 * call returns failure, SSL_get_error() says SSL_ERROR_SSL with "certificate
 * verify failed" queued, SSL_get_verify_result() says why.  Under `dane =
 * report` the line says "(dane report)" and nothing is refused (a match
 * still authenticates).  SSLs of the shim's own resolver pass untouched.
 *
 * Secure SRV delegation (RFC 7673, 7712; the rule is shim/core/srvmemo.h's):
 * when the name the program gave differs from the one the connected address
 * was looked up under, and an SRV answer of the former lists the latter on
 * the port: a secure delegation adds the looked-up name (the derived
 * domain) to the SSL's reference names (when the program set any) and takes
 * the TLSA records at _PORT._tcp.DERIVED instead; an insecure one changes
 * nothing (the program's name only, no TLSA query at the derived domain); a
 * bogus SRV answer is refused under enforce with the line above, whose
 * reason names the SRV owner.
 */
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "shim/core/dane.h"
#include "shim/core/locks.h"
#include "shim/core/log.h"
#include "shim/core/real.h"
#include "shim/core/srvmemo.h"
#include "shim/core/state.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_HOSTS 8

/* libssl's functions, found once.  ok: the hooks' own targets and the ex_data
 * functions were found; dane: so were the DANE functions. */
static struct {
    int ok, dane;
    int idx; /* the SSL ex_data index of the marks */
    __typeof__(&SSL_connect) connect;
    __typeof__(&SSL_do_handshake) do_handshake;
    __typeof__(&SSL_read) read;
    __typeof__(&SSL_read_ex) read_ex;
    __typeof__(&SSL_peek) peek;
    __typeof__(&SSL_peek_ex) peek_ex;
    __typeof__(&SSL_write) write;
    __typeof__(&SSL_write_ex) write_ex;
    __typeof__(&SSL_is_server) is_server;
    __typeof__(&SSL_in_before) in_before;
    __typeof__(&SSL_is_init_finished) init_finished;
    __typeof__(&SSL_get_ex_data) get_ex_data;
    __typeof__(&SSL_set_ex_data) set_ex_data;
    __typeof__(&CRYPTO_get_ex_new_index) ex_new_index;
    __typeof__(&SSL_get_fd) get_fd;
    __typeof__(&SSL_get_rbio) get_rbio;     /* optional: the connect BIO's peer */
    __typeof__(&BIO_find_type) find_type;   /* optional */
    __typeof__(&BIO_ctrl) bio_ctrl;         /* optional */
    __typeof__(&BIO_ptr_ctrl) bio_ptr_ctrl; /* optional */
    __typeof__(&SSL_get_servername) servername;
    __typeof__(&SSL_get0_param) get0_param;
    __typeof__(&X509_VERIFY_PARAM_get0_host) param_host;
    __typeof__(&SSL_get_SSL_CTX) get_ctx;
    __typeof__(&SSL_CTX_dane_enable) ctx_dane_enable;
    __typeof__(&SSL_dane_enable) dane_enable;
    __typeof__(&SSL_add1_host) add1_host;
    __typeof__(&SSL_dane_tlsa_add) tlsa_add;
    __typeof__(&SSL_get0_dane_authority) dane_authority;
    __typeof__(&SSL_get_verify_mode) verify_mode;
    __typeof__(&SSL_get_verify_callback) verify_callback;
    __typeof__(&SSL_set_verify) set_verify;
    __typeof__(&SSL_set_verify_result) set_verify_result;
    __typeof__(&SSL_get_verify_result) get_verify_result;
    __typeof__(&SSL_get_session) get_session;
    __typeof__(&SSL_set_session) set_session;
    __typeof__(&SSL_get_ex_data_X509_STORE_CTX_idx) store_ssl_idx;
    __typeof__(&X509_STORE_CTX_get_ex_data) store_get_ex_data;
    __typeof__(&X509_STORE_CTX_get_error) store_error;
    __typeof__(&X509_STORE_CTX_set_error) store_set_error;
    __typeof__(&X509_verify_cert_error_string) verr_string;
    __typeof__(&ERR_new) err_new;
    __typeof__(&ERR_set_debug) err_set_debug;
    __typeof__(&ERR_set_error) err_set_error;
} ossl;

static pthread_once_t bind_once = PTHREAD_ONCE_INIT;

/* What the shim decided for one SSL, kept in its ex_data and freed with it.
 * Servers, and every SSL under dane = off, share the one NONE mark
 * mark_none; each client SSL has its own, so that a handshake after
 * SSL_clear() is decided again. */
enum mark_state { MARK_NONE, MARK_DANE, MARK_REFUSED };

struct mark {
    enum mark_state state;
    enum hastls_dane_mode mode;
    int begun;                /* a handshake started since the mark was made */
    int forced;               /* verification turned on by the shim */
    int checked;              /* the post-handshake check ran */
    int logged;               /* the failure line was written */
    int program_mode;         /* the program's verify mode ... */
    SSL_verify_cb program_cb; /* ... and callback, before DANE changed them */
    long verify_error;        /* for SSL_get_verify_result on refusal */
    int other_error;          /* the latest verify error DANE does not own */
    uint16_t port;
    char name[HASTLS_NAME_MAX];
    char owner[HASTLS_DANE_OWNER_MAX];
};

static struct mark mark_none = {.state = MARK_NONE};

/* SSL_CTX_dane_enable() changes the (shared) context: one at a time, under
 * hastls_lock_dane_ctx (defined in shim/core/state.c). */

static void mark_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                      void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    if (ptr && ptr != &mark_none)
        free(ptr);
}

/* The object that defines libssl's SSL_connect (shim/core/real.h). */
static void *libssl_handle(void)
{
    static const char *const sonames[] = {"libssl.so.3", "libssl.so.1.1"};
    return hastls_real_lib("SSL_connect", sonames, sizeof sonames / sizeof sonames[0]);
}

#define BIND(field, name) (ossl.field = (__typeof__(ossl.field))dlsym(h, #name))

static void bind_libssl(void)
{
    int saved = errno;
    void *h = libssl_handle();
    if (!h) {
        errno = saved;
        return;
    }
    BIND(connect, SSL_connect);
    BIND(do_handshake, SSL_do_handshake);
    BIND(read, SSL_read);
    BIND(read_ex, SSL_read_ex);
    BIND(peek, SSL_peek);
    BIND(peek_ex, SSL_peek_ex);
    BIND(write, SSL_write);
    BIND(write_ex, SSL_write_ex);
    BIND(is_server, SSL_is_server);
    BIND(in_before, SSL_in_before);
    BIND(init_finished, SSL_is_init_finished);
    BIND(get_ex_data, SSL_get_ex_data);
    BIND(set_ex_data, SSL_set_ex_data);
    BIND(ex_new_index, CRYPTO_get_ex_new_index);
    BIND(get_fd, SSL_get_fd);
    BIND(get_rbio, SSL_get_rbio);
    BIND(find_type, BIO_find_type);
    BIND(bio_ctrl, BIO_ctrl);
    BIND(bio_ptr_ctrl, BIO_ptr_ctrl);
    BIND(servername, SSL_get_servername);
    BIND(get0_param, SSL_get0_param);
    BIND(param_host, X509_VERIFY_PARAM_get0_host);
    BIND(get_ctx, SSL_get_SSL_CTX);
    BIND(ctx_dane_enable, SSL_CTX_dane_enable);
    BIND(dane_enable, SSL_dane_enable);
    BIND(add1_host, SSL_add1_host);
    BIND(tlsa_add, SSL_dane_tlsa_add);
    BIND(dane_authority, SSL_get0_dane_authority);
    BIND(verify_mode, SSL_get_verify_mode);
    BIND(verify_callback, SSL_get_verify_callback);
    BIND(set_verify, SSL_set_verify);
    BIND(set_verify_result, SSL_set_verify_result);
    BIND(get_verify_result, SSL_get_verify_result);
    BIND(get_session, SSL_get_session);
    BIND(set_session, SSL_set_session);
    BIND(store_ssl_idx, SSL_get_ex_data_X509_STORE_CTX_idx);
    BIND(store_get_ex_data, X509_STORE_CTX_get_ex_data);
    BIND(store_error, X509_STORE_CTX_get_error);
    BIND(store_set_error, X509_STORE_CTX_set_error);
    BIND(verr_string, X509_verify_cert_error_string);
    BIND(err_new, ERR_new);
    BIND(err_set_debug, ERR_set_debug);
    BIND(err_set_error, ERR_set_error);
    ossl.ok = ossl.is_server && ossl.in_before && ossl.init_finished &&
              ossl.get_ex_data && ossl.set_ex_data && ossl.ex_new_index && ossl.get_fd &&
              ossl.servername && ossl.get0_param && ossl.param_host;
    if (ossl.ok) {
        ossl.idx = ossl.ex_new_index(CRYPTO_EX_INDEX_SSL, 0, NULL, NULL, NULL, mark_free);
        ossl.ok = ossl.idx >= 0;
    }
    ossl.dane = ossl.ok && ossl.get_ctx && ossl.ctx_dane_enable && ossl.dane_enable &&
                ossl.add1_host && ossl.tlsa_add && ossl.dane_authority &&
                ossl.verify_mode && ossl.verify_callback && ossl.set_verify &&
                ossl.set_verify_result && ossl.get_verify_result && ossl.get_session &&
                ossl.set_session && ossl.store_ssl_idx && ossl.store_get_ex_data &&
                ossl.store_error && ossl.store_set_error && ossl.verr_string &&
                ossl.err_new && ossl.err_set_debug && ossl.err_set_error;
    errno = saved;
}

static void bind_ossl(void)
{
    pthread_once(&bind_once, bind_libssl);
}

/* Queues libssl's "certificate verify failed" error, so that SSL_get_error()
 * reports SSL_ERROR_SSL and the program prints its usual certificate
 * failure. */
static void queue_error(SSL *s, const struct mark *m)
{
    if (!ossl.dane)
        return;
    ossl.set_verify_result(s, m->verify_error);
    ossl.err_new();
    ossl.err_set_debug(__FILE__, __LINE__, "hastls_dane");
    ossl.err_set_error(ERR_LIB_SSL, SSL_R_CERTIFICATE_VERIFY_FAILED,
                       "DANE check failed for %s:%u", m->name, m->port);
}

static void log_once(struct mark *m, const char *reason)
{
    if (m->logged)
        return;
    m->logged = 1;
    hastls_dane_log_failure(m->mode, m->name, m->port, reason);
}

/* Whether the address CALLER lies in the shim's own resolver object. */
static int from_resolver(const void *caller)
{
    Dl_info di;
    if (!caller || !dladdr(caller, &di) || !di.dli_fname)
        return 0;
    const char *base = strrchr(di.dli_fname, '/');
    base = base ? base + 1 : di.dli_fname;
    return !strcmp(base, "libhastls-resolver.so");
}

/* The program's verify callback, wrapped: under enforce a certificate that
 * matches no TLSA record (or fails the name check DANE asks for) fails
 * whatever the program's callback says; what DANE does not concern goes to
 * the program's callback, or is accepted when the program did not verify. */
static int verify_wrapper(int ok, X509_STORE_CTX *xctx)
{
    SSL *s = ossl.store_get_ex_data(xctx, ossl.store_ssl_idx());
    struct mark *m = s ? ossl.get_ex_data(s, ossl.idx) : NULL;
    if (!m || m->state != MARK_DANE)
        return ok;
    int err = ossl.store_error(xctx);
    int dane_err =
        err == X509_V_ERR_DANE_NO_MATCH ||
        (m->mode == HASTLS_DANE_ENFORCE && err == X509_V_ERR_HOSTNAME_MISMATCH);
    if (!ok && dane_err) {
        char reason[HASTLS_DANE_OWNER_MAX + 128];
        snprintf(reason, sizeof reason, "%s at %s", ossl.verr_string(err), m->owner);
        log_once(m, reason);
        if (m->mode == HASTLS_DANE_ENFORCE)
            return 0;
        /* report: as the program would have decided without DANE, and what
         * SSL_get_verify_result() says afterwards too */
        ossl.store_set_error(xctx, m->other_error);
        ok = 1;
    } else if (!ok) {
        m->other_error = err;
    }
    if (m->forced) {
        if (m->program_cb)
            (void)m->program_cb(ok, xctx);
        return 1;
    }
    return m->program_cb ? m->program_cb(ok, xctx) : ok;
}

/* Enables DANE on S with the records of SET.  Returns 1 when some record
 * was taken, 0 when OpenSSL took none (as if there were no records), -1 on
 * failure. */
static int enable_dane(SSL *s, struct mark *m, const struct hastls_dane_set *set)
{
    char *hosts[MAX_HOSTS];
    size_t nh = 0;
    int rc = -1;
    X509_VERIFY_PARAM *param = ossl.get0_param(s);
    for (int i = 0; param && nh < MAX_HOSTS; i++) {
        const char *h = ossl.param_host(param, i);
        if (!h)
            break;
        if (!(hosts[nh] = strdup(h)))
            goto out;
        nh++;
    }
    pthread_mutex_lock(&hastls_lock_dane_ctx);
    int ctx_ok = ossl.ctx_dane_enable(ossl.get_ctx(s)) > 0;
    pthread_mutex_unlock(&hastls_lock_dane_ctx);
    /* SSL_dane_enable() makes the base domain the only reference name: the
     * program's own names are added back. */
    if (!ctx_ok || ossl.dane_enable(s, m->name) <= 0)
        goto out;
    for (size_t i = 0; i < nh; i++)
        if (strcasecmp(hosts[i], m->name) && ossl.add1_host(s, hosts[i]) != 1)
            goto out;
    rc = 0;
    for (size_t i = 0; i < set->n; i++) {
        const struct hastls_tlsa *t = &set->rec[i];
        if (ossl.tlsa_add(s, t->usage, t->selector, t->mtype, t->data, t->dlen) > 0)
            rc = 1;
    }
out:
    for (size_t i = 0; i < nh; i++)
        free(hosts[i]);
    return rc;
}

/* The name of S's peer into NAME: SNI, else the first reference name, else
 * the name KEY was looked up under.  Returns 0, or -1 when none is known. */
static int peer_name(SSL *s, const uint8_t key[16], uint16_t port, char *name)
{
    const char *sni = ossl.servername(s, TLSEXT_NAMETYPE_host_name);
    X509_VERIFY_PARAM *param = ossl.get0_param(s);
    const char *host = param ? ossl.param_host(param, 0) : NULL;
    if (sni && *sni)
        snprintf(name, HASTLS_NAME_MAX, "%s", sni);
    else if (host && *host)
        snprintf(name, HASTLS_NAME_MAX, "%s", host);
    else
        return hastls_dane_name_of(key, port, name);
    return 0;
}

/* Secure SRV delegation (RFC 7673, 7712; shim/core/srvmemo.h): when the
 * address of S's peer KEY, PORT was looked up under another name than the
 * one the program authenticates (M's name), applies what the rule says.
 * Secure: the looked-up name (the derived domain) becomes a reference name
 * of S too (when the program checks names at all) and is the one whose TLSA
 * records count, written into TLSA_NAME.  Insecure or none: TLSA_NAME is
 * M's name alone.  Bogus: a refusal under enforce (marked in M).  Returns 0
 * to go on with the TLSA lookup of TLSA_NAME, -1 when refused. */
static int delegate(SSL *s, struct mark *m, const uint8_t key[16], char *tlsa_name)
{
    char target[HASTLS_NAME_MAX];
    struct hastls_deleg_result d;
    snprintf(tlsa_name, HASTLS_NAME_MAX, "%s", m->name);
    if (hastls_dane_name_of(key, m->port, target) < 0 ||
        hastls_srv_delegation(m->name, target, m->port, key, &d) < 0)
        return 0;
    switch (d.state) {
    case HASTLS_DELEG_NONE:
        return 0;
    case HASTLS_DELEG_INSECURE:
        hastls_log(HASTLS_LOG_INFO,
                   "%s:%u: %s is not a secure SRV delegation (%s): verifying %s only",
                   m->name, m->port, d.target, d.why, m->name);
        return 0;
    case HASTLS_DELEG_BOGUS:
        snprintf(m->owner, sizeof m->owner, "%s", d.owner);
        m->verify_error = X509_V_ERR_APPLICATION_VERIFICATION;
        log_once(m, d.why);
        if (m->mode != HASTLS_DANE_ENFORCE)
            return 0;
        m->state = MARK_REFUSED;
        return -1;
    case HASTLS_DELEG_SECURE:
    default:
        break;
    }
    X509_VERIFY_PARAM *param = ossl.get0_param(s);
    if (param && ossl.param_host(param, 0) && ossl.add1_host &&
        ossl.add1_host(s, d.target) != 1) {
        /* not accepting the derived domain only makes the check stricter */
        hastls_log(HASTLS_LOG_WARN, "%s:%u: cannot add %s to the accepted names", m->name,
                   m->port, d.target);
        return 0;
    }
    hastls_log(HASTLS_LOG_DEBUG, "%s:%u: securely delegated to %s by %s", m->name,
               m->port, d.target, d.owner);
    snprintf(tlsa_name, HASTLS_NAME_MAX, "%s", d.target);
    return 0;
}

/* Applies what SET says to the client SSL S with the fresh mark M: enables
 * DANE, or marks a refusal, or leaves both alone.  PREV is the SSL's mark of
 * an earlier handshake, or NULL. */
static void decide(SSL *s, struct mark *m, const struct hastls_dane_set *set,
                   const struct mark *prev)
{
    char reason[HASTLS_DANE_OWNER_MAX + 256];
    snprintf(m->owner, sizeof m->owner, "%s", set->owner);
    switch (set->state) {
    case HASTLS_DANE_NONE:
    case HASTLS_DANE_INSECURE:
        return;
    case HASTLS_DANE_BOGUS:
        snprintf(reason, sizeof reason, "the TLSA records at %s are DNSSEC-bogus: %s",
                 set->owner, set->why);
        break;
    case HASTLS_DANE_FAILED:
        snprintf(reason, sizeof reason, "the TLSA lookup of %s failed: %s", set->owner,
                 set->why);
        break;
    case HASTLS_DANE_USE:
    default:
        if (!ossl.dane) {
            snprintf(reason, sizeof reason,
                     "this OpenSSL lacks DANE, and %s has TLSA records", set->owner);
            break;
        }
        int rc = enable_dane(s, m, set);
        /* A program that starts a new handshake on the same SSL without
         * SSL_clear() (openssl s_client -reconnect) keeps its DANE state,
         * which OpenSSL cannot reset: fine for the same peer only. */
        if (rc < 0 && prev && prev->state == MARK_DANE &&
            !strcmp(prev->owner, m->owner) && !strcmp(prev->name, m->name))
            rc = 1;
        if (rc == 0)
            return; /* OpenSSL can use none of them: as if absent */
        if (rc > 0) {
            m->state = MARK_DANE;
            m->verify_error = X509_V_ERR_DANE_NO_MATCH;
            int mode = m->program_mode;
            if (m->mode == HASTLS_DANE_ENFORCE) {
                m->forced = !(mode & SSL_VERIFY_PEER);
                mode |= SSL_VERIFY_PEER;
                if (ossl.get_session(s)) {
                    hastls_log(HASTLS_LOG_INFO,
                               "%s:%u: not resuming the session: DANE checks the peer",
                               m->name, m->port);
                    (void)ossl.set_session(s, NULL);
                }
            }
            ossl.set_verify(s, mode, verify_wrapper);
            return;
        }
        snprintf(reason, sizeof reason, "cannot enable DANE with the TLSA records at %s",
                 set->owner);
        break;
    }
    m->verify_error = X509_V_ERR_APPLICATION_VERIFICATION;
    log_once(m, reason);
    if (m->mode == HASTLS_DANE_ENFORCE)
        m->state = MARK_REFUSED;
}

/* The peer of S when OpenSSL's connect BIO (BIO_new_ssl_connect,
 * BIO_new_connect) is to open the connection during the handshake: no
 * descriptor exists yet, and the thread's latest connect() belongs to
 * another connection, but the BIO knows where it goes.  Fills M's name
 * (SNI, else the first reference name, else the BIO's host) and port.
 * Returns 0, or -1 when S has no such BIO (or it is connected already:
 * then its descriptor says more). */
static int connect_bio_peer(SSL *s, struct mark *m)
{
    if (!ossl.get_rbio || !ossl.find_type || !ossl.bio_ctrl || !ossl.bio_ptr_ctrl)
        return -1;
    BIO *rb = ossl.get_rbio(s);
    BIO *cb = rb ? ossl.find_type(rb, BIO_TYPE_CONNECT) : NULL;
    if (!cb || ossl.bio_ctrl(cb, BIO_C_GET_FD, 0, NULL) >= 0)
        return -1;
    const char *host = ossl.bio_ptr_ctrl(cb, BIO_C_GET_CONNECT, 0);
    const char *serv = ossl.bio_ptr_ctrl(cb, BIO_C_GET_CONNECT, 1);
    if (!host || !*host || !serv || !*serv)
        return -1;
    char *end;
    errno = 0;
    unsigned long port = strtoul(serv, &end, 10);
    if (*end || errno || port == 0 || port > 65535) {
        struct servent se, *r = NULL;
        char buf[1024];
        if (getservbyname_r(serv, "tcp", &se, buf, sizeof buf, &r) != 0 || !r)
            return -1;
        port = ntohs((uint16_t)r->s_port);
    }
    const char *sni = ossl.servername(s, TLSEXT_NAMETYPE_host_name);
    X509_VERIFY_PARAM *param = ossl.get0_param(s);
    const char *ref = param ? ossl.param_host(param, 0) : NULL;
    snprintf(m->name, sizeof m->name, "%s", sni && *sni ? sni : ref && *ref ? ref : host);
    m->port = (uint16_t)port;
    return 0;
}

/* Decides for S, whose handshake is about to start (CALLER called the hook),
 * and stores its new mark in place of PREV (its mark for an earlier
 * handshake, or NULL).  Returns the mark in force. */
static struct mark *prepare(SSL *s, const void *caller, struct mark *prev)
{
    const struct hastls_config *cfg = hastls_state_config();
    if (cfg->dane == HASTLS_DANE_OFF || ossl.is_server(s))
        return ossl.set_ex_data(s, ossl.idx, &mark_none) == 1 ? &mark_none : prev;
    struct mark *m = calloc(1, sizeof *m);
    if (!m) {
        hastls_log(HASTLS_LOG_ERROR, "out of memory for the DANE check of an SSL");
        return prev ? prev : &mark_none;
    }
    m->mode = cfg->dane;
    if (prev && prev != &mark_none && prev->state == MARK_DANE) {
        /* the same SSL again: our wrapper is its callback now */
        m->program_mode = prev->program_mode;
        m->program_cb = prev->program_cb;
        ossl.set_verify(s, prev->program_mode, prev->program_cb);
    } else if (ossl.dane) {
        m->program_mode = ossl.verify_mode(s);
        m->program_cb = ossl.verify_callback(s);
    }

    uint8_t key[16];
    int proto = 0; /* TCP, or UDP for DTLS: _tcp or _udp */
    int found = 0, keyed = 0;
    if (ossl.in_before(s) && !from_resolver(caller)) {
        if (connect_bio_peer(s, m) == 0) {
            found = 1;
            proto = IPPROTO_TCP;
        } else if (hastls_dane_peer_proto(ossl.get_fd(s), key, &m->port, &proto) == 0 &&
                   peer_name(s, key, m->port, m->name) == 0) {
            found = keyed = 1;
        }
    }
    if (found) {
        char tlsa_name[HASTLS_NAME_MAX];
        /* SRV delegation needs the connected address (and is TCP's alone):
         * without it the program's name is the one checked, fail closed */
        snprintf(tlsa_name, sizeof tlsa_name, "%s", m->name);
        if (!keyed || proto != IPPROTO_TCP || delegate(s, m, key, tlsa_name) == 0) {
            struct hastls_dane_set *set =
                hastls_dane_lookup_proto(tlsa_name, m->port, proto);
            if (set)
                decide(s, m, set, prev && prev != &mark_none ? prev : NULL);
            free(set);
        }
    }
    if (ossl.set_ex_data(s, ossl.idx, m) != 1) {
        free(m);
        return prev ? prev : &mark_none;
    }
    if (prev && prev != &mark_none)
        free(prev);
    return m;
}

/* Before a call on S: its mark (a new one before a handshake starts), or
 * NULL to fail the call (refused; the error is queued). */
static struct mark *gate(SSL *s, const void *caller)
{
    if (!ossl.ok || !s || hastls_guarded())
        return &mark_none;
    struct mark *m = ossl.get_ex_data(s, ossl.idx);
    if (!m || (m != &mark_none && m->begun && ossl.in_before(s))) {
        int saved = errno;
        m = prepare(s, caller, m);
        errno = saved;
    }
    if (m->state == MARK_REFUSED) {
        queue_error(s, m);
        return NULL;
    }
    return m;
}

/* After a call on S with mark M that succeeded (OK): the post-handshake
 * check of a DANE SSL.  Returns 0 to hand the result out, -1 to fail the
 * call. */
static int after(SSL *s, struct mark *m, int ok)
{
    if (m == &mark_none)
        return 0;
    if (!m->begun && !ossl.in_before(s))
        m->begun = 1;
    if (!ok || m->state != MARK_DANE || m->checked || !ossl.init_finished(s))
        return 0;
    m->checked = 1;
    if (ossl.dane_authority(s, NULL, NULL) >= 0)
        return 0;
    char reason[HASTLS_DANE_OWNER_MAX + 160];
    long v = ossl.get_verify_result(s);
    snprintf(reason, sizeof reason, "no TLSA record at %s authenticates the peer%s%s",
             m->owner, v != X509_V_OK ? ": " : "",
             v != X509_V_OK ? ossl.verr_string(v) : "");
    log_once(m, reason);
    if (m->mode != HASTLS_DANE_ENFORCE)
        return 0;
    m->state = MARK_REFUSED;
    queue_error(s, m);
    return -1;
}

#define CALLER __builtin_return_address(0)

/* The hooks: each returns what libssl's function returns, or its failure
 * value (-1, or 0 for the _ex forms) when DANE refuses the connection. */
#define HOOK_INT(fn, field, params, args)                                                \
    EXPORT int fn params                                                                 \
    {                                                                                    \
        bind_ossl();                                                                     \
        if (!ossl.field)                                                                 \
            return -1;                                                                   \
        struct mark *m = gate(s, CALLER);                                                \
        if (!m)                                                                          \
            return -1;                                                                   \
        int rc = ossl.field args;                                                        \
        return after(s, m, rc > 0) < 0 ? -1 : rc;                                        \
    }
#define HOOK_EX(fn, field, params, args)                                                 \
    EXPORT int fn params                                                                 \
    {                                                                                    \
        bind_ossl();                                                                     \
        if (!ossl.field)                                                                 \
            return 0;                                                                    \
        struct mark *m = gate(s, CALLER);                                                \
        if (!m)                                                                          \
            return 0;                                                                    \
        int rc = ossl.field args;                                                        \
        return after(s, m, rc == 1) < 0 ? 0 : rc;                                        \
    }

HOOK_INT(SSL_connect, connect, (SSL * s), (s))
HOOK_INT(SSL_do_handshake, do_handshake, (SSL * s), (s))
HOOK_INT(SSL_read, read, (SSL * s, void *buf, int num), (s, buf, num))
HOOK_INT(SSL_peek, peek, (SSL * s, void *buf, int num), (s, buf, num))
HOOK_INT(SSL_write, write, (SSL * s, const void *buf, int num), (s, buf, num))
HOOK_EX(SSL_read_ex, read_ex, (SSL * s, void *buf, size_t num, size_t *n),
        (s, buf, num, n))
HOOK_EX(SSL_peek_ex, peek_ex, (SSL * s, void *buf, size_t num, size_t *n),
        (s, buf, num, n))
HOOK_EX(SSL_write_ex, write_ex, (SSL * s, const void *buf, size_t num, size_t *n),
        (s, buf, num, n))
