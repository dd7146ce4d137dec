/* tests/unit/test_resolver_relay.c: the loopback listener libunbound forwards
 * to (shim/resolver/relay.c): the own-process peer check with a socket of this
 * process and one of a child, accepting, and each client's stream --
 * queries reassembled from any split of the bytes, answers framed back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy/dnswire.h"
#include "shim/resolver/relay.h"

static void test_peer_is_self(void **state)
{
    (void)state;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(l >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(l, 4), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &sl), 0);

    /* Our own socket: accepted. */
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof sa), 0);
    int a = accept(l, NULL, NULL);
    assert_true(a >= 0);
    assert_int_equal(hastls_relay_peer_is_self(a), 1);
    close(a);
    close(c);

    /* Another process's socket: refused. */
    int sync[2];
    assert_int_equal(pipe(sync), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        char b;
        if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0)
            _exit(1);
        close(sync[1]);
        if (read(sync[0], &b, 1) < 0) /* wait until the parent is done */
            _exit(1);
        _exit(0);
    }
    close(sync[0]);
    a = accept(l, NULL, NULL);
    assert_true(a >= 0);
    assert_int_equal(hastls_relay_peer_is_self(a), 0);
    close(sync[1]);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(a);
    close(l);
}

/* Connects to the listener on PORT from this process. */
static int connect_to(int port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof sa), 0);
    return s;
}

static size_t nclients(const struct hastls_relay *r)
{
    size_t n = 0;
    for (const struct hastls_relay_client *c = r->clients; c; c = c->next)
        n++;
    return n;
}

/* Waits until the listener has a connection to accept. */
static void wait_pending(const struct hastls_relay *r)
{
    struct pollfd p = {r->lfd, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 5000), 1);
}

static void test_accept_only_this_process(void **state)
{
    (void)state;
    struct hastls_relay r;
    char err[256];
    hastls_relay_init(&r, NULL, HASTLS_LOG_ERROR);
    int port = hastls_relay_listen(&r, err, sizeof err);
    assert_true(port > 0);
    int s = connect_to(port);
    wait_pending(&r);
    hastls_relay_accept(&r);
    assert_int_equal(nclients(&r), 1);
    assert_true(hastls_relay_has(&r, r.clients, r.clients->fd));
    assert_false(hastls_relay_has(&r, r.clients, r.clients->fd + 1));

    int sync[2];
    assert_int_equal(pipe(sync), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sync[1]);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        char b;
        if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof sa) < 0)
            _exit(1);
        if (read(sync[0], &b, 1) < 0) /* held open until the parent is done */
            _exit(1);
        _exit(0);
    }
    close(sync[0]);
    wait_pending(&r);
    hastls_relay_accept(&r);
    assert_int_equal(nclients(&r), 1); /* refused */
    close(sync[1]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(s);
    hastls_relay_free(&r);
    assert_int_equal(r.lfd, -1);
}

static size_t make_query(uint8_t *out, uint16_t id, uint8_t label)
{
    const uint8_t name[] = {1, label, 4, 't', 'e', 's', 't', 0};
    size_t len, qend;
    assert_int_equal(
        hastls_dns_build_query(name, sizeof name, 1, 1, out, 512, &len, &qend), 0);
    hastls_dns_set_id(out, id);
    return len;
}

static void test_stream_any_split(void **state)
{
    (void)state;
    uint8_t stream[2 * 514], q1[512], q2[512];
    size_t l1 = make_query(q1, 1, 'a'), l2 = make_query(q2, 2, 'b');
    assert_int_equal(hastls_dns_stream_prefix(stream, l1), 0);
    memcpy(stream + 2, q1, l1);
    assert_int_equal(hastls_dns_stream_prefix(stream + 2 + l1, l2), 0);
    memcpy(stream + 4 + l1, q2, l2);
    size_t total = 4 + l1 + l2;
    /* Every split into two writes gives the same two queries. */
    for (size_t cut = 0; cut <= total; cut++) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        struct hastls_relay_client cl = {.fd = sv[0]};
        const uint8_t *m;
        size_t ml;
        int got = 0;
        size_t parts[2] = {cut, total - cut}, off = 0;
        for (int p = 0; p < 2; p++) {
            if (parts[p]) {
                assert_int_equal(write(sv[1], stream + off, parts[p]), (ssize_t)parts[p]);
                assert_int_equal(hastls_relay_read(&cl), 0);
            }
            off += parts[p];
            while (hastls_relay_next(&cl, &m, &ml)) {
                const uint8_t *want = got ? q2 : q1;
                assert_int_equal(ml, got ? l2 : l1);
                assert_memory_equal(m, want, ml);
                got++;
            }
            hastls_relay_taken(&cl);
        }
        assert_int_equal(got, 2);
        assert_int_equal(cl.in.len, 0);
        /* Nothing waiting: not an error. */
        assert_int_equal(hastls_relay_read(&cl), 0);
        /* The peer closes: the client is gone. */
        close(sv[1]);
        assert_int_equal(hastls_relay_read(&cl), -1);
        hastls_buf_free(&cl.in);
        close(sv[0]);
    }
}

static void test_answers_framed_back(void **state)
{
    (void)state;
    struct hastls_relay r;
    hastls_relay_init(&r, NULL, HASTLS_LOG_ERROR);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct hastls_relay_client cl = {.fd = sv[0]};
    uint8_t q[512], a[512], back[1200];
    size_t ql = make_query(q, 0x5151, 'A');
    size_t al = make_query(a, 0x9999, 'a'); /* "the answer": same question, other case */
    a[2] |= 0x80;
    assert_int_equal(hastls_relay_reply(&r, &cl, q, ql, a, al), 0);
    /* An answer to another question is refused. */
    uint8_t other[512];
    size_t ol = make_query(other, 0x9999, 'z');
    assert_int_equal(hastls_relay_reply(&r, &cl, q, ql, other, ol), -1);
    assert_int_equal(hastls_relay_send(&r, &cl, a, al), 0);
    assert_int_equal(hastls_relay_flush(&cl), 0);
    assert_int_equal(cl.out.len, 0);
    ssize_t n = read(sv[1], back, sizeof back);
    assert_int_equal(n, (ssize_t)(4 + 2 * al));
    size_t off = 0, ml;
    const uint8_t *m;
    assert_int_equal(hastls_dns_stream_next(back, (size_t)n, &off, &m, &ml), 1);
    assert_int_equal(ml, al);
    assert_int_equal(hastls_dns_id(m), 0x5151);
    assert_memory_equal(m + 12, q + 12, ql - 12 - 11); /* the question as asked */
    assert_int_equal(hastls_dns_stream_next(back, (size_t)n, &off, &m, &ml), 1);
    assert_int_equal(hastls_dns_id(m), 0x9999);
    /* The peer is gone: flushing fails. */
    close(sv[1]);
    assert_int_equal(hastls_relay_send(&r, &cl, a, al), 0);
    assert_int_equal(hastls_relay_flush(&cl), -1);
    hastls_buf_free(&cl.out);
    close(sv[0]);
}

int main(void)
{
    /* A flush to a closed peer raises SIGPIPE here; the event thread blocks it. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_is_self),
        cmocka_unit_test(test_accept_only_this_process),
        cmocka_unit_test(test_stream_any_split),
        cmocka_unit_test(test_answers_framed_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
