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
    int batch;       /* answer after this many queries, in reverse order */
    int close_after; /* close the connection after answering a batch */
    int accepted;    /* connections (atomic) */
    int handshakes;  /* completed TLS handshakes (atomic) */
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

static void serve(struct peer *pe, SSL *ssl)
{
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

static void peer_start(struct peer *pe, const struct pki *p, int batch, int close_after)
{
    memset(pe, 0, sizeof *pe);
    pe->batch = batch;
    pe->close_after = close_after;
    pe->ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(pe->ctx);
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
