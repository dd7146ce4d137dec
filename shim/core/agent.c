/* shim/core/agent.c: the client of the user's agent (see agent.h).
 *
 * libc only: this runs inside other people's programs.  Locks: C->mu guards a
 * client's connection and its list of waiting requests (held while writing a
 * request, never while reading); glue.spawn_mu guards starting an agent and
 * the back-off.  A process has two clients: its own socket's and the fixed
 * activated socket's (rundir.h), whose mu comes after the first's.  Both are in the fork
 * list (shim/core/locks.h) through hastls_agent_fork_*; neither is taken while holding
 * the other except by those handlers (spawn_mu first).
 */
#include "shim/core/agent.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policy/agentwire.h"
#include "policy/dnswire.h"
#include "shim/core/log.h"
#include "shim/core/real.h"
#include "shim/core/rundir.h"

/* The agent's own lookups end at timeout_ms; its answer may take this much
 * longer to reach us. */
#define AGENT_GRACE_MS 500
/* How long the first lookup waits for an agent it started. */
#define AGENT_START_WAIT_MS 200
/* After an agent failed us: in-process lookups only, for this long. */
#define AGENT_BACKOFF_MS 1000
/* At most one start per process in this time, doubled after each start
 * that did not lead to an answer (a program whose configuration no longer
 * matches the file starts agents that serve another name), up to the most. */
#define AGENT_RESTART_MS 1000
#define AGENT_RESTART_MAX_MS 64000

extern char **environ;

/* ---- time and descriptors ------------------------------------------------ */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int left_ms(uint64_t deadline)
{
    uint64_t now = now_ms();
    return now >= deadline ? 0 : (int)(deadline - now);
}

/* Waits for EVENTS on FD until DEADLINE: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, left_ms(deadline));
        if (n > 0)
            return (p.revents & (events | POLLHUP | POLLERR)) ? 1 : -1;
        if (n == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

static int send_all(int fd, const uint8_t *buf, size_t len, uint64_t deadline)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(fd, POLLOUT, deadline) != 1)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* Reads exactly LEN bytes: 0, or -1 (end of stream, error, deadline). */
static int read_exact(int fd, uint8_t *buf, size_t len, uint64_t deadline)
{
    while (len) {
        ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n == 0) {
            return -1;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(fd, POLLIN, deadline) != 1)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* One frame's body, newly allocated: 0, or -1 for anything but a frame. */
static int read_frame(int fd, uint64_t deadline, uint8_t **body, size_t *len)
{
    uint8_t prefix[HASTLS_AGENT_FRAME_PREFIX];
    *body = NULL;
    if (read_exact(fd, prefix, sizeof prefix, deadline) < 0 ||
        hastls_agent_frame_len(prefix, sizeof prefix, HASTLS_AGENT_MAX_BODY, len) != 1)
        return -1;
    *body = malloc(*len);
    if (!*body || read_exact(fd, *body, *len, deadline) < 0) {
        free(*body);
        *body = NULL;
        return -1;
    }
    return 0;
}

/* ---- answers ------------------------------------------------------------- */

/* One allocation: the answer, its records, its packet. */
static struct hastls_answer *answer_make(uint16_t qtype, enum hastls_sec status,
                                         int rcode, uint32_t ttl, const char *qname,
                                         const char *canonname, const char *reason,
                                         const uint8_t *packet, size_t packet_len)
{
    size_t n = 0, total = 0;
    /* As the resolver does: records only from a packet of an answer that
     * did not fail, and none from a packet that does not parse. */
    int with_rr =
        packet_len && status != HASTLS_SEC_FAILED &&
        hastls_dns_answer_records(packet, packet_len, qtype, NULL, 0, &n, &total) == 0;
    if (!with_rr)
        total = 0;
    struct hastls_answer *a =
        malloc(sizeof *a + total * sizeof(struct hastls_rr) + packet_len);
    if (!a)
        return NULL;
    memset(a, 0, sizeof *a);
    a->qtype = qtype;
    a->status = status;
    a->rcode = rcode;
    a->ttl = ttl;
    snprintf(a->qname, sizeof a->qname, "%s", qname);
    snprintf(a->canonname, sizeof a->canonname, "%s", canonname);
    snprintf(a->reason, sizeof a->reason, "%s", reason);
    struct hastls_rr *rr = (struct hastls_rr *)(a + 1);
    if (packet_len) {
        a->packet = (uint8_t *)(rr + total);
        memcpy(a->packet, packet, packet_len);
        a->packet_len = packet_len;
    }
    if (total) {
        a->rr = rr;
        if (hastls_dns_answer_records(a->packet, a->packet_len, qtype, rr, total,
                                      &a->n_rr, NULL) < 0)
            a->n_rr = 0;
    }
    return a;
}

void hastls_agent_answer_free(struct hastls_answer *a)
{
    free(a);
}

struct hastls_answer *hastls_agent_answer_copy(const struct hastls_answer *a)
{
    return answer_make(a->qtype, a->status, a->rcode, a->ttl, a->qname, a->canonname,
                       a->reason, a->packet, a->packet ? a->packet_len : 0);
}

/* ---- the client ---------------------------------------------------------- */

struct waiter {
    uint32_t id;
    int state; /* 0 waiting, 1 answered, -1 failed */
    uint8_t *body;
    size_t len;
    struct waiter *next;
};

struct hastls_agent_client {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC; a frame was handed out or the reader left */
    struct sockaddr_un addr;
    unsigned wait_ms;
    int fd;     /* -1: not connected */
    dev_t dev;  /* the socket's identity: a program that closed our */
    ino_t ino;  /* descriptor and reused its number is not written to */
    pid_t pid;  /* the process that connected */
    pid_t peer; /* the agent's pid in our pid namespace (SO_PEERCRED) */
    int reader; /* a thread is reading frames, without MU */
    uint32_t next_id;
    struct waiter *waiters;
};

static void client_init_sync(struct hastls_agent_client *c)
{
    pthread_condattr_t ca;
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
}

struct hastls_agent_client *hastls_agent_client_new(const char *path, unsigned wait_ms)
{
    struct hastls_agent_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    size_t len = strlen(path);
    if (len >= sizeof c->addr.sun_path) {
        free(c);
        return NULL;
    }
    c->addr.sun_family = AF_UNIX;
    memcpy(c->addr.sun_path, path, len + 1);
    c->wait_ms = wait_ms;
    c->fd = -1;
    client_init_sync(c);
    return c;
}

static int fd_is(int fd, dev_t dev, ino_t ino)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev &&
           st.st_ino == ino;
}

static int fd_is_ours(const struct hastls_agent_client *c)
{
    return fd_is(c->fd, c->dev, c->ino);
}

/* Fails every waiting request (they fall back to the process's resolver). */
static void fail_waiters(struct hastls_agent_client *c)
{
    for (struct waiter *w = c->waiters; w; w = w->next)
        if (w->state == 0)
            w->state = -1;
    pthread_cond_broadcast(&c->cv);
}

/* Ends the connection.  A reader still busy with the descriptor closes it
 * when it comes back (it sees that c->fd changed). */
static void drop_locked(struct hastls_agent_client *c)
{
    if (c->fd >= 0 && !c->reader && fd_is_ours(c))
        close(c->fd);
    c->fd = -1;
    fail_waiters(c);
}

void hastls_agent_client_forget(struct hastls_agent_client *c)
{
    /* The parent's threads do not exist here: their waiters and the reader
     * role go with them. */
    if (c->fd >= 0 && fd_is_ours(c))
        close(c->fd);
    c->fd = -1;
    c->reader = 0;
    c->waiters = NULL;
}

void hastls_agent_client_free(struct hastls_agent_client *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    drop_locked(c);
    pthread_mutex_unlock(&c->mu);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int hastls_agent_peer_ok(int fd, unsigned *uid, int *pid)
{
    struct ucred cred;
    socklen_t cl = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cl != sizeof cred)
        return 0;
    if (uid)
        *uid = (unsigned)cred.uid;
    if (pid)
        *pid = (int)cred.pid;
    return cred.uid == geteuid();
}

static enum hastls_agent_result connect_locked(struct hastls_agent_client *c)
{
    int (*real_connect)(int, const struct sockaddr *, socklen_t) = HASTLS_REAL(connect);
    if (!real_connect)
        return HASTLS_AGENT_ABSENT;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return HASTLS_AGENT_ABSENT;
    /* Non-blocking: a full backlog is EAGAIN, not a wait. */
    if (real_connect(fd, (const struct sockaddr *)&c->addr, sizeof c->addr) < 0) {
        int busy = errno == EAGAIN;
        close(fd);
        return busy ? HASTLS_AGENT_BUSY : HASTLS_AGENT_ABSENT;
    }
    struct stat st;
    int peer = 0;
    if (!hastls_agent_peer_ok(fd, NULL, &peer) || fstat(fd, &st) < 0) {
        hastls_log(HASTLS_LOG_DEBUG, "agent %s: not this user's; not used",
                   c->addr.sun_path);
        close(fd);
        return HASTLS_AGENT_BROKEN;
    }
    c->fd = fd;
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    c->pid = getpid();
    c->peer = (pid_t)peer;
    return HASTLS_AGENT_ANSWERED;
}

pid_t hastls_agent_client_peer(struct hastls_agent_client *c)
{
    pthread_mutex_lock(&c->mu);
    pid_t p = c->fd >= 0 && c->pid == getpid() ? c->peer : 0;
    pthread_mutex_unlock(&c->mu);
    return p;
}

/* A usable connection, opening one when needed. */
static enum hastls_agent_result connection_locked(struct hastls_agent_client *c)
{
    if (c->fd >= 0 && c->pid != getpid()) /* a child the atfork handler missed */
        hastls_agent_client_forget(c);
    if (c->fd >= 0 && !fd_is_ours(c)) {
        c->fd = -1; /* the program closed it; the number is not ours now */
        fail_waiters(c);
    }
    if (c->fd >= 0 && !c->reader && !c->waiters) {
        /* Idle: anything readable now is the agent closing (it exited). */
        struct pollfd p = {c->fd, POLLIN, 0};
        if (poll(&p, 1, 0) != 0)
            drop_locked(c);
    }
    return c->fd >= 0 ? HASTLS_AGENT_ANSWERED : connect_locked(c);
}

/* Hands a frame read by the reader to the request it answers. */
static void dispatch_locked(struct hastls_agent_client *c, uint8_t *body, size_t len)
{
    enum hastls_agent_op op;
    uint32_t id;
    if (hastls_agent_body_id(body, len, &op, &id) < 0) {
        free(body);
        drop_locked(c); /* garbage: nothing more on this stream can be trusted */
        return;
    }
    for (struct waiter *w = c->waiters; w; w = w->next)
        if (w->id == id && w->state == 0) {
            w->state = 1;
            w->body = body;
            w->len = len;
            return;
        }
    free(body); /* the answer to a request that stopped waiting */
}

static void unlink_waiter(struct hastls_agent_client *c, struct waiter *me)
{
    for (struct waiter **p = &c->waiters; *p; p = &(*p)->next)
        if (*p == me) {
            *p = me->next;
            return;
        }
}

/* Sends FRAME (its id, assigned here into bytes 8-11 of the frame, in *ID)
 * and waits for the answer's body. */
static enum hastls_agent_result roundtrip(struct hastls_agent_client *c, uint8_t *frame,
                                          size_t flen, uint32_t *id, uint8_t **body,
                                          size_t *blen)
{
    uint64_t deadline = now_ms() + c->wait_ms;
    struct timespec until = {(time_t)(deadline / 1000),
                             (long)(deadline % 1000) * 1000000};
    struct waiter me = {0};
    *body = NULL;
    pthread_mutex_lock(&c->mu);
    enum hastls_agent_result r = connection_locked(c);
    if (r != HASTLS_AGENT_ANSWERED) {
        pthread_mutex_unlock(&c->mu);
        return r;
    }
    do
        me.id = ++c->next_id;
    while (me.id == 0);
    *id = me.id;
    for (int i = 0; i < 4; i++)
        frame[HASTLS_AGENT_FRAME_PREFIX + 4 + i] = (uint8_t)(me.id >> (8 * (3 - i)));
    me.next = c->waiters;
    c->waiters = &me;
    if (send_all(c->fd, frame, flen, deadline) < 0)
        drop_locked(c);
    while (me.state == 0) {
        if (!c->reader) {
            int fd = c->fd;
            dev_t dev = c->dev;
            ino_t ino = c->ino;
            uint8_t *got;
            size_t glen;
            c->reader = 1;
            pthread_mutex_unlock(&c->mu);
            int rr = read_frame(fd, deadline, &got, &glen);
            pthread_mutex_lock(&c->mu);
            c->reader = 0;
            if (fd != c->fd) { /* dropped meanwhile: its close was left to us */
                free(got);
                if (fd_is(fd, dev, ino))
                    close(fd);
            } else if (rr < 0) {
                drop_locked(c); /* died, timed out or sent a bad frame */
            } else {
                dispatch_locked(c, got, glen);
            }
            pthread_cond_broadcast(&c->cv);
        } else if (pthread_cond_timedwait(&c->cv, &c->mu, &until) == ETIMEDOUT &&
                   me.state == 0) {
            me.state = -1;
        }
    }
    unlink_waiter(c, &me);
    pthread_mutex_unlock(&c->mu);
    if (me.state != 1)
        return HASTLS_AGENT_BROKEN;
    *body = me.body;
    *blen = me.len;
    return HASTLS_AGENT_ANSWERED;
}

/* A frame that turned out to be garbage: the connection goes. */
static enum hastls_agent_result garbage(struct hastls_agent_client *c)
{
    pthread_mutex_lock(&c->mu);
    if (c->fd >= 0 && c->pid == getpid())
        drop_locked(c);
    pthread_mutex_unlock(&c->mu);
    hastls_log(HASTLS_LOG_DEBUG, "agent %s: malformed answer", c->addr.sun_path);
    return HASTLS_AGENT_BROKEN;
}

enum hastls_agent_result hastls_agent_client_lookup(struct hastls_agent_client *c,
                                                    const struct hastls_query *q,
                                                    size_t nq, struct hastls_answer **ans)
{
    for (size_t i = 0; i < nq; i++)
        ans[i] = NULL;
    if (nq == 0 || nq > HASTLS_AGENT_MAX_QUERIES)
        return HASTLS_AGENT_UNSUITED;
    /* On the heap: 2 KiB of names, and this is the miss path. */
    struct hastls_agent_request *req = calloc(1, sizeof *req);
    if (!req)
        return HASTLS_AGENT_UNSUITED;
    enum hastls_agent_result r = HASTLS_AGENT_UNSUITED;
    uint8_t *frame = NULL, *body = NULL;
    struct hastls_agent_answer *got = NULL;
    size_t fcap = HASTLS_AGENT_FRAME_PREFIX + 9 + nq * (3 + HASTLS_NAME_MAX);
    req->op = HASTLS_AGENT_OP_LOOKUP;
    req->nq = nq;
    for (size_t i = 0; i < nq; i++) {
        req->q[i].qtype = q[i].type;
        if (snprintf(req->q[i].name, sizeof req->q[i].name, "%s", q[i].name) >=
            (int)sizeof req->q[i].name)
            goto out;
    }
    frame = malloc(fcap);
    size_t flen = frame ? hastls_agent_request_encode(req, frame, fcap) : 0;
    if (!flen || !(got = calloc(nq, sizeof *got)))
        goto out;
    uint32_t id;
    size_t blen, n = 0;
    r = roundtrip(c, frame, flen, &id, &body, &blen);
    if (r != HASTLS_AGENT_ANSWERED)
        goto out;
    if (hastls_agent_response_decode(body, blen, HASTLS_AGENT_OP_LOOKUP, id, got, nq, &n,
                                     NULL, NULL) < 0 ||
        n != nq) {
        r = garbage(c);
        goto out;
    }
    for (size_t i = 0; i < nq; i++)
        if (got[i].qtype != req->q[i].qtype || strcmp(got[i].qname, req->q[i].name)) {
            r = garbage(c);
            goto out;
        }
    for (size_t i = 0; i < nq; i++) {
        const struct hastls_agent_answer *g = &got[i];
        ans[i] = answer_make(g->qtype, g->status, g->rcode, g->ttl, g->qname,
                             g->canonname, g->reason, g->packet, g->packet_len);
        if (!ans[i]) {
            for (size_t k = 0; k < i; k++) {
                free(ans[k]);
                ans[k] = NULL;
            }
            r = HASTLS_AGENT_UNSUITED;
            goto out;
        }
    }
out:
    free(got);
    free(body);
    free(frame);
    free(req);
    return r;
}

/* STATUS or STOP: a request without queries. */
static enum hastls_agent_result simple_request(struct hastls_agent_client *c,
                                               enum hastls_agent_op op, char *out,
                                               size_t outlen)
{
    struct hastls_agent_request req = {.op = op};
    uint8_t frame[64];
    size_t flen = hastls_agent_request_encode(&req, frame, sizeof frame), blen;
    uint32_t id;
    uint8_t *body;
    const char *text = NULL;
    size_t tl = 0;
    enum hastls_agent_result r = roundtrip(c, frame, flen, &id, &body, &blen);
    if (r != HASTLS_AGENT_ANSWERED)
        return r;
    if (hastls_agent_response_decode(body, blen, op, id, NULL, 0, NULL, &text, &tl) < 0) {
        free(body);
        return garbage(c);
    }
    if (out && outlen)
        snprintf(out, outlen, "%.*s", (int)(tl < INT_MAX ? tl : 0), text ? text : "");
    free(body);
    return r;
}

enum hastls_agent_result hastls_agent_client_status(struct hastls_agent_client *c,
                                                    char *out, size_t len)
{
    return simple_request(c, HASTLS_AGENT_OP_STATUS, out, len);
}

enum hastls_agent_result hastls_agent_client_stop(struct hastls_agent_client *c)
{
    return simple_request(c, HASTLS_AGENT_OP_STOP, NULL, 0);
}

/* ---- the process's agent ------------------------------------------------- */

static struct {
    pthread_once_t once;
    int enabled;
    hastls_local_resolver_fn local;
    struct hastls_agent_client *client; /* this process's own socket */
    /* The fixed socket of an activated agent (rundir.h), used only once its
     * key was seen to be NAME (FIXED_SAME). */
    struct hastls_agent_client *fixed;
    int fixed_state; /* enum fixed_state, read and written atomically */
    char name[64];
    char bin[HASTLS_PATH_MAX];  /* the hastls to start; "" when there is none */
    char conf[HASTLS_PATH_MAX]; /* the configuration file, absolute; "" for built-in */
    enum hastls_privacy privacy;
    pthread_mutex_t spawn_mu; /* guards the fields below */
    uint64_t backoff_until;   /* also read without the lock (atomically) */
    uint64_t last_start;
    uint64_t restart_ms; /* the least time before the next start */
    int answered;        /* since the last start (written without the lock) */
    pid_t child;         /* a started hastls not yet reaped */
} glue = {.once = PTHREAD_ONCE_INIT,
          .spawn_mu = PTHREAD_MUTEX_INITIALIZER,
          .restart_ms = AGENT_RESTART_MS};

enum fixed_state {
    FIXED_UNKNOWN, /* not asked yet, or nobody listened */
    FIXED_SAME,    /* it said our key: used when our own socket has nobody */
    FIXED_OTHER,   /* another key (or none): never used by this process */
};

/* What glue_init() works from: set by the thread that runs it (pthread_once
 * runs it in the calling thread), so no shared variable is written again on
 * every call.  initial-exec: no allocation on access. */
static __thread const struct hastls_config *init_cfg
    __attribute__((tls_model("initial-exec")));
static __thread hastls_local_resolver_fn init_local
    __attribute__((tls_model("initial-exec")));

/* fork() handling, called from state.c's handlers through the one lock list
 * (shim/core/locks.h).  The client is taken as it was at prepare, so the
 * parent and the child release exactly what was locked even if another
 * thread made the client meanwhile. */
static struct hastls_agent_client *fork_client, *fork_fixed;

void hastls_agent_fork_prepare(void)
{
    pthread_mutex_lock(&glue.spawn_mu);
    fork_client = __atomic_load_n(&glue.client, __ATOMIC_ACQUIRE);
    fork_fixed = __atomic_load_n(&glue.fixed, __ATOMIC_ACQUIRE);
    if (fork_client)
        pthread_mutex_lock(&fork_client->mu);
    if (fork_fixed)
        pthread_mutex_lock(&fork_fixed->mu);
}

void hastls_agent_fork_parent(void)
{
    if (fork_fixed)
        pthread_mutex_unlock(&fork_fixed->mu);
    if (fork_client)
        pthread_mutex_unlock(&fork_client->mu);
    pthread_mutex_unlock(&glue.spawn_mu);
}

void hastls_agent_fork_child(void)
{
    if (fork_client) {
        client_init_sync(fork_client);
        hastls_agent_client_forget(fork_client);
    }
    if (fork_fixed) {
        client_init_sync(fork_fixed);
        hastls_agent_client_forget(fork_fixed);
    }
    pthread_mutex_init(&glue.spawn_mu, NULL);
    glue.child = 0; /* the parent's child, not ours */
}

/* The hastls program: next to libhastls.so (a build tree), else the
 * installed one. */
static void find_binary(char *out, size_t len)
{
    Dl_info info;
    out[0] = '\0';
    if (dladdr((void *)find_binary, &info) && info.dli_fname &&
        strchr(info.dli_fname, '/')) {
        const char *slash = strrchr(info.dli_fname, '/');
        int n = snprintf(out, len, "%.*s/hastls", (int)(slash - info.dli_fname),
                         info.dli_fname);
        if (n > 0 && (size_t)n < len && access(out, X_OK) == 0)
            return;
    }
    int n = snprintf(out, len, "%s/hastls", HASTLS_BINDIR);
    if (n <= 0 || (size_t)n >= len || access(out, X_OK) != 0)
        out[0] = '\0';
}

static void glue_init(void)
{
    const struct hastls_config *cfg = init_cfg;
    glue.local = init_local;
    char dir[HASTLS_PATH_MAX], err[512], name[64], path[HASTLS_PATH_MAX];
    if (cfg->agent != HASTLS_AGENT_AUTO || getauxval(AT_SECURE))
        return;
    int dfd = hastls_rundir_open(dir, sizeof dir, err, sizeof err);
    if (dfd < 0) {
        hastls_log(HASTLS_LOG_DEBUG, "no agent: %s", err);
        return;
    }
    close(dfd);
    if (hastls_agent_name(cfg, name, sizeof name) < 0)
        return;
    int n = snprintf(path, sizeof path, "%s/%s.sock", dir, name);
    if (n <= 0 || (size_t)n >= sizeof path)
        return;
    struct hastls_agent_client *client =
        hastls_agent_client_new(path, cfg->timeout_ms + AGENT_GRACE_MS);
    if (!client) {
        hastls_log(HASTLS_LOG_DEBUG, "no agent: %s: path too long for a socket", path);
        return;
    }
    snprintf(glue.name, sizeof glue.name, "%s", name);
    n = snprintf(path, sizeof path, "%s/%s", dir, HASTLS_AGENT_ACTIVATED_SOCKET);
    if (n > 0 && (size_t)n < sizeof path)
        __atomic_store_n(&glue.fixed,
                         hastls_agent_client_new(path, cfg->timeout_ms + AGENT_GRACE_MS),
                         __ATOMIC_RELEASE); /* NULL: without it */
    find_binary(glue.bin, sizeof glue.bin);
    /* The agent must read the same file: a relative HASTLS_CONF means
     * nothing to a process started elsewhere. */
    if (cfg->source[0] && !realpath(cfg->source, glue.conf))
        glue.bin[0] = '\0';
    glue.privacy = cfg->privacy;
    __atomic_store_n(&glue.client, client, __ATOMIC_RELEASE);
    glue.enabled = 1;
}

static int skipped_variable(const char *v)
{
    static const char *const names[] = {
        "LD_PRELOAD=", "HASTLS_CONF=", "HASTLS_APP=", "HASTLS_MODE="};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strncmp(v, names[i], strlen(names[i])))
            return 1;
    return 0;
}

/* Starts `hastls agent` in a new session with nothing of ours: descriptors
 * 0-2 on /dev/null and no others, default signal dispositions, an empty
 * mask, this environment without the shim and with HASTLS_CONF naming our
 * file.  It detaches itself (forks again) once its socket listens.
 * posix_spawn, not fork: the program's atfork handlers must not run, and it
 * is safe in a multithreaded process.  Returns the pid, or -1. */
static pid_t spawn_agent(void)
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **envp = calloc(n + 2, sizeof *envp);
    char confvar[HASTLS_PATH_MAX + 16];
    if (!envp)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!skipped_variable(environ[i]))
            envp[k++] = environ[i];
    if (glue.conf[0]) {
        snprintf(confvar, sizeof confvar, "HASTLS_CONF=%s", glue.conf);
        envp[k++] = confvar;
    }
    envp[k] = NULL;
    char privacy[32];
    snprintf(privacy, sizeof privacy, "%s", hastls_privacy_name(glue.privacy));
    char *argv[] = {glue.bin, "agent", "--privacy", privacy, NULL};

    posix_spawnattr_t attr;
    posix_spawn_file_actions_t fa;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    pid_t pid = -1;
    if (posix_spawnattr_init(&attr) != 0) {
        free(envp);
        return -1;
    }
    if (posix_spawn_file_actions_init(&fa) != 0) {
        posix_spawnattr_destroy(&attr);
        free(envp);
        return -1;
    }
    int ok = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                                 POSIX_SPAWN_SETSIGDEF) == 0 &&
             posix_spawnattr_setsigmask(&attr, &none) == 0 &&
             posix_spawnattr_setsigdefault(&attr, &all) == 0 &&
             posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) == 0 &&
             posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0) == 0 &&
             posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0) == 0 &&
             posix_spawn_file_actions_addclosefrom_np(&fa, 3) == 0;
    if (ok && posix_spawn(&pid, glue.bin, &fa, &attr, argv, envp) != 0)
        pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(envp);
    return pid;
}

/* Waits until the started hastls exits (its agent then listens, or another
 * one does) or WAIT_MS pass; reaps it when it has exited. */
static void wait_started(pid_t pid, unsigned wait_ms)
{
    uint64_t deadline = now_ms() + wait_ms;
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR)) { /* ECHILD: the program reaped it */
            glue.child = 0;
            break;
        }
        if (left_ms(deadline) == 0) {
            glue.child = pid; /* reaped by a later call */
            break;
        }
        if (pfd >= 0) {
            wait_fd(pfd, POLLIN, deadline);
        } else {
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (pfd >= 0)
        close(pfd);
}

/* Starts an agent unless one was started within glue.restart_ms; with WAIT,
 * waits briefly for it.  Returns 0 when an agent was started now or
 * recently (worth connecting again), -1 when none can be. */
static int start_agent(int wait)
{
    int rc = -1;
    pthread_mutex_lock(&glue.spawn_mu);
    if (glue.child > 0) {
        int st;
        pid_t w = waitpid(glue.child, &st, WNOHANG);
        if (w == glue.child || w < 0)
            glue.child = 0;
    }
    uint64_t now = now_ms();
    if (glue.last_start && now - glue.last_start < glue.restart_ms) {
        rc = 0;
    } else if (glue.bin[0] && glue.child == 0) {
        int answered = __atomic_load_n(&glue.answered, __ATOMIC_ACQUIRE);
        if (!glue.last_start || answered)
            glue.restart_ms = AGENT_RESTART_MS;
        else if (glue.restart_ms < AGENT_RESTART_MAX_MS)
            glue.restart_ms *= 2;
        __atomic_store_n(&glue.answered, 0, __ATOMIC_RELEASE);
        glue.last_start = now;
        pid_t pid = spawn_agent();
        if (pid > 0) {
            hastls_log(HASTLS_LOG_DEBUG, "started an agent (%s, pid %d)", glue.bin,
                       (int)pid);
            if (wait)
                wait_started(pid, AGENT_START_WAIT_MS);
            else
                glue.child = pid;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&glue.spawn_mu);
    return rc;
}

static int backing_off(void)
{
    return now_ms() < __atomic_load_n(&glue.backoff_until, __ATOMIC_ACQUIRE);
}

static void back_off(void)
{
    __atomic_store_n(&glue.backoff_until, now_ms() + AGENT_BACKOFF_MS, __ATOMIC_RELEASE);
}

/* The lookup in the process's own resolver, its answers copied into this
 * module's layout (the caller frees them all alike). */
static int local_lookup(const struct hastls_query *q, size_t nq,
                        struct hastls_answer **ans)
{
    const struct hastls_resolver_api *api;
    struct hastls_resolver *r;
    if (glue.local(&api, &r) < 0) {
        /* Already logged; the lookup fails as it would without an agent. */
        for (size_t i = 0; i < nq; i++) {
            ans[i] =
                answer_make(q[i].type, HASTLS_SEC_FAILED, -1, 0, q[i].name, q[i].name,
                            "no agent answered and the resolver cannot start", NULL, 0);
            if (!ans[i])
                goto oom;
        }
        return 0;
    }
    struct hastls_answer *tmp[HASTLS_AGENT_MAX_QUERIES];
    struct hastls_answer **mine = nq <= HASTLS_AGENT_MAX_QUERIES ? tmp : NULL;
    if (!mine)
        mine = calloc(nq, sizeof *mine);
    if (!mine || api->lookup(r, q, nq, mine) < 0) {
        if (mine != tmp)
            free(mine);
        return -1;
    }
    int failed = 0;
    for (size_t i = 0; i < nq; i++) {
        ans[i] = failed ? NULL : hastls_agent_answer_copy(mine[i]);
        failed |= !ans[i];
        api->answer_free(mine[i]);
    }
    if (mine != tmp)
        free(mine);
    if (!failed)
        return 0;
oom:
    for (size_t i = 0; i < nq; i++) {
        free(ans[i]);
        ans[i] = NULL;
    }
    return -1;
}

/* Closes C's connection, if this process made it. */
static void disconnect(struct hastls_agent_client *c)
{
    pthread_mutex_lock(&c->mu);
    if (c->fd >= 0 && c->pid == getpid())
        drop_locked(c);
    pthread_mutex_unlock(&c->mu);
}

/* Whether the agent on the fixed socket is one of ours: asked once (until it
 * answers), by its STATUS's key.  Another key, or none, or a malformed one,
 * is FIXED_OTHER for the rest of the process. */
static int fixed_is_ours(void)
{
    int st = __atomic_load_n(&glue.fixed_state, __ATOMIC_ACQUIRE);
    if (st != FIXED_UNKNOWN || !glue.fixed)
        return st == FIXED_SAME;
    char text[4096], key[64];
    if (hastls_agent_client_status(glue.fixed, text, sizeof text) !=
        HASTLS_AGENT_ANSWERED)
        return 0; /* nobody there (yet), or it failed: asked again later */
    int got = hastls_agent_status_field(text, strlen(text), "key", key, sizeof key);
    st = got == 1 && !strcmp(key, glue.name) ? FIXED_SAME : FIXED_OTHER;
    __atomic_store_n(&glue.fixed_state, st, __ATOMIC_RELEASE);
    if (st == FIXED_OTHER) {
        hastls_log(HASTLS_LOG_DEBUG, "agent %s serves %s, not %s: not used",
                   glue.fixed->addr.sun_path, got == 1 ? key : "no key", glue.name);
        disconnect(glue.fixed);
    }
    return st == FIXED_SAME;
}

/* One lookup through an agent: our own socket, else the activated one when
 * its key is ours, else an agent we start.  *FROM_FIXED says which answered
 * or failed. */
static enum hastls_agent_result agents_lookup(const struct hastls_query *q, size_t nq,
                                              struct hastls_answer **ans, int *from_fixed)
{
    enum hastls_agent_result r;
    *from_fixed = 0;
    if (__atomic_load_n(&glue.fixed_state, __ATOMIC_ACQUIRE) == FIXED_SAME) {
        *from_fixed = 1;
        r = hastls_agent_client_lookup(glue.fixed, q, nq, ans);
        if (r != HASTLS_AGENT_ABSENT)
            return r;
        /* Its socket is gone (the units were stopped): ask again next time. */
        __atomic_store_n(&glue.fixed_state, FIXED_UNKNOWN, __ATOMIC_RELEASE);
        *from_fixed = 0;
    }
    r = hastls_agent_client_lookup(glue.client, q, nq, ans);
    if (r == HASTLS_AGENT_ABSENT && fixed_is_ours()) {
        *from_fixed = 1;
        r = hastls_agent_client_lookup(glue.fixed, q, nq, ans);
        if (r != HASTLS_AGENT_ABSENT)
            return r;
        *from_fixed = 0;
    }
    if (r == HASTLS_AGENT_ABSENT && start_agent(1) == 0)
        r = hastls_agent_client_lookup(glue.client, q, nq, ans);
    return r;
}

static int agent_lookup(struct hastls_resolver *unused, const struct hastls_query *q,
                        size_t nq, struct hastls_answer **ans)
{
    (void)unused;
    if (!backing_off()) {
        int from_fixed;
        enum hastls_agent_result r = agents_lookup(q, nq, ans, &from_fixed);
        if (r == HASTLS_AGENT_ANSWERED) {
            if (!__atomic_load_n(&glue.answered, __ATOMIC_RELAXED))
                __atomic_store_n(&glue.answered, 1, __ATOMIC_RELEASE);
            return 0;
        }
        if (r != HASTLS_AGENT_UNSUITED) {
            hastls_log(HASTLS_LOG_DEBUG, "agent %s for %s; resolving in the process",
                       r == HASTLS_AGENT_ABSENT ? "unreachable"
                       : r == HASTLS_AGENT_BUSY ? "busy"
                                                : "failed",
                       q[0].name);
            /* One that died: the next lookup finds a new one (an activated
             * agent is started again by its service manager). */
            if (r == HASTLS_AGENT_BROKEN && !from_fixed)
                start_agent(0);
            back_off();
        }
    }
    return local_lookup(q, nq, ans);
}

static struct hastls_resolver *agent_create(const struct hastls_config *cfg,
                                            hastls_log_fn log, char *err, size_t errlen)
{
    (void)cfg;
    (void)log;
    snprintf(err, errlen, "the agent's resolver is made by hastls_agent_resolver()");
    return NULL;
}

static void agent_destroy(struct hastls_resolver *r)
{
    (void)r; /* process-wide: lives as long as the process */
}

static void agent_forget(struct hastls_resolver *r)
{
    (void)r;
    hastls_agent_client_forget(glue.client);
    if (glue.fixed)
        hastls_agent_client_forget(glue.fixed);
}

static void agent_stats(struct hastls_resolver *r, struct hastls_resolver_stats *out)
{
    (void)r;
    memset(out, 0, sizeof *out); /* the agent's own: hastls agent status */
}

static const struct hastls_resolver_api agent_api = {
    .version = HASTLS_RESOLVER_API_VERSION,
    .create = agent_create,
    .lookup = agent_lookup,
    .answer_free = hastls_agent_answer_free,
    .destroy = agent_destroy,
    .forget = agent_forget,
    .get_stats = agent_stats,
};

int hastls_agent_resolver(const struct hastls_config *cfg, hastls_local_resolver_fn local,
                          const struct hastls_resolver_api **api,
                          struct hastls_resolver **r)
{
    int saved = errno;
    init_cfg = cfg;
    init_local = local;
    pthread_once(&glue.once, glue_init);
    errno = saved;
    if (!glue.enabled)
        return -1;
    *api = &agent_api;
    *r = (struct hastls_resolver *)&glue;
    return 0;
}
