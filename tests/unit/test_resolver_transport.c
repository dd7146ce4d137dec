/* tests/unit/test_resolver_transport.c: the DNS-over-TLS transport alone
 * (shim/resolver/dot.c and everything it ties: relay, state machine, links,
 * TLS, authentication, sessions), without libunbound.  The test is the client
 * on the loopback listener, as libunbound would be; the upstream is a TLS
 * server thread of the test with a certificate made here, scripted to answer
 * out of order, close after answering, or present another name.
 *
 * SSL_set1_host and X509_VERIFY_PARAM_set1_ip_asc are interposed here (the
 * test binary's definitions win over libssl's for the code linked into it) so
 * that their failure can be forced: the connection must then fail closed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "policy/config.h"
#include "policy/dnswire.h"
#include "shim/resolver/dot.h"
#include "shim/resolver/tls.h"

/* ---- interposed OpenSSL calls ---- */

static int fail_set1_host, fail_set1_ip;

int SSL_set1_host(SSL *s, const char *hostname)
{
    static int (*real)(SSL *, const char *);
    if (!real)
        real = (int (*)(SSL *, const char *))dlsym(RTLD_NEXT, "SSL_set1_host");
    if (fail_set1_host)
        return 0;
    return real(s, hostname);
}

int X509_VERIFY_PARAM_set1_ip_asc(X509_VERIFY_PARAM *p, const char *ip)
{
    static int (*real)(X509_VERIFY_PARAM *, const char *);
    if (!real)
        real = (int (*)(X509_VERIFY_PARAM *, const char *))dlsym(
            RTLD_NEXT, "X509_VERIFY_PARAM_set1_ip_asc");
    if (fail_set1_ip)
        return 0;
    return real(p, ip);
}

/* ---- certificates ---- */

struct pki {
    EVP_PKEY *ca_key, *key;
    X509 *ca, *cert;
    char ca_file[64];
    uint8_t spki[32]; /* SHA-256 of the server's SubjectPublicKeyInfo */
};

static void add_ext(X509 *issuer, X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(e);
    assert_int_equal(X509_add_ext(x, e, -1), 1);
    X509_EXTENSION_free(e);
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       const char *san)
{
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), issuer ? 2 : 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    assert_int_equal(X509_set_pubkey(x, key), 1);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                               0);
    assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n),
                     1);
    if (san) {
        add_ext(issuer, x, NID_subject_alt_name, san);
    } else {
        add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
    }
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static void pki_make(struct pki *p)
{
    p->ca_key = EVP_EC_gen("P-256");
    p->key = EVP_EC_gen("P-256");
    assert_non_null(p->ca_key);
    assert_non_null(p->key);
    p->ca = make_cert(p->ca_key, "test CA", NULL, NULL, NULL);
    p->cert =
        make_cert(p->key, "dot.test", p->ca, p->ca_key, "DNS:dot.test,IP:127.0.0.1");
    snprintf(p->ca_file, sizeof p->ca_file, "/tmp/hastls-test-ca.XXXXXX");
    int fd = mkstemp(p->ca_file);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, p->ca), 1);
    fclose(f);
    unsigned char *der = NULL;
    int dl = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(p->cert), &der);
    assert_true(dl > 0);
    unsigned hl = 0;
    assert_int_equal(EVP_Digest(der, (size_t)dl, p->spki, &hl, EVP_sha256(), NULL), 1);
    OPENSSL_free(der);
}

static void pki_free(struct pki *p)
{
    unlink(p->ca_file);
    X509_free(p->ca);
    X509_free(p->cert);
    EVP_PKEY_free(p->ca_key);
    EVP_PKEY_free(p->key);
}

/* ---- the scripted upstream ---- */

struct peer {
    int lfd;
    unsigned port;
    SSL_CTX *ctx;
    int batch;                 /* answer after this many queries, in reverse order */
    int close_after;           /* close the connection after answering a batch */
    int first_of_record;       /* as dnsdist 1.7: answer only a record's first query */
    int multi;                 /* records that carried more than one query (atomic) */
    int http;                  /* answer HTTP, whatever comes, and close */
    const char *select;        /* the ALPN id to select when offered (NULL: none) */
    unsigned char offered[64]; /* the ALPN list the client offered, wire form */
    unsigned offered_len;
    int accepted;   /* connections (atomic) */
    int handshakes; /* completed TLS handshakes (atomic) */
    pthread_t thread;
    int stop;
};

/* Reads exactly N bytes from SSL, or returns -1. */
static int ssl_read_all(SSL *ssl, uint8_t *p, size_t n)
{
    while (n) {
        int r = SSL_read(ssl, p, (int)n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* The answer to Q: same ID and question, QR, RA, NOERROR, no records. */
static size_t answer_of(const uint8_t *q, size_t len, uint8_t *out)
{
    size_t qend;
    if (hastls_dns_check_query(q, len, &qend) < 0)
        return 0;
    memcpy(out + 2, q, qend);
    out[2 + 2] |= 0x80;
    out[2 + 3] = 0x80;
    out[2 + 10] = out[2 + 11] = 0;
    if (hastls_dns_stream_prefix(out, qend) < 0)
        return 0;
    return qend + 2;
}

/* One record at a time (SSL_read returns at most one): its first query is
 * answered, the others are dropped, as dnsdist 1.7.3 does. */
static void serve_first_of_record(struct peer *pe, SSL *ssl)
{
    uint8_t rec[16384], a[600];
    for (;;) {
        int r = SSL_read(ssl, rec, sizeof rec);
        if (r <= 0)
            return;
        size_t off = 0, mlen, n = 0;
        const uint8_t *msg, *first = NULL;
        size_t first_len = 0;
        while (hastls_dns_stream_next(rec, (size_t)r, &off, &msg, &mlen))
            if (n++ == 0) {
                first = msg;
                first_len = mlen;
            }
        if (n > 1)
            __atomic_fetch_add(&pe->multi, 1, __ATOMIC_RELAXED);
        size_t alen = first ? answer_of(first, first_len, a) : 0;
        if (alen && SSL_write(ssl, a, (int)alen) <= 0)
            return;
    }
}

static void serve(struct peer *pe, SSL *ssl)
{
    if (pe->http) {
        uint8_t junk[512];
        (void)SSL_read(ssl, junk, sizeof junk);
        const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        (void)SSL_write(ssl, reply, (int)sizeof reply - 1);
        return;
    }
    if (pe->first_of_record) {
        serve_first_of_record(pe, ssl);
        return;
    }
    uint8_t q[8][600], a[8][600];
    size_t alen[8];
    for (;;) {
        int k;
        for (k = 0; k < pe->batch; k++) {
            uint8_t pre[2];
            if (ssl_read_all(ssl, pre, 2) < 0)
                return;
            size_t l = (size_t)(pre[0] << 8 | pre[1]);
            if (l > sizeof q[k] || ssl_read_all(ssl, q[k], l) < 0)
                return;
            alen[k] = answer_of(q[k], l, a[k]);
        }
        for (k = pe->batch - 1; k >= 0; k--)
            if (alen[k] && SSL_write(ssl, a[k], (int)alen[k]) <= 0)
                return;
        if (pe->close_after)
            return;
    }
}

static void *peer_thread(void *arg)
{
    struct peer *pe = arg;
    while (!__atomic_load_n(&pe->stop, __ATOMIC_ACQUIRE)) {
        struct pollfd p = {pe->lfd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(pe->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        __atomic_fetch_add(&pe->accepted, 1, __ATOMIC_RELAXED);
        struct timeval tv = {3, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        SSL *ssl = SSL_new(pe->ctx);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) == 1) {
            __atomic_fetch_add(&pe->handshakes, 1, __ATOMIC_RELAXED);
            serve(pe, ssl);
            SSL_shutdown(ssl);
        }
        SSL_free(ssl);
        close(fd);
    }
    return NULL;
}

static void peer_listen(struct peer *pe, const struct pki *p);

/* Records the client's ALPN list; selects PE->select when it is offered. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    (void)ssl;
    struct peer *pe = arg;
    if (inlen <= sizeof pe->offered) {
        memcpy(pe->offered, in, inlen);
        pe->offered_len = inlen;
    }
    if (!pe->select)
        return SSL_TLSEXT_ERR_NOACK;
    size_t sl = strlen(pe->select);
    for (unsigned o = 0; o < inlen; o += 1u + in[o])
        if (in[o] == sl && o + 1 + sl <= inlen && !memcmp(in + o + 1, pe->select, sl)) {
            *out = in + o + 1;
            *outlen = in[o];
            return SSL_TLSEXT_ERR_OK;
        }
    return SSL_TLSEXT_ERR_NOACK;
}

static void peer_setup(struct peer *pe, int batch, int close_after)
{
    memset(pe, 0, sizeof *pe);
    pe->batch = batch;
    pe->close_after = close_after;
}

static void peer_start(struct peer *pe, const struct pki *p, int batch, int close_after)
{
    peer_setup(pe, batch, close_after);
    peer_listen(pe, p);
}

/* Starts PE as set up (peer_setup and any fields after it). */
static void peer_listen(struct peer *pe, const struct pki *p)
{
    pe->ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(pe->ctx);
    SSL_CTX_set_alpn_select_cb(pe->ctx, alpn_select, pe);
    assert_int_equal(SSL_CTX_use_certificate(pe->ctx, p->cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(pe->ctx, p->key), 1);
    pe->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof sa;
    assert_int_equal(bind(pe->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(pe->lfd, 8), 0);
    assert_int_equal(getsockname(pe->lfd, (struct sockaddr *)&sa, &l), 0);
    pe->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&pe->thread, NULL, peer_thread, pe), 0);
}

static void peer_stop(struct peer *pe)
{
    __atomic_store_n(&pe->stop, 1, __ATOMIC_RELEASE);
    pthread_join(pe->thread, NULL);
    close(pe->lfd);
    SSL_CTX_free(pe->ctx);
}

/* ---- the client (as libunbound) ---- */

struct client {
    struct hastls_config cfg;
    struct hastls_dot *d;
    int fd;
};

static void client_start(struct client *c, const struct pki *p, const struct peer *pe,
                         const char *auth_name, enum hastls_privacy privacy)
{
    char spec[128], err[256];
    memset(c, 0, sizeof *c);
    hastls_config_defaults(&c->cfg);
    c->cfg.trust_anchor[0] = '\0'; /* no chain prefetch: only our queries go up */
    snprintf(c->cfg.ca_bundle, sizeof c->cfg.ca_bundle, "%s", p->ca_file);
    snprintf(spec, sizeof spec, "127.0.0.1@%u#%s", pe->port, auth_name);
    c->cfg.n_upstreams = 1;
    assert_int_equal(hastls_upstream_parse(spec, &c->cfg.upstreams[0], err, sizeof err),
                     0);
    c->cfg.privacy = privacy;
    c->cfg.timeout_ms = 3000;
    c->cfg.log_level = HASTLS_LOG_ERROR;
    c->d = hastls_dot_new(&c->cfg, NULL, err, sizeof err);
    assert_non_null(c->d);
    int port = hastls_dot_start(c->d, -1, NULL, NULL, err, sizeof err);
    assert_true(port > 0);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0);
}

static void client_stop(struct client *c)
{
    close(c->fd);
    hastls_dot_free(c->d);
}

static size_t make_query(uint8_t *out, const char *label, uint16_t id)
{
    uint8_t name[64];
    size_t l = strlen(label), len, qend;
    name[0] = (uint8_t)l;
    memcpy(name + 1, label, l);
    memcpy(name + 1 + l, "\4test", 6);
    assert_int_equal(hastls_dns_build_query(name, l + 7, 1, 0, out, 512, &len, &qend), 0);
    hastls_dns_set_id(out, id);
    return len;
}

static void send_query(struct client *c, const char *label, uint16_t id)
{
    uint8_t q[514];
    size_t len = make_query(q + 2, label, id);
    assert_int_equal(hastls_dns_stream_prefix(q, len), 0);
    assert_int_equal(write(c->fd, q, len + 2), (ssize_t)(len + 2));
}

/* Reads one framed answer (5 s at most); returns its length. */
static size_t read_answer(struct client *c, uint8_t *out, size_t cap)
{
    size_t have = 0, need = 2;
    uint8_t buf[2 + 600];
    while (have < need) {
        struct pollfd p = {c->fd, POLLIN, 0};
        if (poll(&p, 1, 5000) != 1)
            fail_msg("no answer from the transport within 5 s");
        ssize_t n = read(c->fd, buf + have, need - have);
        assert_true(n > 0);
        have += (size_t)n;
        if (have == 2) {
            need = 2 + (size_t)(buf[0] << 8 | buf[1]);
            assert_true(need <= sizeof buf && need - 2 <= cap);
        }
    }
    memcpy(out, buf + 2, need - 2);
    return need - 2;
}

/* Reads N answers and checks each: the IDs and labels asked, RCODE. */
static void expect_answers(struct client *c, const char *const *labels,
                           const uint16_t *ids, int n, int rcode)
{
    int got[8] = {0};
    for (int i = 0; i < n; i++) {
        uint8_t a[600], q[512];
        size_t alen = read_answer(c, a, sizeof a);
        int k;
        for (k = 0; k < n; k++) {
            size_t qlen = make_query(q, labels[k], ids[k]);
            if (hastls_dns_same_question(q, qlen, a, alen))
                break;
        }
        assert_true(k < n);
        assert_false(got[k]);
        got[k] = 1;
        assert_int_equal(hastls_dns_id(a), ids[k]);
        assert_int_equal(hastls_dns_rcode(a, alen), rcode);
    }
}

static void expect_failure(struct client *c, const char *text)
{
    char buf[1024];
    hastls_dot_failures(c->d, 0, buf, sizeof buf, NULL);
    if (!strstr(buf, text))
        fail_msg("no failure \"%s\" in \"%s\"", text, buf);
}

static struct pki pki;

static int setup(void **state)
{
    (void)state;
    pki_make(&pki);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pki_free(&pki);
    return 0;
}

/* ---- tests ---- */

static void test_pipelined_out_of_order(void **state)
{
    (void)state;
    struct peer pe;
    struct client c;
    peer_start(&pe, &pki, 3, 0);
    client_start(&c, &pki, &pe, "dot.test", HASTLS_PRIVACY_STRICT);
    const char *labels[3] = {"one", "two", "three"};
    const uint16_t ids[3] = {0x10, 0x10, 0x11}; /* two alike: ours differ */
    for (int k = 0; k < 3; k++)
        send_query(&c, labels[k], ids[k]);
    expect_answers(&c, labels, ids, 3, 0);
    struct hastls_resolver_stats st;
    hastls_dot_stats(c.d, &st);
    assert_int_equal(st.tls_handshakes, 1);
    assert_int_equal(st.queries_tls, 3);
    client_stop(&c);
    peer_stop(&pe);
    assert_int_equal(pe.accepted, 1);
}

/* A server that answers only the first query of each TLS record (dnsdist
 * 1.7) still answers every query the first time: each goes in a record of
 * its own, also when they arrive together. */
static void test_one_query_per_record(void **state)
{
    (void)state;
    struct peer pe;
    struct client c;
    peer_setup(&pe, 1, 0);
    pe.first_of_record = 1;
    peer_listen(&pe, &pki);
    client_start(&c, &pki, &pe, "dot.test", HASTLS_PRIVACY_STRICT);
    const char *labels[4] = {"one", "two", "three", "four"};
    const uint16_t ids[4] = {1, 2, 3, 4};
    uint8_t all[4 * 514];
    size_t n = 0;
    for (int k = 0; k < 4; k++) { /* one write: the relay takes them at once */
        size_t len = make_query(all + n + 2, labels[k], ids[k]);
        assert_int_equal(hastls_dns_stream_prefix(all + n, len), 0);
        n += 2 + len;
    }
    assert_int_equal(write(c.fd, all, n), (ssize_t)n);
    expect_answers(&c, labels, ids, 4, 0);
    struct hastls_resolver_stats st;
    hastls_dot_stats(c.d, &st);
    assert_int_equal(st.queries_tls, 4); /* none asked again */
    assert_int_equal(__atomic_load_n(&pe.multi, __ATOMIC_RELAXED), 0);
    client_stop(&c);
    peer_stop(&pe);
}

/* The ALPN list goes out in its order; the id the server selects is used. */
static void test_alpn_list_offered(void **state)
{
    (void)state;
    struct peer pe;
    struct client c;
    peer_setup(&pe, 1, 0);
    pe.select = "dns";
    peer_listen(&pe, &pki);
    client_start(&c, &pki, &pe, "dot.test", HASTLS_PRIVACY_STRICT);
    snprintf(c.cfg.alpn, sizeof c.cfg.alpn, "dot,dns");
    const char *labels[1] = {"a"};
    const uint16_t ids[1] = {7};
    send_query(&c, "a", 7);
    expect_answers(&c, labels, ids, 1, 0);
    assert_int_equal(pe.offered_len, 8);
    assert_memory_equal(pe.offered, "\3dot\3dns", 8);
    client_stop(&c);
    peer_stop(&pe);
}

/* Offering only "dns", a server that selects no ALPN fails, saying so. */
static void test_alpn_dns_needs_selection(void **state)
{
    (void)state;
    struct peer pe;
    struct client c;
    peer_setup(&pe, 1, 0);
    peer_listen(&pe, &pki);
    client_start(&c, &pki, &pe, "dot.test", HASTLS_PRIVACY_STRICT);
    snprintf(c.cfg.alpn, sizeof c.cfg.alpn, "dns");
    const char *labels[1] = {"a"};
    const uint16_t ids[1] = {7};
    send_query(&c, "a", 7);
    expect_answers(&c, labels, ids, 1, HASTLS_DNS_RCODE_SERVFAIL);
    expect_failure(&c, "the server selected none of the ALPN ids offered (dns)");
    client_stop(&c);
    peer_stop(&pe);
}

/* A server that answers HTTP: one connection, "the reply is not DNS". */
static void test_http_reply_fails_once(void **state)
{
    (void)state;
    struct peer pe;
    struct client c;
    peer_setup(&pe, 1, 0);
    pe.http = 1;
    peer_listen(&pe, &pki);
    client_start(&c, &pki, &pe, "dot.test", HASTLS_PRIVACY_STRICT);
    const char *labels[1] = {"a"};
    const uint16_t ids[1] = {7};
    send_query(&c, "a", 7);
    expect_answers(&c, labels, ids, 1, HASTLS_DNS_RCODE_SERVFAIL);
    expect_failure(&c, "the reply is not DNS (it begins \"HTTP/1.1 400 Bad Request\")");
    send_query(&c, "a", 7); /* as libunbound asks again at once */
    expect_answers(&c, labels, ids, 1, HASTLS_DNS_RCODE_SERVFAIL);
    client_stop(&c);
    peer_stop(&pe);
    assert_int_equal(pe.accepted, 1);
}

/* The configuration's list in ALPN wire form, and what cannot be. */
static void test_alpn_wire(void **state)
{
    (void)state;
    unsigned char w[64];
    assert_int_equal(hastls_tls_alpn_wire("dot", w, sizeof w), 4);
    assert_memory_equal(w, "\3dot", 4);
    assert_int_equal(hastls_tls_alpn_wire("dns,dot,h2", w, sizeof w), 11);
    assert_memory_equal(w, "\3dns\3dot\2h2", 11);
    assert_int_equal(hastls_tls_alpn_wire("", w, sizeof w), 0);
    assert_int_equal(hastls_tls_alpn_wire("dot,", w, sizeof w), 0);
    assert_int_equal(hastls_tls_alpn_wire(",dot", w, sizeof w), 0);
    assert_int_equal(hastls_tls_alpn_wire("dot,,dns", w, sizeof w), 0);
    assert_int_equal(hastls_tls_alpn_wire("dot,dns", w, 7), 0); /* needs 8 */
    assert_int_equal(hastls_tls_alpn_wire("dot,dns", w, 8), 8);
    char big[300];
    memset(big, 'x', 256);
    big[256] = '\0';
    unsigned char wb[300];
    assert_int_equal(hastls_tls_alpn_wire(big, wb, sizeof wb), 0); /* id > 255 */
    big[255] = '\0';
    assert_int_equal(hastls_tls_alpn_wire(big, wb, sizeof wb), 256);
}

static void test_name_mismatch_fails_strict(void **state)
{
    (void)state;
    struct peer pe;
    struct client c;
    peer_start(&pe, &pki, 1, 0);
    client_start(&c, &pki, &pe, "other.test", HASTLS_PRIVACY_STRICT);
    const char *labels[1] = {"a"};
    const uint16_t ids[1] = {7};
    send_query(&c, "a", 7);
    expect_answers(&c, labels, ids, 1, HASTLS_DNS_RCODE_SERVFAIL);
    expect_failure(&c, "certificate name mismatch (wanted other.test)");
    client_stop(&c);
    peer_stop(&pe);
}

static void test_ip_literal_name(void **state)
{
    (void)state;
    struct peer pe;
    struct client c;
    peer_start(&pe, &pki, 1, 0);
    client_start(&c, &pki, &pe, "127.0.0.1", HASTLS_PRIVACY_STRICT);
    const char *labels[1] = {"a"};
    const uint16_t ids[1] = {7};
    send_query(&c, "a", 7);
    expect_answers(&c, labels, ids, 1, 0);
    client_stop(&c);
    peer_stop(&pe);
}

static void test_pin_decides(void **state)
{
    (void)state;
    struct peer pe;
    struct client c;
    const char *labels[1] = {"a"};
    const uint16_t ids[1] = {7};
    peer_start(&pe, &pki, 1, 0);
    /* The right pin authenticates even under another name. */
    client_start(&c, &pki, &pe, "other.test", HASTLS_PRIVACY_STRICT);
    memcpy(c.cfg.pins[0], pki.spki, 32);
    c.cfg.n_pins = 1;
    send_query(&c, "a", 7);
    expect_answers(&c, labels, ids, 1, 0);
    client_stop(&c);
    /* A wrong pin refuses even the right name. */
    client_start(&c, &pki, &pe, "dot.test", HASTLS_PRIVACY_STRICT);
    memset(c.cfg.pins[0], 0xab, 32);
    c.cfg.n_pins = 1;
    send_query(&c, "a", 7);
    expect_answers(&c, labels, ids, 1, HASTLS_DNS_RCODE_SERVFAIL);
    expect_failure(&c, "no configured SPKI pin matches the certificate");
    client_stop(&c);
    peer_stop(&pe);
}

static void test_resumption_after_close(void **state)
{
    (void)state;
    struct peer pe;
    struct client c;
    const char *labels[1] = {"a"};
    const uint16_t ids[1] = {1};
    peer_start(&pe, &pki, 1, 1); /* closes after each answer */
    client_start(&c, &pki, &pe, "dot.test", HASTLS_PRIVACY_STRICT);
    send_query(&c, "a", 1);
    expect_answers(&c, labels, ids, 1, 0);
    usleep(100000); /* the close reaches the transport */
    send_query(&c, "a", 1);
    expect_answers(&c, labels, ids, 1, 0);
    struct hastls_resolver_stats st;
    hastls_dot_stats(c.d, &st);
    assert_int_equal(st.tls_handshakes, 1);
    assert_int_equal(st.tls_resumptions, 1);
    client_stop(&c);
    peer_stop(&pe);
}

static void test_unauthenticated_never_resumed(void **state)
{
    (void)state;
    struct peer pe;
    struct client c;
    const char *labels[1] = {"a"};
    const uint16_t ids[1] = {1};
    peer_start(&pe, &pki, 1, 1);
    client_start(&c, &pki, &pe, "other.test", HASTLS_PRIVACY_ENCRYPTED);
    send_query(&c, "a", 1);
    expect_answers(&c, labels, ids, 1, 0); /* encrypted: used unauthenticated */
    usleep(100000);
    send_query(&c, "a", 1);
    expect_answers(&c, labels, ids, 1, 0);
    struct hastls_resolver_stats st;
    hastls_dot_stats(c.d, &st);
    assert_int_equal(st.tls_handshakes, 2);
    assert_int_equal(st.tls_resumptions, 0);
    client_stop(&c);
    peer_stop(&pe);
}

static void test_name_not_settable_fails_closed(void **state)
{
    (void)state;
    struct peer pe;
    struct client c;
    const char *labels[1] = {"a"};
    const uint16_t ids[1] = {3};
    peer_start(&pe, &pki, 1, 0);
    /* Under encrypted, an unauthenticated connection would be acceptable: a
     * name that cannot be set must still never be "checked" without it. */
    fail_set1_host = 1;
    client_start(&c, &pki, &pe, "dot.test", HASTLS_PRIVACY_ENCRYPTED);
    send_query(&c, "a", 3);
    expect_answers(&c, labels, ids, 1, HASTLS_DNS_RCODE_SERVFAIL);
    expect_failure(&c, "cannot set the authentication name dot.test");
    struct hastls_resolver_stats st;
    hastls_dot_stats(c.d, &st);
    assert_int_equal(st.tls_handshakes, 0);
    assert_int_equal(st.queries_tls, 0);
    client_stop(&c);
    fail_set1_host = 0;

    fail_set1_ip = 1;
    client_start(&c, &pki, &pe, "127.0.0.1", HASTLS_PRIVACY_STRICT);
    send_query(&c, "a", 3);
    expect_answers(&c, labels, ids, 1, HASTLS_DNS_RCODE_SERVFAIL);
    expect_failure(&c, "cannot set the authentication name 127.0.0.1");
    client_stop(&c);
    fail_set1_ip = 0;
    peer_stop(&pe);
    assert_int_equal(pe.handshakes, 0);
}

static void test_relay_refuses_malformed(void **state)
{
    (void)state;
    struct peer pe;
    struct client c;
    peer_start(&pe, &pki, 1, 0);
    client_start(&c, &pki, &pe, "dot.test", HASTLS_PRIVACY_STRICT);
    /* A frame too short for a header and an answer instead of a query are
     * dropped; the query after them is answered. */
    uint8_t junk[] = {0, 3, 1, 2, 3};
    assert_int_equal(write(c.fd, junk, sizeof junk), (ssize_t)sizeof junk);
    uint8_t q[514];
    size_t len = make_query(q + 2, "x", 9);
    q[2 + 2] |= 0x80;
    assert_int_equal(hastls_dns_stream_prefix(q, len), 0);
    assert_int_equal(write(c.fd, q, len + 2), (ssize_t)(len + 2));
    send_query(&c, "b", 4);
    const char *labels[1] = {"b"};
    const uint16_t ids[1] = {4};
    expect_answers(&c, labels, ids, 1, 0);
    client_stop(&c);
    peer_stop(&pe);
}

int main(void)
{
    /* The scripted server writes to connections the transport has closed
     * (tickets, close_notify): that is no failure of the test. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_out_of_order),
        cmocka_unit_test(test_one_query_per_record),
        cmocka_unit_test(test_alpn_list_offered),
        cmocka_unit_test(test_alpn_dns_needs_selection),
        cmocka_unit_test(test_http_reply_fails_once),
        cmocka_unit_test(test_alpn_wire),
        cmocka_unit_test(test_name_mismatch_fails_strict),
        cmocka_unit_test(test_ip_literal_name),
        cmocka_unit_test(test_pin_decides),
        cmocka_unit_test(test_resumption_after_close),
        cmocka_unit_test(test_unauthenticated_never_resumed),
        cmocka_unit_test(test_name_not_settable_fails_closed),
        cmocka_unit_test(test_relay_refuses_malformed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
