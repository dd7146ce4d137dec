/* tests/unit/test_resolver_api.c: the resolver's API without the lab: set-up
 * errors, a refused and a silent upstream (the transport's failure reasons and
 * the whole-lookup deadline), the exported table, and fork handling.  Real
 * sockets on 127.0.0.1; no server answers, so no DNS is needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy/config.h"
#include "shim/resolver/resolver.h"

static void base_config(struct hastls_config *cfg, const char *upstream)
{
    char err[256];
    hastls_config_defaults(cfg);
    cfg->trust_anchor[0] = '\0'; /* no validation: nothing to fetch */
    cfg->ca_bundle[0] = '\0';
    cfg->n_upstreams = 1;
    assert_int_equal(hastls_upstream_parse(upstream, &cfg->upstreams[0], err, sizeof err),
                     0);
    cfg->timeout_ms = 1500;
    cfg->log_level = HASTLS_LOG_ERROR;
}

static void test_new_errors(void **state)
{
    (void)state;
    struct hastls_config cfg;
    char err[512];
    base_config(&cfg, "127.0.0.1@1#dot.example");
    strcpy(cfg.trust_anchor, "/nonexistent/root.key");
    assert_null(hastls_resolver_new(&cfg, NULL, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/root.key"));

    base_config(&cfg, "127.0.0.1@1#dot.example");
    strcpy(cfg.ca_bundle, "/nonexistent/ca.pem");
    assert_null(hastls_resolver_new(&cfg, NULL, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/ca.pem"));

    base_config(&cfg, "127.0.0.1@1#dot.example");
    cfg.n_upstreams = 0;
    assert_null(hastls_resolver_new(&cfg, NULL, err, sizeof err));
    assert_non_null(strstr(err, "no upstream"));
}

static void test_api_table(void **state)
{
    (void)state;
    assert_int_equal(hastls_resolver_api.version, HASTLS_RESOLVER_API_VERSION);
    assert_ptr_equal(hastls_resolver_api.create, hastls_resolver_new);
    assert_ptr_equal(hastls_resolver_api.lookup, hastls_resolver_lookup);
    assert_ptr_equal(hastls_resolver_api.answer_free, hastls_answer_free);
    assert_ptr_equal(hastls_resolver_api.destroy, hastls_resolver_free);
    assert_ptr_equal(hastls_resolver_api.forget, hastls_resolver_forget);
    assert_ptr_equal(hastls_resolver_api.get_stats, hastls_resolver_get_stats);
    assert_string_equal(hastls_sec_name(HASTLS_SEC_SECURE), "secure");
    assert_string_equal(hastls_sec_name(HASTLS_SEC_BOGUS), "bogus");
    hastls_answer_free(NULL);
}

/* A free loopback port with nothing listening: connections are refused. */
static unsigned refused_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof sa;
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &l), 0);
    close(s);
    return ntohs(sa.sin_port);
}

static void test_refused_upstream(void **state)
{
    (void)state;
    struct hastls_config cfg;
    char spec[64], err[256], want[128];
    unsigned port = refused_port();
    snprintf(spec, sizeof spec, "127.0.0.1@%u#dot.example", port);
    base_config(&cfg, spec);
    struct hastls_resolver *r = hastls_resolver_new(&cfg, NULL, err, sizeof err);
    assert_non_null(r);
    struct hastls_query q[2] = {{"www.example.com", 1}, {"www.example.com", 65301}};
    struct hastls_answer *a[2];
    assert_int_equal(hastls_resolver_lookup(r, q, 2, a), 0);
    snprintf(want, sizeof want, "127.0.0.1@%u: connection refused", port);
    for (int i = 0; i < 2; i++) {
        assert_non_null(a[i]);
        assert_int_equal(a[i]->status, HASTLS_SEC_FAILED);
        assert_int_equal(a[i]->n_rr, 0);
        assert_string_equal(a[i]->qname, "www.example.com");
        assert_non_null(strstr(a[i]->reason, "(privacy=strict)"));
        assert_non_null(strstr(a[i]->reason, want));
        hastls_answer_free(a[i]);
    }
    assert_int_equal(a[0] != NULL, 1);
    struct hastls_resolver_stats st;
    hastls_resolver_get_stats(r, &st);
    assert_int_equal(st.tls_handshakes, 0);
    assert_int_equal(st.queries_tls, 0);
    assert_int_equal(st.queries_cleartext, 0);
    assert_int_equal(hastls_resolver_lookup(r, q, 0, a), 0);
    hastls_resolver_free(r);
}

/* The same over IPv6, where the host has ::1 (skipped otherwise). */
static void test_refused_upstream_v6(void **state)
{
    (void)state;
    int s = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6,
                              .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    socklen_t l = sizeof sa;
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (s >= 0)
            close(s);
        skip();
    }
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &l), 0);
    close(s);
    unsigned port = ntohs(sa.sin6_port);
    struct hastls_config cfg;
    char spec[64], err[256], want[64];
    snprintf(spec, sizeof spec, "[::1]@%u#dot.example", port);
    base_config(&cfg, spec);
    struct hastls_resolver *r = hastls_resolver_new(&cfg, NULL, err, sizeof err);
    assert_non_null(r);
    struct hastls_query q = {"v6.example", 28};
    struct hastls_answer *a;
    assert_int_equal(hastls_resolver_lookup(r, &q, 1, &a), 0);
    assert_int_equal(a->status, HASTLS_SEC_FAILED);
    snprintf(want, sizeof want, "[::1]@%u: connection refused", port);
    assert_non_null(strstr(a->reason, want));
    hastls_answer_free(a);
    hastls_resolver_free(r);
}

/* A listener that never accepts: TCP connects (the kernel completes it from
 * the backlog) but the TLS handshake never does. */
static void test_silent_upstream(void **state)
{
    (void)state;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(l, 8), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &sl), 0);

    struct hastls_config cfg;
    char spec[64], err[256];
    snprintf(spec, sizeof spec, "127.0.0.1@%u#dot.example", ntohs(sa.sin_port));
    base_config(&cfg, spec);
    cfg.timeout_ms = 800;
    cfg.privacy = HASTLS_PRIVACY_ENCRYPTED;
    struct hastls_resolver *r = hastls_resolver_new(&cfg, NULL, err, sizeof err);
    assert_non_null(r);
    struct hastls_query q = {"silent.example", 28};
    struct hastls_answer *a;
    assert_int_equal(hastls_resolver_lookup(r, &q, 1, &a), 0);
    assert_int_equal(a->status, HASTLS_SEC_FAILED);
    assert_non_null(strstr(a->reason, "(privacy=encrypted)"));
    assert_non_null(strstr(a->reason, "TLS handshake timed out"));
    hastls_answer_free(a);
    hastls_resolver_free(r);
    close(l);
}

/* Counts this process's listening TCP sockets. */
static int count_listeners(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name), v = 0;
        socklen_t l = sizeof v;
        if (fd > 2 && fd != dirfd(d) &&
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &l) == 0 && v)
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static void test_forget_after_fork(void **state)
{
    (void)state;
    struct hastls_config cfg;
    char spec[64], err[256];
    snprintf(spec, sizeof spec, "127.0.0.1@%u#dot.example", refused_port());
    base_config(&cfg, spec);
    struct hastls_resolver *r = hastls_resolver_new(&cfg, NULL, err, sizeof err);
    assert_non_null(r);
    struct hastls_query q = {"fork.example", 1};
    struct hastls_answer *a;
    int before = count_listeners();
    assert_int_equal(hastls_resolver_lookup(r, &q, 1, &a), 0); /* starts the transport */
    hastls_answer_free(a);
    assert_int_equal(count_listeners(), before + 1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child has the descriptors but not the threads. */
        int had = count_listeners();
        hastls_resolver_forget(r);
        _exit(had == before + 1 && count_listeners() == before ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* The parent's resolver still works. */
    assert_int_equal(hastls_resolver_lookup(r, &q, 1, &a), 0);
    assert_int_equal(a->status, HASTLS_SEC_FAILED);
    hastls_answer_free(a);
    hastls_resolver_free(r);
    assert_int_equal(count_listeners(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_errors),
        cmocka_unit_test(test_api_table),
        cmocka_unit_test(test_refused_upstream),
        cmocka_unit_test(test_refused_upstream_v6),
        cmocka_unit_test(test_silent_upstream),
        cmocka_unit_test(test_forget_after_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
