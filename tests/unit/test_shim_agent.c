/* tests/unit/test_shim_agent.c: the shim's client of the agent
 * (shim/core/agent.c) against a scripted agent on a real Unix socket:
 * answers rebuilt with their status, reason and records; no agent; an agent
 * that dies, stays silent, answers garbage or another request; answers out
 * of order to two threads; a child after fork() on its own connection. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/agentwire.h"
#include "shim/core/agent.h"

enum behaviour {
    ANSWER,     /* answer each request */
    DIE,        /* close the connection on the first request */
    SILENT,     /* read requests, never answer */
    BAD_PREFIX, /* answer with a frame length of 1 */
    WRONG_NAME, /* answer about another name */
    SWAPPED,    /* hold the first request, answer the second, then the first */
};

static char dir[64], path[100];

struct peer {
    int lfd;
    enum behaviour how;
    pthread_t thread;
    int stop_pipe[2];
    int accepted; /* connections */
    int requests;
};

/* A response for a.example: an A record 127.0.10.1, TTL 300. */
static const uint8_t packet[] = {
    0x00, 0x00, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, /* header */
    0x01, 'a',  0x07, 'e',  'x',  'a',  'm',  'p',  'l',  'e',  0x00,       /* qname */
    0x00, 0x01, 0x00, 0x01,                                                 /* A IN */
    0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c,             /* answer */
    0x00, 0x04, 127,  0,    10,   1,
};

static int read_exact(int fd, uint8_t *buf, size_t n)
{
    while (n) {
        ssize_t got = read(fd, buf, n);
        if (got <= 0)
            return -1;
        buf += got;
        n -= (size_t)got;
    }
    return 0;
}

static int read_request(int fd, struct hastls_agent_request *req)
{
    uint8_t prefix[4];
    size_t len;
    static uint8_t body[4096];
    if (read_exact(fd, prefix, 4) < 0 ||
        hastls_agent_frame_len(prefix, 4, sizeof body, &len) != 1 ||
        read_exact(fd, body, len) < 0)
        return -1;
    return hastls_agent_request_decode(body, len, req);
}

static void send_answer(int fd, const struct hastls_agent_request *req, const char *name)
{
    static uint8_t buf[8192];
    struct hastls_agent_writer w;
    hastls_agent_response_begin(&w, buf, sizeof buf, req->op, req->id);
    if (req->op == HASTLS_AGENT_OP_STATUS)
        hastls_agent_response_text(&w, "pid: 7\nlookups: 1\n", 18);
    for (size_t i = 0; req->op == HASTLS_AGENT_OP_LOOKUP && i < req->nq; i++) {
        struct hastls_agent_answer a = {.qtype = req->q[i].qtype, .ttl = 300};
        snprintf(a.qname, sizeof a.qname, "%s", name ? name : req->q[i].name);
        snprintf(a.canonname, sizeof a.canonname, "%s", a.qname);
        if (!strcmp(req->q[i].name, "bogus.example")) {
            a.status = HASTLS_SEC_BOGUS;
            a.rcode = 2;
            snprintf(a.reason, sizeof a.reason, "signature expired");
        } else if (req->q[i].qtype == 1) {
            a.status = HASTLS_SEC_SECURE;
            a.rcode = 0;
            a.packet = packet;
            a.packet_len = sizeof packet;
        } else {
            a.status = HASTLS_SEC_INSECURE;
            a.rcode = 3;
        }
        hastls_agent_response_answer(&w, &a);
    }
    size_t len = hastls_agent_response_end(&w);
    assert_true(len > 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
}

/* One request on FD; returns -1 when the connection is to go. */
static int serve_one(struct peer *p, int fd, struct hastls_agent_request *held,
                     int *holding)
{
    static const uint8_t bad[] = {0, 0, 0, 1, 0};
    struct hastls_agent_request req;
    if (read_request(fd, &req) < 0)
        return -1;
    __atomic_add_fetch(&p->requests, 1, __ATOMIC_SEQ_CST);
    switch (p->how) {
    case ANSWER:
        send_answer(fd, &req, NULL);
        return 0;
    case DIE:
        return -1;
    case SILENT:
        return 0;
    case BAD_PREFIX:
        assert_int_equal(write(fd, bad, sizeof bad), (ssize_t)sizeof bad);
        return 0;
    case WRONG_NAME:
        send_answer(fd, &req, "other.example");
        return 0;
    case SWAPPED:
        if (!*holding) {
            *held = req;
            *holding = 1;
            return 0;
        }
        send_answer(fd, &req, NULL);
        send_answer(fd, held, NULL);
        *holding = 0;
        return 0;
    }
    return -1;
}

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    struct pollfd fds[8];
    int nfd = 2, holding = 0;
    struct hastls_agent_request held;
    fds[0] = (struct pollfd){p->stop_pipe[0], POLLIN, 0};
    fds[1] = (struct pollfd){p->lfd, POLLIN, 0};
    for (;;) {
        if (poll(fds, (nfds_t)nfd, -1) < 0 && errno != EINTR)
            break;
        if (fds[0].revents)
            break;
        if (fds[1].revents && nfd < 8) {
            int fd = accept(p->lfd, NULL, NULL);
            if (fd >= 0) {
                fds[nfd++] = (struct pollfd){fd, POLLIN, 0};
                __atomic_add_fetch(&p->accepted, 1, __ATOMIC_SEQ_CST);
            }
        }
        for (int i = 2; i < nfd; i++) {
            if (!fds[i].revents)
                continue;
            if (serve_one(p, fds[i].fd, &held, &holding) < 0) {
                close(fds[i].fd);
                fds[i--] = fds[--nfd];
            }
        }
    }
    for (int i = 2; i < nfd; i++)
        close(fds[i].fd);
    return NULL;
}

static struct peer *peer_start(enum behaviour how)
{
    struct peer *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->how = how;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    unlink(path);
    p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(p->lfd >= 0);
    assert_int_equal(bind(p->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(p->lfd, 8), 0);
    assert_int_equal(pipe(p->stop_pipe), 0);
    assert_int_equal(pthread_create(&p->thread, NULL, peer_main, p), 0);
    return p;
}

static void peer_stop(struct peer *p)
{
    assert_int_equal(write(p->stop_pipe[1], "x", 1), 1);
    pthread_join(p->thread, NULL);
    close(p->lfd);
    close(p->stop_pipe[0]);
    close(p->stop_pipe[1]);
    unlink(path);
    free(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_agent.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/agent.sock", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return rmdir(dir);
}

static const struct hastls_query three[] = {
    {"a.example", 1}, {"a.example", 28}, {"a.example", 65301}};

static void answers_rebuilt(void **state)
{
    (void)state;
    struct peer *p = peer_start(ANSWER);
    struct hastls_agent_client *c = hastls_agent_client_new(path, 2000);
    assert_non_null(c);
    struct hastls_answer *ans[3];
    assert_int_equal(hastls_agent_client_lookup(c, three, 3, ans), HASTLS_AGENT_ANSWERED);
    assert_int_equal(ans[0]->qtype, 1);
    assert_int_equal(ans[0]->status, HASTLS_SEC_SECURE);
    assert_int_equal(ans[0]->rcode, 0);
    assert_int_equal(ans[0]->ttl, 300);
    assert_string_equal(ans[0]->qname, "a.example");
    assert_int_equal(ans[0]->packet_len, sizeof packet);
    assert_memory_equal(ans[0]->packet, packet, sizeof packet);
    assert_int_equal(ans[0]->n_rr, 1);
    assert_int_equal(ans[0]->rr[0].type, 1);
    assert_int_equal(ans[0]->rr[0].rdlen, 4);
    assert_true(ans[0]->rr[0].rdata >= ans[0]->packet &&
                ans[0]->rr[0].rdata + 4 <= ans[0]->packet + ans[0]->packet_len);
    static const uint8_t want[] = {127, 0, 10, 1};
    assert_memory_equal(ans[0]->rr[0].rdata, want, 4);
    assert_int_equal(ans[1]->status, HASTLS_SEC_INSECURE);
    assert_int_equal(ans[1]->rcode, 3);
    assert_null(ans[1]->packet);
    assert_int_equal(ans[1]->n_rr, 0);
    assert_int_equal(ans[2]->qtype, 65301);

    /* A copy keeps everything and points into its own packet. */
    struct hastls_answer *copy = hastls_agent_answer_copy(ans[0]);
    assert_non_null(copy);
    assert_int_equal(copy->n_rr, 1);
    assert_ptr_not_equal(copy->packet, ans[0]->packet);
    assert_true(copy->rr[0].rdata >= copy->packet &&
                copy->rr[0].rdata < copy->packet + copy->packet_len);
    hastls_agent_answer_free(copy);
    for (int i = 0; i < 3; i++)
        hastls_agent_answer_free(ans[i]);

    /* The DNSSEC status and its reason travel. */
    struct hastls_query q = {"bogus.example", 1};
    assert_int_equal(hastls_agent_client_lookup(c, &q, 1, ans), HASTLS_AGENT_ANSWERED);
    assert_int_equal(ans[0]->status, HASTLS_SEC_BOGUS);
    assert_int_equal(ans[0]->rcode, 2);
    assert_string_equal(ans[0]->reason, "signature expired");
    hastls_agent_answer_free(ans[0]);

    char text[256];
    assert_int_equal(hastls_agent_client_status(c, text, sizeof text),
                     HASTLS_AGENT_ANSWERED);
    assert_string_equal(text, "pid: 7\nlookups: 1\n");
    /* One connection for all of it. */
    assert_int_equal(__atomic_load_n(&p->accepted, __ATOMIC_SEQ_CST), 1);
    hastls_agent_client_free(c);
    peer_stop(p);
}

static void no_agent(void **state)
{
    (void)state;
    struct hastls_agent_client *c = hastls_agent_client_new(path, 500);
    struct hastls_answer *ans[3] = {(void *)1, (void *)1, (void *)1};
    assert_int_equal(hastls_agent_client_lookup(c, three, 3, ans), HASTLS_AGENT_ABSENT);
    assert_null(ans[0]);
    assert_null(ans[2]);
    /* A socket file nobody listens on (an agent that was killed). */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    assert_int_equal(hastls_agent_client_lookup(c, three, 3, ans), HASTLS_AGENT_ABSENT);
    unlink(path);
    hastls_agent_client_free(c);
    /* A path that cannot be a socket address. */
    char longpath[200];
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    assert_null(hastls_agent_client_new(longpath, 500));
}

static void unsuited_requests(void **state)
{
    (void)state;
    struct peer *p = peer_start(ANSWER);
    struct hastls_agent_client *c = hastls_agent_client_new(path, 2000);
    struct hastls_answer *ans[9];
    char name[300];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    struct hastls_query q = {name, 1};
    assert_int_equal(hastls_agent_client_lookup(c, &q, 1, ans), HASTLS_AGENT_UNSUITED);
    struct hastls_query many[9];
    for (int i = 0; i < 9; i++)
        many[i] = (struct hastls_query){"a.example", 1};
    assert_int_equal(hastls_agent_client_lookup(c, many, 9, ans), HASTLS_AGENT_UNSUITED);
    assert_int_equal(hastls_agent_client_lookup(c, many, 0, ans), HASTLS_AGENT_UNSUITED);
    assert_int_equal(__atomic_load_n(&p->requests, __ATOMIC_SEQ_CST), 0);
    hastls_agent_client_free(c);
    peer_stop(p);
}

/* An agent that fails in any way costs a BROKEN result (the caller resolves
 * by itself), and the next request gets a new connection. */
static void broken_agents(void **state)
{
    (void)state;
    const enum behaviour hows[] = {DIE, SILENT, BAD_PREFIX, WRONG_NAME};
    for (size_t k = 0; k < sizeof hows / sizeof hows[0]; k++) {
        struct peer *p = peer_start(hows[k]);
        struct hastls_agent_client *c = hastls_agent_client_new(path, 300);
        struct hastls_answer *ans[3];
        assert_int_equal(hastls_agent_client_lookup(c, three, 3, ans),
                         HASTLS_AGENT_BROKEN);
        assert_null(ans[0]);
        assert_int_equal(hastls_agent_client_lookup(c, three, 3, ans),
                         HASTLS_AGENT_BROKEN);
        /* Each failure dropped the connection. */
        for (int i = 0; i < 100 && __atomic_load_n(&p->accepted, __ATOMIC_SEQ_CST) < 2;
             i++)
            usleep(10000);
        assert_int_equal(__atomic_load_n(&p->accepted, __ATOMIC_SEQ_CST), 2);
        hastls_agent_client_free(c);
        peer_stop(p);
    }
}

struct lookup_arg {
    struct hastls_agent_client *c;
    const char *name;
    enum hastls_agent_result r;
    char got[HASTLS_NAME_MAX];
};

static void *lookup_thread(void *arg)
{
    struct lookup_arg *a = arg;
    struct hastls_query q = {a->name, 1};
    struct hastls_answer *ans;
    a->r = hastls_agent_client_lookup(a->c, &q, 1, &ans);
    if (a->r == HASTLS_AGENT_ANSWERED) {
        snprintf(a->got, sizeof a->got, "%s", ans->qname);
        hastls_agent_answer_free(ans);
    }
    return NULL;
}

/* Two threads on one connection; the agent answers the second first. */
static void out_of_order(void **state)
{
    (void)state;
    struct peer *p = peer_start(SWAPPED);
    struct hastls_agent_client *c = hastls_agent_client_new(path, 3000);
    struct lookup_arg a = {c, "one.example", 0, ""}, b = {c, "two.example", 0, ""};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, lookup_thread, &a), 0);
    for (int i = 0; i < 300 && __atomic_load_n(&p->requests, __ATOMIC_SEQ_CST) < 1; i++)
        usleep(10000);
    assert_int_equal(pthread_create(&tb, NULL, lookup_thread, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.r, HASTLS_AGENT_ANSWERED);
    assert_int_equal(b.r, HASTLS_AGENT_ANSWERED);
    assert_string_equal(a.got, "one.example");
    assert_string_equal(b.got, "two.example");
    assert_int_equal(__atomic_load_n(&p->accepted, __ATOMIC_SEQ_CST), 1);
    hastls_agent_client_free(c);
    peer_stop(p);
}

/* A child does not use its parent's connection. */
static void child_after_fork(void **state)
{
    (void)state;
    struct peer *p = peer_start(ANSWER);
    struct hastls_agent_client *c = hastls_agent_client_new(path, 2000);
    struct hastls_answer *ans[3];
    assert_int_equal(hastls_agent_client_lookup(c, three, 3, ans), HASTLS_AGENT_ANSWERED);
    for (int i = 0; i < 3; i++)
        hastls_agent_answer_free(ans[i]);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int ok = hastls_agent_client_lookup(c, three, 3, ans) == HASTLS_AGENT_ANSWERED &&
                 ans[0]->n_rr == 1;
        _exit(ok ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(__atomic_load_n(&p->accepted, __ATOMIC_SEQ_CST), 2);
    /* The parent's connection still works. */
    assert_int_equal(hastls_agent_client_lookup(c, three, 3, ans), HASTLS_AGENT_ANSWERED);
    for (int i = 0; i < 3; i++)
        hastls_agent_answer_free(ans[i]);
    assert_int_equal(__atomic_load_n(&p->accepted, __ATOMIC_SEQ_CST), 2);
    hastls_agent_client_free(c);
    peer_stop(p);
}

/* A program that closed the client's descriptor and got the number again
 * for something else: the client notices and reconnects. */
static void descriptor_reused(void **state)
{
    (void)state;
    struct peer *p = peer_start(ANSWER);
    struct hastls_agent_client *c = hastls_agent_client_new(path, 2000);
    struct hastls_answer *ans[3];
    assert_int_equal(hastls_agent_client_lookup(c, three, 3, ans), HASTLS_AGENT_ANSWERED);
    for (int i = 0; i < 3; i++)
        hastls_agent_answer_free(ans[i]);
    /* Find the client's socket: the one connected to the agent's path. */
    int mine = -1;
    for (int fd = 3; fd < 256 && mine < 0; fd++) {
        struct sockaddr_un sa;
        socklen_t sl = sizeof sa;
        if (getpeername(fd, (struct sockaddr *)&sa, &sl) == 0 &&
            sa.sun_family == AF_UNIX && !strcmp(sa.sun_path, path))
            mine = fd;
    }
    assert_true(mine >= 0);
    int pipes[2];
    assert_int_equal(pipe(pipes), 0);
    assert_int_equal(dup2(pipes[0], mine), mine); /* the program's now */
    assert_int_equal(hastls_agent_client_lookup(c, three, 3, ans), HASTLS_AGENT_ANSWERED);
    for (int i = 0; i < 3; i++)
        hastls_agent_answer_free(ans[i]);
    assert_int_equal(__atomic_load_n(&p->accepted, __ATOMIC_SEQ_CST), 2);
    hastls_agent_client_free(c);
    /* Still open, and nothing was written into the program's pipe. */
    struct stat st;
    assert_int_equal(fstat(mine, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(write(pipes[1], "x", 1), 1);
    char got[4];
    assert_int_equal(read(mine, got, sizeof got), 1);
    close(mine);
    close(pipes[0]);
    close(pipes[1]);
    peer_stop(p);
}

/* Both ends check that the other runs as the same user. */
static void peer_credentials(void **state)
{
    (void)state;
    int sp[2];
    unsigned uid = 12345;
    int pid = 0;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    assert_int_equal(hastls_agent_peer_ok(sp[0], &uid, &pid), 1);
    assert_int_equal(uid, geteuid());
    assert_int_equal(pid, getpid());
    close(sp[0]);
    close(sp[1]);
    if (geteuid() != 0)
        skip(); /* another uid needs root */
    /* An "agent" of uid 4242, reached by root (who may enter any directory):
     * the client refuses it, and it sees a peer that is not its user. */
    char sub[80], other[100];
    snprintf(sub, sizeof sub, "%s/other", dir);
    snprintf(other, sizeof other, "%s/agent.sock", sub);
    assert_int_equal(mkdir(sub, 0777), 0);
    assert_int_equal(chmod(sub, 0777), 0);
    assert_int_equal(chmod(dir, 0711), 0); /* uid 4242 passes through */
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", other);
        int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (setgid(4242) < 0 || setuid(4242) < 0 || lfd < 0 ||
            bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4) < 0)
            _exit(2);
        if (write(ready[1], "x", 1) != 1)
            _exit(2);
        int fd = accept(lfd, NULL, NULL);
        unsigned peer_uid = 1;
        _exit(fd >= 0 && !hastls_agent_peer_ok(fd, &peer_uid, NULL) && peer_uid == 0 ? 0
                                                                                     : 1);
    }
    char x;
    close(ready[1]);
    assert_int_equal(read(ready[0], &x, 1), 1);
    struct hastls_agent_client *c = hastls_agent_client_new(other, 1000);
    struct hastls_answer *ans[3];
    assert_int_equal(hastls_agent_client_lookup(c, three, 3, ans), HASTLS_AGENT_BROKEN);
    assert_null(ans[0]);
    hastls_agent_client_free(c);
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    close(ready[0]);
    unlink(other);
    rmdir(sub);
    chmod(dir, 0700);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(answers_rebuilt),   cmocka_unit_test(no_agent),
        cmocka_unit_test(unsuited_requests), cmocka_unit_test(broken_agents),
        cmocka_unit_test(out_of_order),      cmocka_unit_test(child_after_fork),
        cmocka_unit_test(descriptor_reused), cmocka_unit_test(peer_credentials),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
