/* shim/resolver/dot.c: the in-process DNS-over-TLS transport (see dot.h).
 *
 * Everything below runs on the one event thread, except hastls_dot_stats,
 * hastls_dot_failures (which take D->MU) and the set-up and tear-down calls.
 * The thread blocks every signal: the program's handlers never run on it, and
 * a write to a connection the peer closed raises a SIGPIPE that stays pending
 * on this thread instead of killing the program.
 */
#include "shim/resolver/dot.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "policy/dnswire.h"

#define IDLE_CLOSE_MS 10000 /* close an upstream connection idle this long */
#define BACKOFF_MIN_MS 500  /* first back-off after a failure, doubling */
#define BACKOFF_MAX_MS 60000
#define HOLD_DOWN_MS 1000 /* never retried sooner after a failure, even alone */
#define MIN_ATTEMPT_MS 200
#define BUF_LIMIT (1u << 20) /* most bytes queued on one connection */
#define FAILURE_RING 32
#define MAX_ATTEMPTS (3 * HASTLS_MAX_UPSTREAMS)
/* Chain prefetch (see prefetch_chain): how many ancestors, closest to the
 * root, how many answers are kept, how long one is handed to libunbound and
 * how long it is not asked for again (libunbound caches it by then). */
#define PREFETCH_LEVELS 4
#define CHAIN_STORE_MAX 64
#define CHAIN_SERVE_MS 10000
#define CHAIN_FRESH_MS 300000
#define QUESTION_MAX (HASTLS_NAME_MAX + 4)

struct buf {
    uint8_t *p;
    size_t len, cap;
};

struct client {
    struct client *next;
    int fd;
    struct buf in, out;
};

enum conn_state { C_DOWN, C_CONNECTING, C_HANDSHAKING, C_READY };

struct conn {
    int up;  /* index into cfg->upstreams */
    int tls; /* 1: DoT to the upstream's port; 0: cleartext TCP to port 53 */
    struct sockaddr_storage sa;
    socklen_t salen;
    char label[96]; /* "127.0.0.53@853", for messages */
    int fd;
    SSL *ssl;
    enum conn_state st;
    int auth;       /* READY TLS connection is authenticated */
    int want_write; /* OpenSSL asked for writability */
    struct buf in, out;
    uint64_t deadline; /* connect / handshake deadline */
    uint64_t last_active;
    unsigned fails;
    uint64_t failed_at;
    uint64_t backoff_until;
    SSL_SESSION *sess; /* for resumption on the next connection */
};

struct query {
    struct query *next;
    struct client *cl; /* NULL when the client went away */
    uint8_t *msg;      /* as received, original ID */
    size_t len, qend;
    uint16_t orig_id, wire_id;
    int has_old_id; /* after a resend, an answer to the first ID counts too */
    uint16_t old_wire_id;
    unsigned attempt;
    struct conn *c; /* connection it waits for or was sent on */
    int sent;
    int reconnects;  /* tries again after the server closed the connection */
    int resends;     /* tries again after no answer on a live connection */
    int requeue;     /* marked by conn_requeue */
    int prefetch;    /* ours (chain prefetch), no client */
    uint64_t serial; /* unique, for FOLLOW */
    uint64_t follow; /* waits for the prefetch query with this serial */
    uint64_t attempt_deadline, deadline;
};

/* A prefetched DNSKEY or DS answer, keyed by its question (lower case). */
struct chain_entry {
    uint8_t question[QUESTION_MAX];
    size_t qlen;     /* 0: free slot */
    uint8_t *answer; /* NULL while the prefetch is in flight */
    size_t alen;
    uint64_t serve_until, fresh_until;
};

struct attempt {
    int up;
    int tls;
    int need_auth;
};

struct failure {
    uint64_t t;
    char text[400];
};

struct hastls_dot {
    const struct hastls_config *cfg;
    hastls_log_fn log;
    SSL_CTX *ssl_ctx;
    int lfd;
    int wake[2];
    pthread_t thread;
    int started;
    int stop; /* read and written with __atomic builtins */
    int extra_fd;
    void (*process)(void *);
    void *process_arg;
    struct conn conns[2 * HASTLS_MAX_UPSTREAMS]; /* [2u] TLS, [2u+1] cleartext */
    size_t nconns;
    struct attempt attempts[MAX_ATTEMPTS];
    unsigned nattempts;
    unsigned attempt_ms;
    struct client *clients;
    struct query *queries;
    uint64_t next_serial;
    int prefetch; /* chain prefetch on: libunbound validates */
    struct chain_entry chain[CHAIN_STORE_MAX];
    struct pollfd *pfd;
    void **pobj;
    size_t pcap;

    pthread_mutex_t mu; /* guards failures[] */
    struct failure failures[FAILURE_RING];
    unsigned nfail;
    struct hastls_resolver_stats stats; /* updated with __atomic builtins */
};

static int ex_index = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

uint64_t hastls_dot_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void logf_(struct hastls_dot *d, enum hastls_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void logf_(struct hastls_dot *d, enum hastls_log_level lvl, const char *fmt, ...)
{
    if (!d->log || lvl > d->cfg->log_level)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    d->log(lvl, msg);
}

static void stat_add(unsigned long *v)
{
    __atomic_fetch_add(v, 1, __ATOMIC_RELAXED);
}

/* ---- buffers ---- */

static int buf_append(struct buf *b, const void *data, size_t n)
{
    if (n > BUF_LIMIT || b->len > BUF_LIMIT - n)
        return -1;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

static void buf_consume(struct buf *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

static void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Appends MSG with its two-byte length prefix. */
static int buf_append_framed(struct buf *b, const uint8_t *msg, size_t len)
{
    uint8_t pre[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    size_t old = b->len;
    if (buf_append(b, pre, 2) < 0)
        return -1;
    if (buf_append(b, msg, len) < 0) {
        b->len = old;
        return -1;
    }
    return 0;
}

/* ---- failures, kept for the messages of failed lookups ---- */

static void record_failure(struct hastls_dot *d, struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void record_failure(struct hastls_dot *d, struct conn *c, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    logf_(d, HASTLS_LOG_WARN, "upstream %s: %s", c->label, why);
    pthread_mutex_lock(&d->mu);
    struct failure *f = &d->failures[d->nfail++ % FAILURE_RING];
    f->t = hastls_dot_now_ms();
    snprintf(f->text, sizeof f->text, "%s: %s", c->label, why);
    pthread_mutex_unlock(&d->mu);
}

unsigned hastls_dot_failures(struct hastls_dot *d, uint64_t since_ms, char *buf,
                             size_t buflen)
{
    unsigned n = 0;
    size_t o = 0;
    if (buflen)
        buf[0] = '\0';
    pthread_mutex_lock(&d->mu);
    unsigned total = d->nfail < FAILURE_RING ? d->nfail : FAILURE_RING;
    for (unsigned k = 0; k < total; k++) {
        const struct failure *f = &d->failures[(d->nfail - total + k) % FAILURE_RING];
        if (f->t < since_ms)
            continue;
        /* The same reason repeated (libunbound retries) is listed once. */
        int dup = 0;
        for (unsigned j = k + 1; j < total && !dup; j++) {
            const struct failure *g = &d->failures[(d->nfail - total + j) % FAILURE_RING];
            dup = g->t >= since_ms && !strcmp(g->text, f->text);
        }
        if (dup)
            continue;
        n++;
        if (o < buflen) {
            int w = snprintf(buf + o, buflen - o, "%s%s", o ? "; " : "", f->text);
            if (w > 0)
                o += (size_t)w;
        }
    }
    pthread_mutex_unlock(&d->mu);
    return n;
}

void hastls_dot_stats(struct hastls_dot *d, struct hastls_resolver_stats *out)
{
    out->tls_handshakes = __atomic_load_n(&d->stats.tls_handshakes, __ATOMIC_RELAXED);
    out->tls_resumptions = __atomic_load_n(&d->stats.tls_resumptions, __ATOMIC_RELAXED);
    out->queries_tls = __atomic_load_n(&d->stats.queries_tls, __ATOMIC_RELAXED);
    out->queries_cleartext =
        __atomic_load_n(&d->stats.queries_cleartext, __ATOMIC_RELAXED);
}

/* strerror(E) starting in lower case, to read well after "ADDR@PORT: ". */
static const char *errtext(int e, char *buf, size_t len)
{
    snprintf(buf, len, "%s", strerror(e));
    if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
        buf[0] = (char)(buf[0] + 32);
    return buf;
}

/* ---- set-up ---- */

static void ex_init(void)
{
    ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* TLS 1.3 delivers session tickets after the handshake; keep the newest one
 * per upstream for resumption.  A private copy: OpenSSL marks the connection's
 * own session object not resumable when the connection ends with an error
 * (a server closing without close_notify), which must not spoil the next
 * connection. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct conn *c = SSL_get_ex_data(ssl, ex_index);
    /* Only sessions of authenticated connections are kept (one arriving
     * during a TLS 1.2 handshake is dropped again if authentication fails),
     * so resuming one proves the server is the one authenticated before. */
    if (!c || (c->st == C_READY && !c->auth))
        return 0;
    SSL_SESSION *copy = SSL_SESSION_dup(sess);
    if (!copy)
        return 0;
    if (c->sess)
        SSL_SESSION_free(c->sess);
    c->sess = copy;
    return 0; /* the original reference stays with OpenSSL */
}

static void format_label(struct conn *c, const struct hastls_upstream *u, uint16_t port)
{
    char a[INET6_ADDRSTRLEN] = "?";
    if (u->family == AF_INET6) {
        inet_ntop(AF_INET6, &u->addr.v6, a, sizeof a);
        snprintf(c->label, sizeof c->label, "[%s]@%u", a, port);
    } else {
        inet_ntop(AF_INET, &u->addr.v4, a, sizeof a);
        snprintf(c->label, sizeof c->label, "%s@%u", a, port);
    }
}

static void conn_init(struct conn *c, int up, int tls, const struct hastls_upstream *u)
{
    memset(c, 0, sizeof *c);
    c->up = up;
    c->tls = tls;
    c->fd = -1;
    uint16_t port = tls ? u->port : 53;
    if (u->family == AF_INET6) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&c->sa;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(port);
        s->sin6_addr = u->addr.v6;
        c->salen = sizeof *s;
    } else {
        struct sockaddr_in *s = (struct sockaddr_in *)&c->sa;
        s->sin_family = AF_INET;
        s->sin_port = htons(port);
        s->sin_addr = u->addr.v4;
        c->salen = sizeof *s;
    }
    format_label(c, u, port);
}

struct hastls_dot *hastls_dot_new(const struct hastls_config *cfg, hastls_log_fn log,
                                  char *err, size_t errlen)
{
    pthread_once(&ex_once, ex_init);
    if (ex_index < 0) {
        snprintf(err, errlen, "OpenSSL: cannot allocate ex_data index");
        return NULL;
    }
    struct hastls_dot *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->cfg = cfg;
    d->log = log;
    d->lfd = d->wake[0] = d->wake[1] = d->extra_fd = -1;
    pthread_mutex_init(&d->mu, NULL);
    d->prefetch = cfg->trust_anchor[0] != '\0';
    d->attempt_ms = cfg->timeout_ms / 2;
    if (d->attempt_ms < MIN_ATTEMPT_MS)
        d->attempt_ms = MIN_ATTEMPT_MS;

    size_t n = cfg->n_upstreams;
    if (n > HASTLS_MAX_UPSTREAMS)
        n = HASTLS_MAX_UPSTREAMS;
    for (size_t u = 0; u < n; u++) {
        conn_init(&d->conns[2 * u], (int)u, 1, &cfg->upstreams[u]);
        conn_init(&d->conns[2 * u + 1], (int)u, 0, &cfg->upstreams[u]);
    }
    d->nconns = 2 * n;

    /* The order of transports the privacy profile allows (seed 004, 2.2). */
    unsigned k = 0;
    enum hastls_privacy p = cfg->privacy;
    if (p != HASTLS_PRIVACY_OFF)
        for (size_t u = 0; u < n; u++)
            d->attempts[k++] = (struct attempt){(int)u, 1, 1};
    if (p == HASTLS_PRIVACY_ENCRYPTED || p == HASTLS_PRIVACY_OPPORTUNISTIC)
        for (size_t u = 0; u < n; u++)
            d->attempts[k++] = (struct attempt){(int)u, 1, 0};
    if (p == HASTLS_PRIVACY_OPPORTUNISTIC || p == HASTLS_PRIVACY_OFF)
        for (size_t u = 0; u < n; u++)
            d->attempts[k++] = (struct attempt){(int)u, 0, 0};
    d->nattempts = k;

    if (p != HASTLS_PRIVACY_OFF) {
        SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx) {
            snprintf(err, errlen, "OpenSSL: cannot create a TLS context");
            goto fail;
        }
        d->ssl_ctx = ctx;
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        /* Verification result is checked after the handshake, so that the
         * encrypted profile can still use an unauthenticated connection and
         * every failure gets a precise message. */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
                                                SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, on_new_session);
        if (cfg->ca_bundle[0]) {
            if (SSL_CTX_load_verify_locations(ctx, cfg->ca_bundle, NULL) != 1) {
                unsigned long e = ERR_get_error();
                snprintf(err, errlen, "cannot load CA bundle %s: %s", cfg->ca_bundle,
                         e ? ERR_reason_error_string(e) : "unknown error");
                ERR_clear_error();
                goto fail;
            }
        } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            ERR_clear_error();
        }
    }
    return d;
fail:
    if (d->ssl_ctx)
        SSL_CTX_free(d->ssl_ctx);
    pthread_mutex_destroy(&d->mu);
    free(d);
    return NULL;
}

/* ---- peer check on the listener ---- */

static int same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
    return a->sin_family == AF_INET && b->sin_family == AF_INET &&
           a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
}

int hastls_dot_peer_is_self(int fd)
{
    struct sockaddr_in peer, local, a, b;
    socklen_t l = sizeof peer;
    if (getpeername(fd, (struct sockaddr *)&peer, &l) < 0 || l != sizeof peer ||
        peer.sin_family != AF_INET)
        return 0;
    l = sizeof local;
    if (getsockname(fd, (struct sockaddr *)&local, &l) < 0 || l != sizeof local)
        return 0;
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(dir)) != NULL) {
        char *end;
        long n = strtol(e->d_name, &end, 10);
        if (*end || end == e->d_name || n == fd || n == dirfd(dir) || n < 0 ||
            n > 1 << 30)
            continue;
        l = sizeof a;
        if (getsockname((int)n, (struct sockaddr *)&a, &l) < 0 || l != sizeof a ||
            !same_addr(&a, &peer))
            continue;
        l = sizeof b;
        if (getpeername((int)n, (struct sockaddr *)&b, &l) == 0 && l == sizeof b &&
            same_addr(&b, &local))
            found = 1;
    }
    closedir(dir);
    return found;
}

/* ---- queries ---- */

static void query_unlink(struct hastls_dot *d, struct query *q)
{
    for (struct query **pp = &d->queries; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    free(q->msg);
    free(q);
}

static void client_send(struct hastls_dot *d, struct client *cl, const uint8_t *msg,
                        size_t len)
{
    if (buf_append_framed(&cl->out, msg, len) < 0)
        logf_(d, HASTLS_LOG_WARN, "out of memory queuing an answer");
}

static void prefetch_done(struct hastls_dot *d, struct query *pf, const uint8_t *ans,
                          size_t alen);

/* No transport is left for Q: answer SERVFAIL so libunbound stops waiting. */
static void query_servfail(struct hastls_dot *d, struct query *q)
{
    uint8_t out[HASTLS_DNS_MAX_MSG];
    if (q->prefetch) {
        prefetch_done(d, q, NULL, 0);
        query_unlink(d, q);
        return;
    }
    logf_(d, HASTLS_LOG_DEBUG, "no transport left for a query: answering SERVFAIL");
    if (q->cl) {
        size_t n = hastls_dns_servfail(q->msg, q->qend, out, sizeof out);
        if (n)
            client_send(d, q->cl, out, n);
    }
    query_unlink(d, q);
}

static int conn_busy(struct hastls_dot *d, const struct conn *c)
{
    for (struct query *q = d->queries; q; q = q->next)
        if (q->c == c)
            return 1;
    return 0;
}

static uint16_t fresh_id(struct hastls_dot *d, const struct conn *c)
{
    for (;;) {
        uint16_t id;
        if (getrandom(&id, sizeof id, GRND_NONBLOCK) != sizeof id)
            id = (uint16_t)(hastls_dot_now_ms() * 40503u + (uintptr_t)&id);
        int clash = 0;
        for (struct query *q = d->queries; q && !clash; q = q->next)
            clash = q->c == c && q->sent &&
                    (q->wire_id == id || (q->has_old_id && q->old_wire_id == id));
        if (!clash)
            return id;
    }
}

/* Queues Q on the READY connection C.  Returns 0, or -1 (out of memory). */
static int query_send(struct hastls_dot *d, struct conn *c, struct query *q)
{
    static __thread uint8_t wire[HASTLS_DNS_MAX_MSG];
    size_t len;
    if (c->tls) {
        if (hastls_dns_pad(q->msg, q->len, HASTLS_DNS_PAD_BLOCK, wire, sizeof wire,
                           &len) < 0) {
            /* Cannot pad (signed or odd message): send it as it is. */
            memcpy(wire, q->msg, q->len);
            len = q->len;
        }
    } else {
        memcpy(wire, q->msg, q->len);
        len = q->len;
    }
    q->wire_id = fresh_id(d, c);
    hastls_dns_set_id(wire, q->wire_id);
    /* Checking Disabled: the upstream returns what it has even where its own
     * validation fails, so that our validator can say "bogus" and why
     * (RFC 4035 3.2.2), rather than seeing only SERVFAIL. */
    wire[3] |= 0x10;
    if (buf_append_framed(&c->out, wire, len) < 0)
        return -1;
    q->c = c;
    q->sent = 1;
    /* The first try on a connection gets half the attempt time, a resend
     * (see timers) the other half. */
    q->attempt_deadline = hastls_dot_now_ms() + d->attempt_ms / 2;
    stat_add(c->tls ? &d->stats.queries_tls : &d->stats.queries_cleartext);
    return 0;
}

static int conn_start(struct hastls_dot *d, struct conn *c);

static struct conn *attempt_conn(struct hastls_dot *d, unsigned i)
{
    const struct attempt *a = &d->attempts[i];
    return &d->conns[2 * a->up + (a->tls ? 0 : 1)];
}

/* Whether an attempt from FROM on has a connection that is up, being set up
 * or not backing off.  A backing-off upstream is skipped only then: with no
 * alternative (one upstream, say) it is tried anyway rather than no DNS, but
 * not within HOLD_DOWN_MS of its last failure (libunbound retries a failed
 * query at once; each retry must not cost the upstream a handshake). */
static int alternative_after(struct hastls_dot *d, unsigned from, uint64_t now)
{
    for (unsigned i = from; i < d->nattempts; i++) {
        const struct conn *c = attempt_conn(d, i);
        if (c->st != C_DOWN || now >= c->backoff_until)
            return 1;
    }
    return 0;
}

/* Finds a transport for Q, starting at its current attempt: sends it on a
 * ready connection, parks it on one being set up, or answers SERVFAIL when
 * the profile allows nothing more.  May free Q. */
static void query_dispatch(struct hastls_dot *d, struct query *q)
{
    q->c = NULL;
    q->sent = 0;
    q->has_old_id = 0;
    while (q->attempt < d->nattempts) {
        const struct attempt *a = &d->attempts[q->attempt];
        struct conn *c = attempt_conn(d, q->attempt);
        if (c->st == C_DOWN) {
            uint64_t now = hastls_dot_now_ms();
            int hold = c->failed_at && now < c->failed_at + HOLD_DOWN_MS;
            if (hold ||
                (now < c->backoff_until && alternative_after(d, q->attempt + 1, now)) ||
                conn_start(d, c) < 0) {
                q->attempt++;
                continue;
            }
        }
        if (c->st == C_READY) {
            if ((a->need_auth && !c->auth) || query_send(d, c, q) < 0) {
                q->attempt++;
                continue;
            }
            return;
        }
        q->c = c; /* parked until C is ready or fails */
        return;
    }
    query_servfail(d, q);
}

/* Re-dispatches every query that was waiting for or sent on C.  With
 * SAME_ATTEMPT a query tries C again once (a connection the server closed while
 * idle), else it moves on to the next transport. */
static void conn_requeue(struct hastls_dot *d, struct conn *c, int same_attempt)
{
    /* Mark first: a query dispatched again may land on C again (a new
     * connection to the same upstream) and must not be moved twice. */
    for (struct query *q = d->queries; q; q = q->next)
        if (q->c == c) {
            q->requeue = 1;
            q->c = NULL;
        }
    for (;;) {
        struct query *q;
        for (q = d->queries; q; q = q->next)
            if (q->requeue)
                break;
        if (!q)
            return;
        q->requeue = 0;
        if (same_attempt && q->reconnects == 0)
            q->reconnects++;
        else
            q->attempt++;
        query_dispatch(d, q); /* may free Q */
    }
}

/* ---- connections ---- */

static void conn_close(struct hastls_dot *d, struct conn *c)
{
    (void)d;
    if (c->ssl) {
        if (c->st == C_READY)
            SSL_shutdown(c->ssl); /* best effort close_notify, non-blocking */
        SSL_free(c->ssl);
        c->ssl = NULL;
        ERR_clear_error();
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->st = C_DOWN;
    c->auth = 0;
    c->want_write = 0;
    buf_free(&c->in);
    buf_free(&c->out);
}

/* C failed: remember why, back off, and move its queries on. */
static void conn_fail(struct hastls_dot *d, struct conn *c, const char *why)
{
    record_failure(d, c, "%s", why);
    conn_close(d, c);
    c->fails++;
    c->failed_at = hastls_dot_now_ms();
    unsigned shift = c->fails > 5 ? 5 : c->fails - 1;
    uint64_t b = (uint64_t)BACKOFF_MIN_MS << shift;
    if (b > BACKOFF_MAX_MS)
        b = BACKOFF_MAX_MS;
    c->backoff_until = hastls_dot_now_ms() + b;
    conn_requeue(d, c, 0);
}

static void conn_ready(struct hastls_dot *d, struct conn *c)
{
    c->st = C_READY;
    c->last_active = hastls_dot_now_ms();
    /* Queries parked on C go out now (or move on, if C cannot carry them). */
    for (;;) {
        struct query *q;
        for (q = d->queries; q; q = q->next)
            if (q->c == c && !q->sent)
                break;
        if (!q)
            return;
        /* Sends Q on C (sent = 1) or moves it on: either way it is no
         * longer parked, so this loop ends. */
        query_dispatch(d, q);
        if (c->st != C_READY)
            return;
    }
}

static int is_ip_literal(const char *s)
{
    struct in6_addr a;
    return inet_pton(AF_INET, s, &a) == 1 || inet_pton(AF_INET6, s, &a) == 1;
}

/* Decides whether the READY-to-be TLS connection C is authenticated: by an SPKI
 * pin when any is configured (RFC 7858 4.2), else by the certificate chain and
 * the upstream's authentication name.  Fills WHY when it is not. */
static int conn_authenticate(struct hastls_dot *d, struct conn *c, char *why, size_t wl)
{
    const struct hastls_config *cfg = d->cfg;
    const struct hastls_upstream *u = &cfg->upstreams[c->up];
    if (cfg->n_pins) {
        STACK_OF(X509) *chain = SSL_get_peer_cert_chain(c->ssl);
        X509 *leaf = SSL_get0_peer_certificate(c->ssl);
        int n = chain ? sk_X509_num(chain) : 0;
        for (int i = -1; i < n; i++) {
            X509 *x = i < 0 ? leaf : sk_X509_value(chain, i);
            if (!x)
                continue;
            unsigned char *der = NULL;
            int dl = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
            if (dl <= 0)
                continue;
            unsigned char h[32];
            unsigned hl = 0;
            int ok = EVP_Digest(der, (size_t)dl, h, &hl, EVP_sha256(), NULL);
            OPENSSL_free(der);
            if (!ok || hl != 32)
                continue;
            for (size_t p = 0; p < cfg->n_pins; p++)
                if (!memcmp(h, cfg->pins[p], 32))
                    return 1;
        }
        snprintf(why, wl, "no configured SPKI pin matches the certificate");
        return 0;
    }
    if (!u->auth_name[0]) {
        snprintf(why, wl, "no authentication name or pin configured");
        return 0;
    }
    if (!SSL_get0_peer_certificate(c->ssl)) {
        snprintf(why, wl, "no certificate");
        return 0;
    }
    long v = SSL_get_verify_result(c->ssl);
    if (v == X509_V_OK)
        return 1;
    if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH)
        snprintf(why, wl, "certificate name mismatch (wanted %s)", u->auth_name);
    else
        snprintf(why, wl, "certificate verification failed: %s",
                 X509_verify_cert_error_string(v));
    return 0;
}

static void conn_handshake(struct hastls_dot *d, struct conn *c)
{
    ERR_clear_error();
    int r = SSL_connect(c->ssl);
    if (r != 1) {
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) {
            c->want_write = 0;
            return;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            c->want_write = 1;
            return;
        }
        char why[256];
        unsigned long oe = ERR_get_error();
        if (oe)
            snprintf(why, sizeof why, "TLS handshake failed: %s",
                     ERR_reason_error_string(oe) ? ERR_reason_error_string(oe)
                                                 : "unknown error");
        else if (e == SSL_ERROR_SYSCALL && errno) {
            char eb[128];
            snprintf(why, sizeof why, "TLS handshake failed: %s",
                     errtext(errno, eb, sizeof eb));
        } else
            snprintf(why, sizeof why, "TLS handshake failed: connection closed");
        conn_fail(d, c, why);
        return;
    }
    c->want_write = 0;
    if (SSL_session_reused(c->ssl))
        stat_add(&d->stats.tls_resumptions);
    else
        stat_add(&d->stats.tls_handshakes);

    char why[256] = "";
    /* A resumed session carries no certificate chain to check again; it was
     * stored only after authentication (on_new_session). */
    c->auth = SSL_session_reused(c->ssl) ? 1 : conn_authenticate(d, c, why, sizeof why);
    if (!c->auth) {
        /* Never resume a session we could not authenticate. */
        if (c->sess) {
            SSL_SESSION_free(c->sess);
            c->sess = NULL;
        }
        if (d->cfg->privacy == HASTLS_PRIVACY_STRICT) {
            conn_fail(d, c, why);
            return;
        }
        /* Allowed under this profile: worth a warning, not a failure. */
        logf_(d, HASTLS_LOG_WARN, "upstream %s: %s (using it unauthenticated)", c->label,
              why);
    }
    const unsigned char *alpn = NULL;
    unsigned alpnlen = 0;
    SSL_get0_alpn_selected(c->ssl, &alpn, &alpnlen);
    logf_(d, HASTLS_LOG_DEBUG, "upstream %s: %s, %s%s, ALPN %.*s", c->label,
          SSL_get_version(c->ssl), c->auth ? "authenticated" : "unauthenticated",
          SSL_session_reused(c->ssl) ? ", resumed" : "", alpnlen ? (int)alpnlen : 4,
          alpnlen ? (const char *)alpn : "none");
    c->fails = 0;
    c->failed_at = 0;
    c->backoff_until = 0;
    conn_ready(d, c);
}

static void conn_connected(struct hastls_dot *d, struct conn *c)
{
    if (!c->tls) {
        c->fails = 0;
        c->failed_at = 0;
        c->backoff_until = 0;
        conn_ready(d, c);
        return;
    }
    const struct hastls_upstream *u = &d->cfg->upstreams[c->up];
    SSL *ssl = SSL_new(d->ssl_ctx);
    if (!ssl || SSL_set_fd(ssl, c->fd) != 1 || SSL_set_ex_data(ssl, ex_index, c) != 1) {
        if (ssl)
            SSL_free(ssl);
        conn_fail(d, c, "out of memory setting up TLS");
        return;
    }
    c->ssl = ssl;
    if (u->auth_name[0]) {
        if (is_ip_literal(u->auth_name)) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), u->auth_name);
        } else {
            SSL_set_tlsext_host_name(ssl, u->auth_name);
            SSL_set1_host(ssl, u->auth_name);
        }
    }
    if (d->cfg->alpn[0]) {
        unsigned char p[sizeof d->cfg->alpn + 1];
        size_t l = strlen(d->cfg->alpn);
        if (l > 0 && l < 256 && l < sizeof d->cfg->alpn) {
            p[0] = (unsigned char)l;
            memcpy(p + 1, d->cfg->alpn, l);
            SSL_set_alpn_protos(ssl, p, (unsigned)l + 1);
        }
    }
    if (c->sess)
        SSL_set_session(ssl, c->sess);
    c->st = C_HANDSHAKING;
    conn_handshake(d, c);
}

/* Sends an acknowledgement still pending on FD now and leaves the kernel's
 * delayed-ACK ("pingpong") mode.  Peers that do not set TCP_NODELAY (unbound
 * 1.17 on DNS-over-TLS, libunbound on its connections to our listener) hold a
 * small write behind an unacknowledged one until our delayed ACK, about 40 ms
 * each time.  The kernel re-enters delayed-ACK mode as soon as the connection
 * looks interactive (we write soon after receiving), so this is re-armed each
 * time data arrives: one system call per wake-up with input. */
static void quickack(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

/* Opens C.  Returns 0 (connecting, or already ready), or -1 after recording a
 * failure. */
static int conn_start(struct hastls_dot *d, struct conn *c)
{
    int fd = socket(c->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    char eb[128];
    if (fd < 0) {
        conn_fail(d, c, errtext(errno, eb, sizeof eb));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->deadline = hastls_dot_now_ms() + d->attempt_ms;
    logf_(d, HASTLS_LOG_DEBUG, "upstream %s: connecting (%s)", c->label,
          c->tls ? "TLS" : "cleartext");
    /* The raw system call: the resolver's own sockets go to configured literal
     * addresses and must never pass through the shim's connect() policy. */
    if (syscall(SYS_connect, fd, (struct sockaddr *)&c->sa, c->salen) == 0) {
        conn_connected(d, c);
        return c->st == C_DOWN ? -1 : 0;
    }
    if (errno != EINPROGRESS) {
        conn_fail(d, c, errtext(errno, eb, sizeof eb));
        return -1;
    }
    c->st = C_CONNECTING;
    return 0;
}

/* ---- chain prefetch ----
 *
 * A validating lookup of www.example.com needs, after the answer, the root's
 * DNSKEY, then DS and DNSKEY of com, then of example.com: libunbound asks for
 * them one after the other, each a round trip to the upstream.  When a
 * validating query for a name arrives, the transport asks for all of them at
 * once and hands libunbound the answers when it asks: a cold lookup costs one
 * round trip instead of one per zone.  libunbound still validates everything;
 * only the timing changes.  Only ancestors of the name are asked for (the
 * PREFETCH_LEVELS closest to the root), never anything else. */

/* The question section of MSG (ending at QEND), lower-cased, into KEY. */
static size_t question_key(const uint8_t *msg, size_t qend, uint8_t *key)
{
    size_t n = qend - HASTLS_DNS_HEADER_LEN;
    if (n > QUESTION_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = msg[HASTLS_DNS_HEADER_LEN + i];
        key[i] = (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + 32) : ch;
    }
    return n;
}

static struct chain_entry *chain_find(struct hastls_dot *d, const uint8_t *key,
                                      size_t klen)
{
    for (size_t i = 0; i < CHAIN_STORE_MAX; i++)
        if (d->chain[i].qlen == klen && !memcmp(d->chain[i].question, key, klen))
            return &d->chain[i];
    return NULL;
}

/* A slot for KEY: a free one, else the one least fresh. */
static struct chain_entry *chain_slot(struct hastls_dot *d, const uint8_t *key,
                                      size_t klen)
{
    struct chain_entry *e = chain_find(d, key, klen);
    if (!e) {
        e = &d->chain[0];
        for (size_t i = 0; i < CHAIN_STORE_MAX; i++) {
            if (!d->chain[i].qlen) {
                e = &d->chain[i];
                break;
            }
            if (d->chain[i].fresh_until < e->fresh_until)
                e = &d->chain[i];
        }
        free(e->answer);
        memset(e, 0, sizeof *e);
        memcpy(e->question, key, klen);
        e->qlen = klen;
    }
    return e;
}

/* Answers query F from ANS (an answer to the same question). */
static void answer_from(struct hastls_dot *d, const struct query *f, const uint8_t *ans,
                        size_t alen)
{
    if (!f->cl || !hastls_dns_same_question(f->msg, f->len, ans, alen))
        return;
    uint8_t *copy = malloc(alen);
    if (!copy)
        return;
    memcpy(copy, ans, alen);
    hastls_dns_set_id(copy, f->orig_id);
    /* Same question, same length: give it back exactly as it was asked. */
    memcpy(copy + HASTLS_DNS_HEADER_LEN, f->msg + HASTLS_DNS_HEADER_LEN,
           f->qend - HASTLS_DNS_HEADER_LEN);
    client_send(d, f->cl, copy, alen);
    free(copy);
}

static struct query *query_new(struct hastls_dot *d, uint8_t *msg, size_t len,
                               size_t qend)
{
    struct query *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->msg = msg;
    q->len = len;
    q->qend = qend;
    q->orig_id = hastls_dns_id(msg);
    q->serial = ++d->next_serial;
    q->deadline = hastls_dot_now_ms() + d->cfg->timeout_ms;
    q->next = d->queries;
    d->queries = q;
    return q;
}

/* The prefetch PF is over: ANS (or NULL when it failed) goes to the queries
 * that waited for it; without an answer they go upstream themselves. */
static void prefetch_done(struct hastls_dot *d, struct query *pf, const uint8_t *ans,
                          size_t alen)
{
    uint8_t key[QUESTION_MAX];
    size_t klen = question_key(pf->msg, pf->qend, key);
    struct chain_entry *e = klen ? chain_find(d, key, klen) : NULL;
    int usable =
        ans && (ans[3] & 0x0f) != HASTLS_DNS_RCODE_SERVFAIL && (ans[3] & 0x0f) != 5;
    if (e) {
        uint8_t *copy = usable ? malloc(alen) : NULL;
        if (copy) {
            memcpy(copy, ans, alen);
            free(e->answer);
            e->answer = copy;
            e->alen = alen;
            e->serve_until = hastls_dot_now_ms() + CHAIN_SERVE_MS;
        } else {
            e->fresh_until = 0; /* ask again next time */
        }
    }
    uint64_t serial = pf->serial;
    pf->serial = 0;
    for (;;) {
        struct query *f;
        for (f = d->queries; f; f = f->next)
            if (f->follow == serial)
                break;
        if (!f)
            return;
        f->follow = 0;
        if (usable) {
            answer_from(d, f, ans, alen);
            query_unlink(d, f);
        } else {
            query_dispatch(d, f);
        }
    }
}

/* Sends our own query for NAME (wire form, NLEN bytes) and TYPE, with DO, unless
 * one is in flight or was answered recently. */
static void prefetch_one(struct hastls_dot *d, const uint8_t *name, size_t nlen,
                         uint16_t type)
{
    static const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0};
    size_t len = HASTLS_DNS_HEADER_LEN + nlen + 4 + sizeof opt;
    uint8_t *msg = malloc(len);
    if (!msg)
        return;
    memset(msg, 0, HASTLS_DNS_HEADER_LEN);
    msg[2] = 0x01; /* RD */
    msg[5] = 1;    /* one question */
    msg[11] = 1;   /* one additional: OPT */
    memcpy(msg + HASTLS_DNS_HEADER_LEN, name, nlen);
    size_t o = HASTLS_DNS_HEADER_LEN + nlen;
    msg[o] = (uint8_t)(type >> 8);
    msg[o + 1] = (uint8_t)type;
    msg[o + 2] = 0;
    msg[o + 3] = 1;
    memcpy(msg + o + 4, opt, sizeof opt);
    size_t qend = o + 4;
    uint8_t key[QUESTION_MAX];
    size_t klen = question_key(msg, qend, key);
    struct chain_entry *e = klen ? chain_find(d, key, klen) : NULL;
    uint64_t now = hastls_dot_now_ms();
    if (!klen || (e && now < e->fresh_until)) {
        free(msg);
        return;
    }
    e = chain_slot(d, key, klen);
    e->fresh_until = now + CHAIN_FRESH_MS;
    struct query *q = query_new(d, msg, len, qend);
    if (!q) {
        free(msg);
        e->fresh_until = 0;
        return;
    }
    q->prefetch = 1;
    query_dispatch(d, q);
}

/* For the query MSG (one uncompressed question ending at QEND): the root's
 * DNSKEY, and DS and DNSKEY of the name's ancestors. */
static void prefetch_chain(struct hastls_dot *d, const uint8_t *msg, size_t qend)
{
    size_t offs[128], n = 0, o = HASTLS_DNS_HEADER_LEN;
    while (o < qend && msg[o] != 0 && msg[o] < 64 && n < 128) {
        offs[n++] = o;
        o += (size_t)msg[o] + 1;
    }
    if (o >= qend || msg[o] != 0)
        return; /* compressed or malformed: nothing to do */
    size_t end = o + 1;
    static const uint8_t root = 0;
    prefetch_one(d, &root, 1, 48);
    size_t first = n > PREFETCH_LEVELS ? n - PREFETCH_LEVELS : 1;
    for (size_t i = n - 1; i >= first && i > 0; i--) {
        prefetch_one(d, msg + offs[i], end - offs[i], 43);
        prefetch_one(d, msg + offs[i], end - offs[i], 48);
    }
}

static void conn_on_answer(struct hastls_dot *d, struct conn *c, const uint8_t *msg,
                           size_t len)
{
    if (len < HASTLS_DNS_HEADER_LEN || !(msg[2] & 0x80))
        return;
    uint16_t id = hastls_dns_id(msg);
    struct query *q;
    for (q = d->queries; q; q = q->next)
        if (q->c == c && q->sent &&
            (q->wire_id == id || (q->has_old_id && q->old_wire_id == id)))
            break;
    if (!q) {
        logf_(d, HASTLS_LOG_DEBUG, "upstream %s: answer with unknown ID %u dropped",
              c->label, id);
        return;
    }
    if (!hastls_dns_same_question(q->msg, q->len, msg, len)) {
        logf_(d, HASTLS_LOG_DEBUG, "upstream %s: answer to another question dropped",
              c->label);
        return;
    }
    c->last_active = hastls_dot_now_ms();
    if (q->prefetch) {
        prefetch_done(d, q, msg, len);
        query_unlink(d, q);
        return;
    }
    if (q->cl) {
        uint8_t *copy = malloc(len);
        if (copy) {
            memcpy(copy, msg, len);
            hastls_dns_set_id(copy, q->orig_id);
            client_send(d, q->cl, copy, len);
            free(copy);
        }
    }
    query_unlink(d, q);
}

/* Reads what C has; returns -1 when C is gone (and was handled). */
static int conn_read(struct hastls_dot *d, struct conn *c)
{
    uint8_t tmp[16384];
    for (;;) {
        ssize_t n;
        if (c->tls) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, tmp, sizeof tmp);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ)
                    break;
                if (e == SSL_ERROR_WANT_WRITE) {
                    c->want_write = 1;
                    break;
                }
                n = 0; /* closed or failed: same handling as EOF */
            } else {
                n = r;
            }
        } else {
            n = read(c->fd, tmp, sizeof tmp);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                break;
        }
        if (n <= 0) {
            /* A server may close an idle connection at any time (RFC 7766
             * 6.2.3): try the queries in flight once more on a new one. */
            int busy = conn_busy(d, c);
            logf_(d, HASTLS_LOG_DEBUG, "upstream %s: connection closed by server",
                  c->label);
            conn_close(d, c);
            if (busy)
                conn_requeue(d, c, 1);
            return -1;
        }
        if (buf_append(&c->in, tmp, (size_t)n) < 0) {
            conn_fail(d, c, "out of memory reading");
            return -1;
        }
        size_t m;
        while (c->st == C_READY && hastls_dns_frame(c->in.p, c->in.len, &m)) {
            conn_on_answer(d, c, c->in.p + 2, m);
            buf_consume(&c->in, m + 2);
        }
    }
    return 0;
}

static int conn_flush(struct hastls_dot *d, struct conn *c)
{
    while (c->out.len) {
        ssize_t n;
        if (c->tls) {
            ERR_clear_error();
            int r = SSL_write(c->ssl, c->out.p,
                              (int)(c->out.len > 65536 ? 65536 : c->out.len));
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_WRITE) {
                    c->want_write = 1;
                    return 0;
                }
                if (e == SSL_ERROR_WANT_READ)
                    return 0;
                conn_close(d, c);
                conn_requeue(d, c, 1);
                return -1;
            }
            n = r;
        } else {
            n = write(c->fd, c->out.p, c->out.len);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
            if (n <= 0) {
                conn_close(d, c);
                conn_requeue(d, c, 1);
                return -1;
            }
        }
        buf_consume(&c->out, (size_t)n);
        c->want_write = 0;
    }
    return 0;
}

static void conn_event(struct hastls_dot *d, struct conn *c, short rev)
{
    /* Whatever woke us (a handshake flight, a session ticket, an answer) has
     * its ACK pending: send it now, before the server's next record queues
     * behind it. */
    if ((rev & POLLIN) && (c->st == C_HANDSHAKING || c->st == C_READY))
        quickack(c->fd);
    if (c->st == C_CONNECTING) {
        int e = 0;
        socklen_t l = sizeof e;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
            e = errno;
        if (e) {
            char eb[128];
            conn_fail(d, c, errtext(e, eb, sizeof eb));
            return;
        }
        if (!(rev & (POLLOUT | POLLERR | POLLHUP)))
            return;
        conn_connected(d, c);
        return;
    }
    if (c->st == C_HANDSHAKING) {
        conn_handshake(d, c);
        return;
    }
    if (c->st != C_READY)
        return;
    if (conn_flush(d, c) < 0)
        return;
    if (c->st == C_READY && conn_read(d, c) < 0)
        return;
    if (c->st == C_READY)
        conn_flush(d, c);
}

/* ---- clients (libunbound's TCP connections to the listener) ---- */

static void client_close(struct hastls_dot *d, struct client *cl)
{
    for (struct client **pp = &d->clients; *pp; pp = &(*pp)->next)
        if (*pp == cl) {
            *pp = cl->next;
            break;
        }
    /* Queries not yet sent are dropped; answers in flight will be discarded. */
    for (struct query *q = d->queries, *next; q; q = next) {
        next = q->next;
        if (q->cl != cl)
            continue;
        q->cl = NULL;
        if (!q->sent)
            query_unlink(d, q);
    }
    close(cl->fd);
    buf_free(&cl->in);
    buf_free(&cl->out);
    free(cl);
}

static void client_accept(struct hastls_dot *d)
{
    for (;;) {
        int fd = accept4(d->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (!hastls_dot_peer_is_self(fd)) {
            /* libunbound may give up on a stream before we accept it: then
             * its socket is gone and the peer cannot be found.  Only a live
             * peer is worth a warning. */
            char b;
            if (recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
                logf_(d, HASTLS_LOG_DEBUG, "a connection closed before it was accepted");
            else
                logf_(d, HASTLS_LOG_WARN,
                      "refused a connection to the resolver's listener "
                      "from outside this process");
            close(fd);
            continue;
        }
        struct client *cl = calloc(1, sizeof *cl);
        if (!cl) {
            close(fd);
            continue;
        }
        /* Answers are small writes that must not wait for an ACK (Nagle). */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        cl->fd = fd;
        cl->next = d->clients;
        d->clients = cl;
    }
}

static void client_query(struct hastls_dot *d, struct client *cl, const uint8_t *msg,
                         size_t len)
{
    size_t qend;
    if (hastls_dns_check_query(msg, len, &qend) < 0) {
        logf_(d, HASTLS_LOG_DEBUG, "malformed query from libunbound dropped");
        return;
    }
    uint16_t qtype = (uint16_t)((msg[qend - 4] << 8) | msg[qend - 3]);
    uint8_t key[QUESTION_MAX];
    size_t klen = question_key(msg, qend, key);
    if (klen && (qtype == 43 || qtype == 48)) {
        /* Prefetched, or being prefetched? */
        struct chain_entry *e = chain_find(d, key, klen);
        if (e && e->answer && hastls_dot_now_ms() < e->serve_until) {
            struct query tmp = {.cl = cl,
                                .msg = (uint8_t *)msg,
                                .len = len,
                                .qend = qend,
                                .orig_id = hastls_dns_id(msg)};
            answer_from(d, &tmp, e->answer, e->alen);
            return;
        }
    }
    uint8_t *copy = malloc(len);
    if (!copy)
        return; /* libunbound times out and retries */
    memcpy(copy, msg, len);
    struct query *q = query_new(d, copy, len, qend);
    if (!q) {
        free(copy);
        return;
    }
    q->cl = cl;
    if (qtype == 43 || qtype == 48) {
        for (struct query *pf = d->queries; pf; pf = pf->next)
            if (pf->prefetch && pf->serial &&
                hastls_dns_same_question(pf->msg, pf->len, msg, len)) {
                q->follow = pf->serial; /* answered when the prefetch is */
                return;
            }
    }
    query_dispatch(d, q); /* may free Q */
    if (d->prefetch && qtype != 43 && qtype != 48 && hastls_dns_has_do(msg, len) == 1)
        prefetch_chain(d, msg, qend);
}

static void client_event(struct hastls_dot *d, struct client *cl, short rev)
{
    if (rev & POLLIN) {
        uint8_t tmp[16384];
        ssize_t n = read(cl->fd, tmp, sizeof tmp);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            client_close(d, cl);
            return;
        }
        if (n > 0) {
            /* libunbound writes pipelined queries without TCP_NODELAY: a
             * query behind an unacknowledged one waits for our ACK. */
            quickack(cl->fd);
            if (buf_append(&cl->in, tmp, (size_t)n) < 0) {
                client_close(d, cl);
                return;
            }
            size_t m;
            while (hastls_dns_frame(cl->in.p, cl->in.len, &m)) {
                client_query(d, cl, cl->in.p + 2, m);
                buf_consume(&cl->in, m + 2);
            }
        }
    } else if (rev & (POLLHUP | POLLERR)) {
        client_close(d, cl);
        return;
    }
    while (cl->out.len) {
        ssize_t n = write(cl->fd, cl->out.p, cl->out.len);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n <= 0) {
            client_close(d, cl);
            return;
        }
        buf_consume(&cl->out, (size_t)n);
    }
}

/* ---- the event loop ---- */

static void timers(struct hastls_dot *d, uint64_t now)
{
    for (size_t i = 0; i < d->nconns; i++) {
        struct conn *c = &d->conns[i];
        if ((c->st == C_CONNECTING || c->st == C_HANDSHAKING) && now >= c->deadline) {
            conn_fail(d, c,
                      c->st == C_CONNECTING ? "timed out connecting"
                                            : "TLS handshake timed out");
        } else if (c->st == C_READY && !conn_busy(d, c) &&
                   now - c->last_active >= IDLE_CLOSE_MS) {
            logf_(d, HASTLS_LOG_DEBUG, "upstream %s: closing idle connection", c->label);
            conn_close(d, c);
        }
    }
    for (;;) {
        struct query *q;
        for (q = d->queries; q; q = q->next)
            if (now >= q->deadline || (q->sent && now >= q->attempt_deadline))
                break;
        if (!q)
            return;
        if (now >= q->deadline) {
            query_servfail(d, q);
            continue;
        }
        /* A server may drop one query and answer the rest (RFC 7766 allows
         * it to be busy): ask once more, with a new ID, before giving up on
         * this transport. */
        struct conn *c = q->c;
        if (q->resends == 0 && c->st == C_READY) {
            q->resends++;
            q->has_old_id = 1;
            q->old_wire_id = q->wire_id;
            logf_(d, HASTLS_LOG_DEBUG,
                  "upstream %s: no answer within %u ms, asking again", c->label,
                  d->attempt_ms / 2);
            if (query_send(d, c, q) == 0) {
                q->attempt_deadline = now + d->attempt_ms / 2;
                continue;
            }
        }
        record_failure(d, c, "no answer within %u ms", d->attempt_ms);
        q->attempt++;
        query_dispatch(d, q);
    }
}

static int next_timeout(struct hastls_dot *d, uint64_t now)
{
    uint64_t t = now + 1000;
    for (size_t i = 0; i < d->nconns; i++) {
        const struct conn *c = &d->conns[i];
        if ((c->st == C_CONNECTING || c->st == C_HANDSHAKING) && c->deadline < t)
            t = c->deadline;
        if (c->st == C_READY && c->last_active + IDLE_CLOSE_MS < t)
            t = c->last_active + IDLE_CLOSE_MS;
    }
    for (const struct query *q = d->queries; q; q = q->next) {
        if (q->deadline < t)
            t = q->deadline;
        if (q->sent && q->attempt_deadline < t)
            t = q->attempt_deadline;
    }
    return t <= now ? 0 : (int)(t - now);
}

enum { OBJ_WAKE = 1, OBJ_LISTEN, OBJ_EXTRA };

static int poll_reserve(struct hastls_dot *d, size_t n)
{
    if (n <= d->pcap)
        return 0;
    size_t cap = n + 16;
    struct pollfd *p = realloc(d->pfd, cap * sizeof *p);
    if (!p)
        return -1;
    d->pfd = p;
    void **o = realloc(d->pobj, cap * sizeof *o);
    if (!o)
        return -1;
    d->pobj = o;
    d->pcap = cap;
    return 0;
}

static void *event_thread(void *arg)
{
    struct hastls_dot *d = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    static char tag[3];

    while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
        size_t nclients = 0;
        for (struct client *cl = d->clients; cl; cl = cl->next)
            nclients++;
        if (poll_reserve(d, 3 + nclients + d->nconns) < 0) {
            usleep(10000); /* out of memory: wait for it to pass */
            continue;
        }
        size_t n = 0;
        d->pfd[n] = (struct pollfd){d->wake[0], POLLIN, 0};
        d->pobj[n++] = &tag[0];
        d->pfd[n] = (struct pollfd){d->lfd, POLLIN, 0};
        d->pobj[n++] = &tag[1];
        if (d->extra_fd >= 0) {
            d->pfd[n] = (struct pollfd){d->extra_fd, POLLIN, 0};
            d->pobj[n++] = &tag[2];
        }
        size_t first_client = n;
        for (struct client *cl = d->clients; cl; cl = cl->next) {
            d->pfd[n] =
                (struct pollfd){cl->fd, (short)(POLLIN | (cl->out.len ? POLLOUT : 0)), 0};
            d->pobj[n++] = cl;
        }
        size_t first_conn = n;
        for (size_t i = 0; i < d->nconns; i++) {
            struct conn *c = &d->conns[i];
            if (c->st == C_DOWN)
                continue;
            short ev = POLLIN;
            if (c->st == C_CONNECTING || c->want_write || c->out.len)
                ev |= POLLOUT;
            if (c->st == C_CONNECTING)
                ev = POLLOUT;
            d->pfd[n] = (struct pollfd){c->fd, ev, 0};
            d->pobj[n++] = c;
        }
        int r = poll(d->pfd, n, next_timeout(d, hastls_dot_now_ms()));
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0) {
            if (d->pfd[0].revents) {
                char b[64];
                while (read(d->wake[0], b, sizeof b) > 0)
                    ;
            }
            if (d->extra_fd >= 0 && d->pfd[2].revents && d->process)
                d->process(d->process_arg);
            /* Connections first: their answers go to clients polled below. */
            for (size_t i = first_conn; i < n; i++) {
                struct conn *c = d->pobj[i];
                if (d->pfd[i].revents && c->fd == d->pfd[i].fd && c->st != C_DOWN)
                    conn_event(d, c, d->pfd[i].revents);
            }
            for (size_t i = first_client; i < first_conn; i++) {
                if (!d->pfd[i].revents)
                    continue;
                /* The client may have been closed meanwhile: look it up. */
                struct client *cl;
                for (cl = d->clients; cl && cl != d->pobj[i]; cl = cl->next)
                    ;
                if (cl && cl->fd == d->pfd[i].fd)
                    client_event(d, cl, d->pfd[i].revents);
            }
            if (d->pfd[1].revents)
                client_accept(d);
        }
        timers(d, hastls_dot_now_ms());
        /* Flush answers queued for clients during this round. */
        for (struct client *cl = d->clients, *next; cl; cl = next) {
            next = cl->next;
            if (cl->out.len)
                client_event(d, cl, 0);
        }
        for (size_t i = 0; i < d->nconns; i++) {
            struct conn *c = &d->conns[i];
            if (c->st == C_READY && c->out.len)
                conn_flush(d, c);
        }
    }
    return NULL;
}

int hastls_dot_start(struct hastls_dot *d, int extra_fd, void (*process)(void *),
                     void *arg, char *err, size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof sa;
    d->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (d->lfd < 0 || bind(d->lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(d->lfd, 64) < 0 || getsockname(d->lfd, (struct sockaddr *)&sa, &l) < 0) {
        snprintf(err, errlen, "cannot set up the resolver's loopback listener: %s",
                 strerror(errno));
        goto fail;
    }
    if (pipe2(d->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    d->extra_fd = extra_fd;
    d->process = process;
    d->process_arg = arg;
    int e = pthread_create(&d->thread, NULL, event_thread, d);
    if (e) {
        snprintf(err, errlen, "cannot start the resolver thread: %s", strerror(e));
        goto fail;
    }
    d->started = 1;
    return ntohs(sa.sin_port);
fail:
    if (d->lfd >= 0)
        close(d->lfd);
    d->lfd = -1;
    for (int i = 0; i < 2; i++) {
        if (d->wake[i] >= 0)
            close(d->wake[i]);
        d->wake[i] = -1;
    }
    return -1;
}

void hastls_dot_stop(struct hastls_dot *d)
{
    if (!d || !d->started)
        return;
    __atomic_store_n(&d->stop, 1, __ATOMIC_RELEASE);
    if (write(d->wake[1], "x", 1) < 0) {
        /* the pipe is non-blocking and nearly empty: cannot fail here */
    }
    pthread_join(d->thread, NULL);
    d->started = 0;
}

void hastls_dot_free(struct hastls_dot *d)
{
    if (!d)
        return;
    hastls_dot_stop(d);
    while (d->queries)
        query_unlink(d, d->queries);
    for (size_t i = 0; i < CHAIN_STORE_MAX; i++)
        free(d->chain[i].answer);
    while (d->clients)
        client_close(d, d->clients);
    for (size_t i = 0; i < d->nconns; i++) {
        conn_close(d, &d->conns[i]);
        if (d->conns[i].sess)
            SSL_SESSION_free(d->conns[i].sess);
    }
    if (d->ssl_ctx)
        SSL_CTX_free(d->ssl_ctx);
    if (d->lfd >= 0)
        close(d->lfd);
    for (int i = 0; i < 2; i++)
        if (d->wake[i] >= 0)
            close(d->wake[i]);
    free(d->pfd);
    free(d->pobj);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

void hastls_dot_forget(struct hastls_dot *d)
{
    if (!d)
        return;
    if (d->lfd >= 0)
        close(d->lfd);
    for (int i = 0; i < 2; i++)
        if (d->wake[i] >= 0)
            close(d->wake[i]);
    for (struct client *cl = d->clients; cl; cl = cl->next)
        close(cl->fd);
    for (size_t i = 0; i < d->nconns; i++)
        if (d->conns[i].fd >= 0)
            close(d->conns[i].fd);
}
