/* tests/unit/test_resolver_threads.c: every thread the resolver brings into a
 * process -- the transport's event thread and libunbound's worker, which
 * libunbound creates inside the first lookup -- blocks every signal, even when
 * the thread that made the first lookup blocks none; and that thread's own
 * mask is the same after the lookup as before.  Reads each thread's SigBlk in
 * /proc/self/task/TID/status.  No DNS is needed: the upstream refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "policy/config.h"
#include "shim/resolver/resolver.h"

/* The blocked-signal mask of thread TID. */
static unsigned long long sigblk(long tid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%ld/status", tid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    unsigned long long mask = 0;
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "SigBlk: %llx", &mask) == 1)
            found = 1;
    fclose(f);
    assert_true(found);
    return mask;
}

static unsigned long long bit(int sig)
{
    return 1ull << (sig - 1);
}

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

static void test_resolver_threads_block_every_signal(void **state)
{
    (void)state;
    sigset_t none, before, after;
    sigemptyset(&none);
    assert_int_equal(pthread_sigmask(SIG_SETMASK, &none, &before), 0);

    struct hastls_config cfg;
    char spec[64], err[256];
    hastls_config_defaults(&cfg);
    cfg.trust_anchor[0] = '\0';
    cfg.ca_bundle[0] = '\0';
    cfg.n_upstreams = 1;
    snprintf(spec, sizeof spec, "127.0.0.1@%u#dot.example", refused_port());
    assert_int_equal(hastls_upstream_parse(spec, &cfg.upstreams[0], err, sizeof err), 0);
    cfg.timeout_ms = 1000;
    cfg.log_level = HASTLS_LOG_ERROR;
    struct hastls_resolver *r = hastls_resolver_new(&cfg, NULL, err, sizeof err);
    assert_non_null(r);
    struct hastls_query q = {"signals.example", 1};
    struct hastls_answer *a;
    assert_int_equal(hastls_resolver_lookup(r, &q, 1, &a), 0);
    hastls_answer_free(a);

    /* This thread's mask is what it was. */
    assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &after), 0);
    for (int s = 1; s < 32; s++)
        assert_int_equal(sigismember(&after, s), 0);
    long self = syscall(SYS_gettid);
    assert_int_equal(sigblk(self) & (bit(SIGUSR1) | bit(SIGTERM)), 0);

    /* Every other thread (at least the event thread and libunbound's worker)
     * blocks everything a program could send or raise. */
    const int sigs[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGUSR1,  SIGUSR2,     SIGPIPE,
                        SIGALRM, SIGTERM, SIGCHLD, SIGWINCH, SIGRTMIN + 2};
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int others = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long tid = atol(e->d_name);
        if (tid <= 0 || tid == self)
            continue;
        others++;
        unsigned long long m = sigblk(tid);
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            if (!(m & bit(sigs[i])))
                fail_msg("thread %ld leaves signal %d unblocked (SigBlk %llx)", tid,
                         sigs[i], m);
    }
    closedir(d);
    assert_true(others >= 2);
    hastls_resolver_free(r);
    assert_int_equal(pthread_sigmask(SIG_SETMASK, &before, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolver_threads_block_every_signal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
