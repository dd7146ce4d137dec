/* shim/resolver/upstream.c: the upstream state machine (see upstream.h).
 *
 * Every public event function changes state, marks the queries that need a
 * new transport (mark_ready) and ends with settle(), which dispatches them one
 * by one.  dispatch() sends, parks or answers SERVFAIL and never dispatches
 * anything itself; whatever it starts (a connection) is work for the loop.
 */
#include "shim/resolver/upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "policy/dnswire.h"
#include "shim/resolver/logf.h"

#define MAX_ATTEMPTS (3 * HASTLS_MAX_UPSTREAMS)
/* Bytes a query may grow by when padded: an OPT record, the Padding option's
 * header, and at most a block less one of padding. */
#define PAD_GROWTH (11 + 4 + HASTLS_DNS_PAD_BLOCK)

struct query {
    struct query *next;
    struct query *ready_next; /* on E->READY: dispatched at the next settle */
    int ready;
    void *client; /* NULL when the client went away, and for a prefetch */
    uint8_t *msg; /* as received, original ID */
    size_t len;
    uint16_t wire_id;
    int has_old_id; /* after a resend, an answer to the first ID counts too */
    uint16_t old_wire_id;
    unsigned attempt;
    struct hastls_up_conn *c; /* connection it waits for or was sent on */
    int sent;
    int reconnects;  /* tries again after the server closed the connection */
    int resends;     /* tries again after no answer on a live connection */
    int prefetch;    /* ours (chain prefetch), no client */
    uint64_t serial; /* unique; a prefetch's identifies it to its followers */
    uint64_t follow; /* waits for the prefetch query with this serial */
    uint64_t attempt_deadline, deadline;
};

struct attempt {
    int up;
    int tls;
    int need_auth;
};

struct failure {
    uint64_t t;
    size_t keylen;   /* TEXT[0..KEYLEN) tells repeats apart; the rest varies */
    int answered;    /* an answer (SERVFAIL), not a transport failure */
    size_t labellen; /* "LABEL: " */
    size_t cause;    /* a skip: where the failure it backs off after starts */
    char text[400];
};

struct hastls_up_engine {
    const struct hastls_config *cfg;
    hastls_log_fn log;
    struct hastls_workq *work;
    uint16_t (*next_id)(void *);
    void *id_arg;
    struct hastls_up_conn conns[HASTLS_UP_MAX_CONNS];
    size_t nconns;
    struct attempt attempts[MAX_ATTEMPTS];
    unsigned nattempts;
    unsigned attempt_ms;
    struct query *queries;
    struct query *ready, *ready_tail; /* marked queries, in marking order */
    size_t nqueries;
    uint64_t next_serial;

    pthread_mutex_t mu; /* guards failures[] */
    struct failure failures[HASTLS_UP_FAILURE_RING];
    unsigned nfail;
    struct hastls_resolver_stats stats; /* updated with __atomic builtins */
};

#define LOG(e, lvl, ...) hastls_logf((e)->log, (e)->cfg->log_level, lvl, __VA_ARGS__)

static void stat_add(unsigned long *v)
{
    __atomic_fetch_add(v, 1, __ATOMIC_RELAXED);
}

/* ---- set-up ---- */

static void conn_setup(struct hastls_up_conn *c, int index, int up, int tls,
                       const struct hastls_upstream *u)
{
    memset(c, 0, sizeof *c);
    c->up = up;
    c->tls = tls;
    uint16_t port = tls ? u->port : 53;
    char a[INET6_ADDRSTRLEN] = "?";
    if (u->family == AF_INET6) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&c->sa;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(port);
        s->sin6_addr = u->addr.v6;
        c->salen = sizeof *s;
        inet_ntop(AF_INET6, &u->addr.v6, a, sizeof a);
        snprintf(c->label, sizeof c->label, "[%s]@%u", a, port);
    } else {
        struct sockaddr_in *s = (struct sockaddr_in *)&c->sa;
        s->sin_family = AF_INET;
        s->sin_port = htons(port);
        s->sin_addr = u->addr.v4;
        c->salen = sizeof *s;
        inet_ntop(AF_INET, &u->addr.v4, a, sizeof a);
        snprintf(c->label, sizeof c->label, "%s@%u", a, port);
    }
    c->connect_work.kind = HASTLS_WORK_CONNECT;
    c->connect_work.conn = index;
    c->close_work.kind = HASTLS_WORK_CLOSE;
    c->close_work.conn = index;
}

struct hastls_up_engine *hastls_up_new(const struct hastls_config *cfg, hastls_log_fn log,
                                       struct hastls_workq *work)
{
    struct hastls_up_engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    if (pthread_mutex_init(&e->mu, NULL) != 0) {
        free(e);
        return NULL;
    }
    e->cfg = cfg;
    e->log = log;
    e->work = work;
    e->attempt_ms = cfg->timeout_ms / 2;
    if (e->attempt_ms < HASTLS_UP_MIN_ATTEMPT_MS)
        e->attempt_ms = HASTLS_UP_MIN_ATTEMPT_MS;

    size_t n = cfg->n_upstreams;
    if (n > HASTLS_MAX_UPSTREAMS)
        n = HASTLS_MAX_UPSTREAMS;
    for (size_t u = 0; u < n; u++) {
        conn_setup(&e->conns[2 * u], (int)(2 * u), (int)u, 1, &cfg->upstreams[u]);
        conn_setup(&e->conns[2 * u + 1], (int)(2 * u + 1), (int)u, 0, &cfg->upstreams[u]);
    }
    e->nconns = 2 * n;

    /* The order of transports the privacy profile allows (seed 004, 2.2). */
    unsigned k = 0;
    enum hastls_privacy p = cfg->privacy;
    if (p != HASTLS_PRIVACY_OFF)
        for (size_t u = 0; u < n; u++)
            e->attempts[k++] = (struct attempt){(int)u, 1, 1};
    if (p == HASTLS_PRIVACY_ENCRYPTED || p == HASTLS_PRIVACY_OPPORTUNISTIC)
        for (size_t u = 0; u < n; u++)
            e->attempts[k++] = (struct attempt){(int)u, 1, 0};
    if (p == HASTLS_PRIVACY_OPPORTUNISTIC || p == HASTLS_PRIVACY_OFF)
        for (size_t u = 0; u < n; u++)
            e->attempts[k++] = (struct attempt){(int)u, 0, 0};
    e->nattempts = k;
    return e;
}

static void query_free(struct hastls_up_engine *e, struct query *q);

void hastls_up_free(struct hastls_up_engine *e)
{
    if (!e)
        return;
    while (e->queries)
        query_free(e, e->queries);
    for (size_t i = 0; i < e->nconns; i++) {
        hastls_workq_remove(e->work, &e->conns[i].connect_work);
        hastls_workq_remove(e->work, &e->conns[i].close_work);
        hastls_buf_free(&e->conns[i].in);
        hastls_buf_free(&e->conns[i].out);
    }
    pthread_mutex_destroy(&e->mu);
    free(e);
}

void hastls_up_set_id_source(struct hastls_up_engine *e, uint16_t (*next)(void *),
                             void *arg)
{
    e->next_id = next;
    e->id_arg = arg;
}

size_t hastls_up_nconns(const struct hastls_up_engine *e)
{
    return e->nconns;
}

const struct hastls_up_conn *hastls_up_conn(const struct hastls_up_engine *e, size_t i)
{
    return i < e->nconns ? &e->conns[i] : NULL;
}

size_t hastls_up_nqueries(const struct hastls_up_engine *e)
{
    return e->nqueries;
}

/* ---- failures, kept for the messages of failed lookups ---- */

#define SKIP_PREFIX "skipped: backing off after "

/* Whether F is a skip whose cause, the failure itself, is listed as G. */
static int skip_listed(const struct failure *f, const struct failure *g)
{
    size_t n = f->keylen - f->cause;
    return f->cause && !g->cause && g->keylen == f->labellen + n &&
           !memcmp(g->text, f->text, f->labellen) &&
           !memcmp(g->text + f->labellen, f->text + f->cause, n);
}

/* Puts "LABEL: WHY" (WHY: KEY then TAIL, which may vary between repeats of
 * the same reason) in the ring.  A reason already there is renewed in place:
 * libunbound's many retries of one lookup must not push its other reasons
 * out.  Returns when the reason was last put there, 0 when it is new. */
static uint64_t ring_put(struct hastls_up_engine *e, const struct hastls_up_conn *c,
                         uint64_t now, const char *key, const char *tail, int answered)
{
    char text[sizeof e->failures[0].text];
    size_t labellen = strlen(c->label) + 2;
    int k = snprintf(text, sizeof text, "%s: %s", c->label, key);
    size_t keylen = k < 0 ? 0 : (size_t)k < sizeof text ? (size_t)k : sizeof text - 1;
    pthread_mutex_lock(&e->mu);
    unsigned total =
        e->nfail < HASTLS_UP_FAILURE_RING ? e->nfail : HASTLS_UP_FAILURE_RING;
    struct failure *f = NULL;
    for (unsigned i = 0; i < total && !f; i++)
        if (e->failures[i].keylen == keylen && !memcmp(e->failures[i].text, text, keylen))
            f = &e->failures[i];
    uint64_t last = f ? f->t : 0;
    if (!f) {
        f = &e->failures[e->nfail++ % HASTLS_UP_FAILURE_RING];
        memcpy(f->text, text, keylen);
        f->keylen = keylen;
    }
    f->t = now;
    f->answered = answered;
    f->labellen = labellen < keylen ? labellen : keylen;
    f->cause = 0;
    if (!strncmp(key, SKIP_PREFIX, strlen(SKIP_PREFIX)) &&
        f->labellen + strlen(SKIP_PREFIX) <= keylen)
        f->cause = f->labellen + strlen(SKIP_PREFIX);
    snprintf(f->text + keylen, sizeof f->text - keylen, "%s", tail);
    pthread_mutex_unlock(&e->mu);
    return last;
}

static void record_failure(struct hastls_up_engine *e, struct hastls_up_conn *c,
                           uint64_t now, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void record_failure(struct hastls_up_engine *e, struct hastls_up_conn *c,
                           uint64_t now, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(c->last_why, sizeof c->last_why, "%s", why);
    /* One warning per burst: libunbound retries a failed query at once. */
    uint64_t last = ring_put(e, c, now, why, "", 0);
    int repeat = last && now - last < HASTLS_UP_HOLD_DOWN_MS;
    LOG(e, repeat ? HASTLS_LOG_DEBUG : HASTLS_LOG_WARN, "upstream %s: %s", c->label, why);
}

/* A query passed C by without trying it: C is backing off after its last
 * failure until UNTIL.  Recorded (the lookup's reason says so), not logged
 * above debug: libunbound's retries would repeat it many times. */
static void record_skip(struct hastls_up_engine *e, struct hastls_up_conn *c,
                        uint64_t now, uint64_t until)
{
    char key[320], tail[64];
    snprintf(key, sizeof key, SKIP_PREFIX "%s",
             c->last_why[0] ? c->last_why : "a failure");
    snprintf(tail, sizeof tail, " until %llu ms from now",
             (unsigned long long)(until > now ? until - now : 0));
    LOG(e, HASTLS_LOG_DEBUG, "upstream %s: %s%s", c->label, key, tail);
    (void)ring_put(e, c, now, key, tail, 0);
}

unsigned hastls_up_failures(struct hastls_up_engine *e, uint64_t since_ms, char *buf,
                            size_t buflen, unsigned *answered)
{
    unsigned n = 0;
    if (answered)
        *answered = 0;
    size_t o = 0;
    if (buflen)
        buf[0] = '\0';
    pthread_mutex_lock(&e->mu);
    unsigned total =
        e->nfail < HASTLS_UP_FAILURE_RING ? e->nfail : HASTLS_UP_FAILURE_RING;
    for (unsigned k = 0; k < total; k++) {
        const struct failure *f =
            &e->failures[(e->nfail - total + k) % HASTLS_UP_FAILURE_RING];
        if (f->t < since_ms)
            continue;
        /* An upstream skipped after a failure listed too: the failure says
         * it. */
        int dup = 0;
        for (unsigned j = 0; j < total && !dup; j++) {
            const struct failure *g = &e->failures[j];
            dup = g->t >= since_ms && skip_listed(f, g);
        }
        if (dup)
            continue;
        n++;
        if (answered && f->answered)
            (*answered)++;
        if (o < buflen) {
            int w = snprintf(buf + o, buflen - o, "%s%s", o ? "; " : "", f->text);
            if (w > 0)
                o += (size_t)w;
        }
    }
    pthread_mutex_unlock(&e->mu);
    return n;
}

void hastls_up_stats(struct hastls_up_engine *e, struct hastls_resolver_stats *out)
{
    out->tls_handshakes = __atomic_load_n(&e->stats.tls_handshakes, __ATOMIC_RELAXED);
    out->tls_resumptions = __atomic_load_n(&e->stats.tls_resumptions, __ATOMIC_RELAXED);
    out->queries_tls = __atomic_load_n(&e->stats.queries_tls, __ATOMIC_RELAXED);
    out->queries_cleartext =
        __atomic_load_n(&e->stats.queries_cleartext, __ATOMIC_RELAXED);
}

/* ---- queries ---- */

static void mark_ready(struct hastls_up_engine *e, struct query *q)
{
    if (q->ready)
        return;
    q->ready = 1;
    q->ready_next = NULL;
    if (e->ready_tail)
        e->ready_tail->ready_next = q;
    else
        e->ready = q;
    e->ready_tail = q;
}

static void unmark_ready(struct hastls_up_engine *e, struct query *q)
{
    if (!q->ready)
        return;
    struct query *prev = NULL;
    for (struct query *x = e->ready; x; prev = x, x = x->ready_next) {
        if (x != q)
            continue;
        if (prev)
            prev->ready_next = x->ready_next;
        else
            e->ready = x->ready_next;
        if (e->ready_tail == x)
            e->ready_tail = prev;
        break;
    }
    q->ready = 0;
}

static void query_free(struct hastls_up_engine *e, struct query *q)
{
    unmark_ready(e, q);
    for (struct query **pp = &e->queries; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            e->nqueries--;
            break;
        }
    free(q->msg);
    free(q);
}

static struct query *query_new(struct hastls_up_engine *e, uint64_t now,
                               const uint8_t *msg, size_t len)
{
    size_t qend;
    if (hastls_dns_check_query(msg, len, &qend) < 0)
        return NULL;
    struct query *q = calloc(1, sizeof *q);
    uint8_t *copy = malloc(len);
    if (!q || !copy) {
        free(q);
        free(copy);
        return NULL;
    }
    memcpy(copy, msg, len);
    q->msg = copy;
    q->len = len;
    q->serial = ++e->next_serial;
    q->deadline = now + e->cfg->timeout_ms;
    q->next = e->queries;
    e->queries = q;
    e->nqueries++;
    return q;
}

/* Queues the answer ANS to Q for Q's client, with Q's ID and question. */
static void answer_client(struct hastls_up_engine *e, const struct query *q,
                          const uint8_t *ans, size_t alen)
{
    if (!q->client)
        return;
    struct hastls_work *w = hastls_work_new(HASTLS_WORK_ANSWER, alen);
    if (!w) {
        LOG(e, HASTLS_LOG_WARN, "out of memory queuing an answer");
        return;
    }
    if (hastls_dns_reply_for(q->msg, q->len, ans, alen, w->msg, alen, &w->len) < 0) {
        hastls_work_release(w);
        return;
    }
    w->client = q->client;
    hastls_workq_push(e->work, w);
}

/* The prefetch PF is over: ANS (or NULL when it failed) goes to the queries
 * that waited for it, and to the loop for the prefetch store; without a
 * usable answer the followers go upstream themselves. */
static void prefetch_over(struct hastls_up_engine *e, struct query *pf,
                          const uint8_t *ans, size_t alen)
{
    int rcode = ans ? hastls_dns_rcode(ans, alen) : -1;
    int usable = rcode >= 0 && rcode != HASTLS_DNS_RCODE_SERVFAIL &&
                 rcode != HASTLS_DNS_RCODE_REFUSED;
    struct hastls_work *w = hastls_work_new(HASTLS_WORK_PREFETCH_DONE, usable ? alen : 0);
    if (w) {
        w->serial = pf->serial;
        if (usable)
            memcpy(w->msg, ans, alen);
        else
            w->msg = NULL;
        hastls_workq_push(e->work, w);
    }
    uint64_t serial = pf->serial;
    pf->serial = 0;
    for (struct query *f = e->queries, *next; f; f = next) {
        next = f->next;
        if (f->follow != serial)
            continue;
        f->follow = 0;
        if (usable) {
            answer_client(e, f, ans, alen);
            query_free(e, f);
        } else {
            mark_ready(e, f);
        }
    }
}

/* No transport is left for Q (or its time is up): a client gets SERVFAIL so
 * that libunbound stops waiting.  Frees Q. */
static void query_servfail(struct hastls_up_engine *e, struct query *q)
{
    if (q->prefetch) {
        prefetch_over(e, q, NULL, 0);
    } else if (q->client) {
        size_t qend;
        LOG(e, HASTLS_LOG_DEBUG, "no transport left for a query: answering SERVFAIL");
        if (hastls_dns_check_query(q->msg, q->len, &qend) == 0) {
            struct hastls_work *w = hastls_work_new(HASTLS_WORK_ANSWER, qend);
            if (w) {
                w->len = hastls_dns_servfail(q->msg, qend, w->msg, qend);
                w->client = q->client;
                if (w->len)
                    hastls_workq_push(e->work, w);
                else
                    hastls_work_release(w);
            }
        }
    }
    query_free(e, q);
}

static int conn_busy(const struct hastls_up_engine *e, const struct hastls_up_conn *c)
{
    for (const struct query *q = e->queries; q; q = q->next)
        if (q->c == c)
            return 1;
    return 0;
}

static uint16_t random_id(struct hastls_up_engine *e, uint64_t salt)
{
    uint16_t id;
    if (e->next_id)
        return e->next_id(e->id_arg);
    if (getrandom(&id, sizeof id, GRND_NONBLOCK) != sizeof id)
        id = (uint16_t)(salt * 40503u + (uintptr_t)&id);
    return id;
}

/* An ID no query sent on C uses. */
static uint16_t fresh_id(struct hastls_up_engine *e, const struct hastls_up_conn *c,
                         uint64_t now)
{
    for (uint64_t salt = now;; salt++) {
        uint16_t id = random_id(e, salt);
        int clash = 0;
        for (struct query *q = e->queries; q && !clash; q = q->next)
            clash = q->c == c && q->sent &&
                    (q->wire_id == id || (q->has_old_id && q->old_wire_id == id));
        if (!clash)
            return id;
    }
}

/* Queues Q on the READY connection C.  Returns 0, or -1 (out of memory, or
 * too much queued on C). */
static int query_send(struct hastls_up_engine *e, struct hastls_up_conn *c,
                      struct query *q, uint64_t now)
{
    size_t room = 2 + q->len + PAD_GROWTH, len;
    if (room > 2 + HASTLS_DNS_MAX_MSG)
        room = 2 + HASTLS_DNS_MAX_MSG;
    uint8_t *p = hastls_buf_reserve(&c->out, room);
    if (!p)
        return -1;
    uint16_t id = fresh_id(e, c, now);
    if (hastls_dns_upstream_query(q->msg, q->len, id, c->tls ? HASTLS_DNS_PAD_BLOCK : 0,
                                  p + 2, room - 2, &len) < 0 ||
        hastls_dns_stream_prefix(p, len) < 0)
        return -1;
    hastls_buf_commit(&c->out, 2 + len);
    q->wire_id = id;
    q->c = c;
    q->sent = 1;
    /* The first try on a connection gets half the attempt time, a resend
     * (see hastls_up_tick) the other half. */
    q->attempt_deadline = now + e->attempt_ms / 2;
    stat_add(c->tls ? &e->stats.queries_tls : &e->stats.queries_cleartext);
    return 0;
}

static struct hastls_up_conn *attempt_conn(struct hastls_up_engine *e, unsigned i)
{
    const struct attempt *a = &e->attempts[i];
    return &e->conns[2 * a->up + (a->tls ? 0 : 1)];
}

/* Whether an attempt from FROM on has a connection that is up, being set up
 * or not backing off.  A backing-off upstream is skipped only then: with no
 * alternative (one upstream, say) it is tried anyway rather than no DNS, but
 * not within HOLD_DOWN_MS of its last failure (libunbound retries a failed
 * query at once; each retry must not cost the upstream a handshake). */
static int alternative_after(struct hastls_up_engine *e, unsigned from, uint64_t now)
{
    for (unsigned i = from; i < e->nattempts; i++) {
        const struct hastls_up_conn *c = attempt_conn(e, i);
        if (c->st != HASTLS_UP_DOWN || now >= c->backoff_until)
            return 1;
    }
    return 0;
}

/* ---- connections ---- */

/* Asks the loop to open C; C counts as connecting from now on. */
static void conn_start(struct hastls_up_engine *e, struct hastls_up_conn *c, uint64_t now)
{
    c->st = HASTLS_UP_CONNECTING;
    c->deadline = now + e->attempt_ms;
    LOG(e, HASTLS_LOG_DEBUG, "upstream %s: connecting (%s)", c->label,
        c->tls ? "TLS" : "cleartext");
    hastls_workq_push(e->work, &c->connect_work);
}

/* C is down from now on; the loop closes its socket. */
static void conn_close(struct hastls_up_engine *e, struct hastls_up_conn *c)
{
    /* Not opened yet: nothing to open.  Opened: closed in queue order. */
    hastls_workq_remove(e->work, &c->connect_work);
    hastls_workq_push(e->work, &c->close_work);
    c->st = HASTLS_UP_DOWN;
    c->auth = 0;
    hastls_buf_free(&c->in);
    hastls_buf_free(&c->out);
    c->out_head = 0;
}

/* Marks every query waiting for or sent on C for a new transport.  With
 * SAME_ATTEMPT a query tries C's upstream again once (a connection the server
 * closed), else it moves on to the next transport. */
static void conn_requeue(struct hastls_up_engine *e, struct hastls_up_conn *c,
                         int same_attempt)
{
    for (struct query *q = e->queries; q; q = q->next) {
        if (q->c != c)
            continue;
        q->c = NULL;
        q->sent = 0;
        if (same_attempt && q->reconnects == 0)
            q->reconnects++;
        else
            q->attempt++;
        mark_ready(e, q);
    }
}

/* C failed: remember why, back off, and move its queries on. */
static void conn_fail(struct hastls_up_engine *e, struct hastls_up_conn *c, uint64_t now,
                      const char *why)
{
    record_failure(e, c, now, "%s", why);
    conn_close(e, c);
    c->fails++;
    c->failed_at = now;
    unsigned shift = c->fails - 1 < 6 ? c->fails - 1 : 6; /* 2^6 s is past the maximum */
    uint64_t b = (uint64_t)HASTLS_UP_BACKOFF_MIN_MS << shift;
    if (b > HASTLS_UP_BACKOFF_MAX_MS)
        b = HASTLS_UP_BACKOFF_MAX_MS;
    c->backoff_until = now + b;
    conn_requeue(e, c, 0);
}

/* C's upstream works again: its failures are forgotten. */
static void conn_recovered(struct hastls_up_conn *c)
{
    c->fails = 0;
    c->failed_at = 0;
    c->backoff_until = 0;
}

/* C carries queries from now on: the ones parked on it go out.  A handshake
 * is success enough for an upstream that failed otherwise, not for one that
 * closed connections without answering: that one needs an answer. */
static void conn_ready(struct hastls_up_engine *e, struct hastls_up_conn *c, uint64_t now)
{
    c->st = HASTLS_UP_READY;
    c->last_active = now;
    c->answered = 0;
    if (c->closes == 0)
        conn_recovered(c);
    for (struct query *q = e->queries; q; q = q->next)
        if (q->c == c && !q->sent)
            mark_ready(e, q);
}

/* ---- dispatching ---- */

/* Finds a transport for Q, starting at its current attempt: sends it on a
 * ready connection, parks it on one being set up (starting it if need be), or
 * answers SERVFAIL when the profile allows nothing more.  May free Q. */
static void dispatch(struct hastls_up_engine *e, struct query *q, uint64_t now)
{
    q->c = NULL;
    q->sent = 0;
    q->has_old_id = 0;
    while (q->attempt < e->nattempts) {
        const struct attempt *a = &e->attempts[q->attempt];
        struct hastls_up_conn *c = attempt_conn(e, q->attempt);
        int alt = alternative_after(e, q->attempt + 1, now);
        if (c->st == HASTLS_UP_DOWN) {
            int hold = c->failed_at && now < c->failed_at + HASTLS_UP_HOLD_DOWN_MS;
            if (hold || (now < c->backoff_until && alt)) {
                /* Tried again once the hold-down is over, or with an
                 * alternative left once the back-off is over too. */
                uint64_t hold_end = hold ? c->failed_at + HASTLS_UP_HOLD_DOWN_MS : 0;
                uint64_t until = hold_end;
                if (alt && c->backoff_until > until)
                    until = c->backoff_until;
                record_skip(e, c, now, until);
                q->attempt++;
                continue;
            }
            conn_start(e, c, now);
            if (c->fails && alt)
                LOG(e, HASTLS_LOG_DEBUG,
                    "upstream %s: probing it in the background after %s", c->label,
                    c->last_why[0] ? c->last_why : "a failure");
        }
        if (c->st != HASTLS_UP_READY && c->fails && alt) {
            /* A down upstream being probed: the query does not wait for it. */
            q->attempt++;
            continue;
        }
        if (c->st == HASTLS_UP_READY) {
            if ((a->need_auth && !c->auth) || query_send(e, c, q, now) < 0) {
                q->attempt++;
                continue;
            }
            return;
        }
        q->c = c; /* parked until C is ready or fails */
        return;
    }
    query_servfail(e, q);
}

/* Dispatches every marked query, in marking order.  Dispatching marks no
 * query (a prefetch answered SERVFAIL marks its followers, which this loop
 * then takes too). */
static void settle(struct hastls_up_engine *e, uint64_t now)
{
    while (e->ready) {
        struct query *q = e->ready;
        e->ready = q->ready_next;
        if (!e->ready)
            e->ready_tail = NULL;
        q->ready = 0;
        q->ready_next = NULL;
        dispatch(e, q, now);
    }
}

/* ---- events ---- */

static struct query *find_prefetch(struct hastls_up_engine *e, uint64_t serial)
{
    for (struct query *q = e->queries; q; q = q->next)
        if (q->prefetch && q->serial == serial)
            return q;
    return NULL;
}

int hastls_up_submit(struct hastls_up_engine *e, uint64_t now, void *client,
                     const uint8_t *msg, size_t len, uint64_t follow)
{
    struct query *q = query_new(e, now, msg, len);
    HASTLS_ENSURE_REF(q);
    q->client = client;
    if (follow && find_prefetch(e, follow)) {
        q->follow = follow; /* answered when the prefetch is */
        return 0;
    }
    mark_ready(e, q);
    settle(e, now);
    return 0;
}

uint64_t hastls_up_submit_prefetch(struct hastls_up_engine *e, uint64_t now,
                                   const uint8_t *msg, size_t len)
{
    struct query *q = query_new(e, now, msg, len);
    if (!q)
        return 0;
    q->prefetch = 1;
    uint64_t serial = q->serial;
    mark_ready(e, q);
    settle(e, now);
    return serial;
}

void hastls_up_client_gone(struct hastls_up_engine *e, const void *client)
{
    /* Queries not yet sent are dropped; answers in flight will be discarded. */
    for (struct query *q = e->queries, *next; q; q = next) {
        next = q->next;
        if (q->client != client)
            continue;
        q->client = NULL;
        if (!q->sent)
            query_free(e, q);
    }
}

void hastls_up_connected(struct hastls_up_engine *e, size_t i, uint64_t now)
{
    if (i >= e->nconns || e->conns[i].st != HASTLS_UP_CONNECTING)
        return;
    struct hastls_up_conn *c = &e->conns[i];
    if (c->tls)
        c->st = HASTLS_UP_HANDSHAKING;
    else
        conn_ready(e, c, now);
    settle(e, now);
}

/* Whether CFG's ALPN list needs the server to select one of its ids: it does
 * unless it offers "dot" (see hastls_up_secured). */
static int alpn_required(const struct hastls_config *cfg)
{
    if (!cfg->alpn[0])
        return 0;
    for (const char *p = cfg->alpn; *p;) {
        size_t n = strcspn(p, ",");
        if (n == 3 && !memcmp(p, "dot", 3))
            return 0;
        p += n + (p[n] == ',');
    }
    return 1;
}

void hastls_up_secured(struct hastls_up_engine *e, size_t i, uint64_t now,
                       const struct hastls_up_secured *s)
{
    if (i >= e->nconns || e->conns[i].st != HASTLS_UP_HANDSHAKING)
        return;
    struct hastls_up_conn *c = &e->conns[i];
    stat_add(s->resumed ? &e->stats.tls_resumptions : &e->stats.tls_handshakes);
    c->auth = s->authenticated;
    const char *why = s->why && s->why[0] ? s->why : "not authenticated";
    if (alpn_required(e->cfg) && !(s->alpn && s->alpn[0])) {
        char w[160];
        snprintf(w, sizeof w, "the server selected none of the ALPN ids offered (%s)",
                 e->cfg->alpn);
        conn_fail(e, c, now, w);
    } else if (!c->auth && e->cfg->privacy == HASTLS_PRIVACY_STRICT) {
        conn_fail(e, c, now, why);
    } else {
        if (!c->auth) /* allowed under this profile: a warning, not a failure */
            LOG(e, HASTLS_LOG_WARN, "upstream %s: %s (using it unauthenticated)",
                c->label, why);
        conn_ready(e, c, now);
    }
    settle(e, now);
}

void hastls_up_failed(struct hastls_up_engine *e, size_t i, uint64_t now, const char *why)
{
    if (i >= e->nconns || e->conns[i].st == HASTLS_UP_DOWN)
        return;
    conn_fail(e, &e->conns[i], now, why);
    settle(e, now);
}

void hastls_up_closed(struct hastls_up_engine *e, size_t i, uint64_t now)
{
    if (i >= e->nconns || e->conns[i].st == HASTLS_UP_DOWN)
        return;
    struct hastls_up_conn *c = &e->conns[i];
    int waiting = 0;
    for (const struct query *q = e->queries; q && !waiting; q = q->next)
        waiting = q->c == c && q->sent;
    if (c->answered)
        c->closes = 0;
    else if (waiting || c->fails)
        c->closes++;
    /* A probe of a down upstream closed before it answered anything proves
     * nothing but the fault: it fails too, or each query would probe again. */
    if (!c->answered && (c->fails || (waiting && c->closes >= HASTLS_UP_MAX_CLOSES))) {
        /* Every connection closed before any answer: reconnecting for each
         * query would cost the server a handshake per query.  A failure:
         * the upstream backs off across queries, which move on. */
        char why[128];
        snprintf(why, sizeof why,
                 "closed the connection before answering anything (%u in a row)",
                 c->closes);
        conn_fail(e, c, now, why);
        settle(e, now);
        return;
    }
    /* Not a failure (no back-off, RFC 7766 6.2.3), but the reason a lookup
     * may end without an answer. */
    if (waiting)
        (void)ring_put(e, c, now, "connection closed by the upstream before answering",
                       "", 0);
    conn_close(e, c);
    conn_requeue(e, c, 1);
    settle(e, now);
}

/* Follows the name at OFF as a resolver would (pointers in any direction,
 * RFC 1035 4.1.4).  Returns NULL when it reads, else what is wrong with it. */
static const char *name_problem(const uint8_t *msg, size_t len, size_t off)
{
    struct hastls_dns_rd r;
    hastls_dns_rd_init(&r, msg, len);
    if (hastls_dns_rd_seek(&r, off) < 0)
        return "name out of bounds";
    unsigned hops = 0;
    size_t wire = 0;
    for (;;) {
        uint8_t l, lo;
        if (hastls_dns_rd_u8(&r, &l) < 0)
            return "name runs past the end";
        if (l == 0)
            return NULL;
        if ((l & 0xc0) == 0xc0) {
            if (hastls_dns_rd_u8(&r, &lo) < 0)
                return "name runs past the end";
            /* More pointers than a name has labels: they go round. */
            if (++hops > HASTLS_DNS_MAX_WIRE_NAME / 2)
                return "compression loop";
            if (hastls_dns_rd_seek(&r, ((size_t)(l & 0x3f) << 8) | lo) < 0)
                return "compression pointer out of bounds";
            continue;
        }
        if (l & 0xc0)
            return "unknown label type";
        wire += 1u + l;
        if (wire > HASTLS_DNS_MAX_WIRE_NAME)
            return "name too long";
        if (hastls_dns_rd_skip(&r, l) < 0)
            return "name runs past the end";
    }
}

/* What keeps the answer MSG from being read (NULL: nothing): every owner
 * name, and the names that are the whole RDATA of NS, CNAME and PTR. */
static const char *answer_problem(const uint8_t *msg, size_t len)
{
    if (len < HASTLS_DNS_HEADER_LEN)
        return "shorter than a header";
    size_t off = HASTLS_DNS_HEADER_LEN, next;
    for (unsigned i = 0; i < hastls_dns_count(msg, 0); i++) {
        const char *p = name_problem(msg, len, off);
        if (p)
            return p;
        if (hastls_dns_skip_name(msg, len, off, &next) < 0 || next + 4 > len)
            return "question runs past the end";
        off = next + 4;
    }
    for (int sec = 1; sec <= 3; sec++)
        for (unsigned i = 0; i < hastls_dns_count(msg, sec); i++) {
            struct hastls_dns_rr rr;
            const char *p = name_problem(msg, len, off);
            if (p)
                return p;
            if (hastls_dns_parse_rr(msg, len, off, &rr, &next) < 0)
                return "record runs past the end";
            if ((rr.type == 2 || rr.type == 5 || rr.type == 12) &&
                (p = name_problem(msg, len, rr.rdata_off)))
                return p;
            off = next;
        }
    return NULL;
}

/* One whole message MSG arrived on C: the answer to one of its queries. */
static void on_answer(struct hastls_up_engine *e, struct hastls_up_conn *c, uint64_t now,
                      const uint8_t *msg, size_t len)
{
    uint16_t id;
    if (hastls_dns_response_id(msg, len, &id) < 0)
        return;
    struct query *q;
    for (q = e->queries; q; q = q->next)
        if (q->c == c && q->sent &&
            (q->wire_id == id || (q->has_old_id && q->old_wire_id == id)))
            break;
    if (!q) {
        LOG(e, HASTLS_LOG_DEBUG, "upstream %s: answer with unknown ID %u dropped",
            c->label, id);
        return;
    }
    if (!hastls_dns_same_question(q->msg, q->len, msg, len)) {
        LOG(e, HASTLS_LOG_DEBUG, "upstream %s: answer to another question dropped",
            c->label);
        return;
    }
    c->last_active = now;
    c->answered = 1;
    if (c->closes || c->fails) {
        c->closes = 0;
        conn_recovered(c);
    }
    /* An answer libunbound could not use would come back as a bare SERVFAIL:
     * say here why, and let the query try the next transport. */
    const char *bad = answer_problem(msg, len);
    if (bad || (msg[2] & 0x02)) {
        if (bad)
            record_failure(e, c, now, "malformed answer: %s", bad);
        else
            record_failure(e, c, now, "answer truncated (TC) over %s",
                           c->tls ? "TLS" : "TCP");
        q->attempt++;
        q->c = NULL;
        q->sent = 0;
        mark_ready(e, q);
        return;
    }
    if (hastls_dns_rcode(msg, len) == HASTLS_DNS_RCODE_SERVFAIL) {
        (void)ring_put(e, c, now, "answered SERVFAIL", "", 1);
    }
    if (q->prefetch)
        prefetch_over(e, q, msg, len);
    else
        answer_client(e, q, msg, len);
    query_free(e, q);
}

/* Whether MSG (LEN bytes, perhaps only its beginning) can be a DNS reply: a
 * complete header with QR set.  A server that answers something else (an
 * HTTP server on port 443 that negotiated no ALPN) fails at once: waiting for
 * the length its first bytes seem to announce, then reconnecting when it
 * closes, would cost a connection per query and say nothing. */
static int reply_is_dns(const uint8_t *msg, size_t len)
{
    uint16_t id;
    return hastls_dns_response_id(msg, len, &id) == 0;
}

/* C's server sent BYTES that are not DNS: C fails once, saying so, with the
 * beginning of what came when it is printable (an HTTP status line). */
static void conn_fail_not_dns(struct hastls_up_engine *e, struct hastls_up_conn *c,
                              uint64_t now, const uint8_t *bytes, size_t n)
{
    char seen[40];
    size_t k = 0;
    for (; k < n && k + 1 < sizeof seen && bytes[k] >= ' ' && bytes[k] < 0x7f; k++)
        seen[k] = (char)bytes[k];
    seen[k] = '\0';
    char why[160];
    if (k >= 4)
        snprintf(why, sizeof why, "the reply is not DNS (it begins \"%s\")", seen);
    else
        snprintf(why, sizeof why, "the reply is not DNS");
    conn_fail(e, c, now, why);
}

void hastls_up_received(struct hastls_up_engine *e, size_t i, uint64_t now,
                        const uint8_t *data, size_t n)
{
    if (i >= e->nconns || e->conns[i].st != HASTLS_UP_READY)
        return;
    struct hastls_up_conn *c = &e->conns[i];
    if (hastls_buf_append(&c->in, data, n) < 0) {
        conn_fail(e, c, now, "out of memory reading");
        settle(e, now);
        return;
    }
    size_t off = 0, mlen;
    const uint8_t *msg;
    while (c->st == HASTLS_UP_READY &&
           hastls_dns_stream_next(c->in.p, c->in.len, &off, &msg, &mlen)) {
        if (!reply_is_dns(msg, mlen)) {
            conn_fail_not_dns(e, c, now, msg - 2, 2 + mlen);
            break;
        }
        on_answer(e, c, now, msg, mlen);
    }
    if (c->st == HASTLS_UP_READY) {
        hastls_buf_consume(&c->in, off);
        /* A message still arriving shows what it is by its header. */
        if (c->in.len >= 2 + HASTLS_DNS_HEADER_LEN &&
            !reply_is_dns(c->in.p + 2, c->in.len - 2))
            conn_fail_not_dns(e, c, now, c->in.p, c->in.len);
    }
    settle(e, now);
}

/* The bytes of C's output up to the end of the message at its head: OUT
 * holds whole framed messages only, so its head is always one. */
static size_t head_message(const struct hastls_up_conn *c)
{
    if (c->out_head)
        return c->out_head < c->out.len ? c->out_head : c->out.len;
    size_t mlen;
    if (!hastls_dns_frame(c->out.p, c->out.len, &mlen))
        return c->out.len; /* cannot happen: queued by query_send */
    return 2 + mlen;
}

size_t hastls_up_pending(const struct hastls_up_engine *e, size_t i, const uint8_t **p)
{
    if (i >= e->nconns || e->conns[i].st != HASTLS_UP_READY || !e->conns[i].out.len) {
        *p = NULL;
        return 0;
    }
    const struct hastls_up_conn *c = &e->conns[i];
    *p = c->out.p;
    return c->tls ? head_message(c) : c->out.len;
}

void hastls_up_sent(struct hastls_up_engine *e, size_t i, size_t n)
{
    if (i >= e->nconns)
        return;
    struct hastls_up_conn *c = &e->conns[i];
    if (n > c->out.len)
        n = c->out.len;
    if (c->tls && n) {
        size_t head = head_message(c);
        c->out_head = n < head ? head - n : 0;
    }
    hastls_buf_consume(&c->out, n);
}

/* A query sent on a live connection had no answer within its attempt time:
 * ask once more with a new ID (a server may drop one query and answer the
 * rest, RFC 7766 allows it to be busy), then move on to the next transport. */
static void query_overdue(struct hastls_up_engine *e, struct query *q, uint64_t now)
{
    struct hastls_up_conn *c = q->c;
    if (q->resends == 0 && c->st == HASTLS_UP_READY) {
        q->resends++;
        uint16_t old = q->wire_id;
        LOG(e, HASTLS_LOG_DEBUG, "upstream %s: no answer within %u ms, asking again",
            c->label, e->attempt_ms / 2);
        if (query_send(e, c, q, now) == 0) {
            q->has_old_id = 1;
            q->old_wire_id = old;
            return;
        }
    }
    record_failure(e, c, now, "no answer within %u ms", e->attempt_ms);
    q->attempt++;
    q->c = NULL;
    q->sent = 0;
    mark_ready(e, q);
}

void hastls_up_tick(struct hastls_up_engine *e, uint64_t now)
{
    for (size_t i = 0; i < e->nconns; i++) {
        struct hastls_up_conn *c = &e->conns[i];
        if ((c->st == HASTLS_UP_CONNECTING || c->st == HASTLS_UP_HANDSHAKING) &&
            now >= c->deadline) {
            conn_fail(e, c, now,
                      c->st == HASTLS_UP_CONNECTING ? "timed out connecting"
                                                    : "TLS handshake timed out");
        } else if (c->st == HASTLS_UP_READY && !conn_busy(e, c) &&
                   now - c->last_active >= HASTLS_UP_IDLE_CLOSE_MS) {
            LOG(e, HASTLS_LOG_DEBUG, "upstream %s: closing idle connection", c->label);
            conn_close(e, c);
        }
    }
    for (;;) {
        struct query *q;
        for (q = e->queries; q; q = q->next)
            if (now >= q->deadline || (q->sent && now >= q->attempt_deadline))
                break;
        if (!q)
            break;
        if (now >= q->deadline)
            query_servfail(e, q);
        else
            query_overdue(e, q, now);
    }
    settle(e, now);
}

int hastls_up_timeout(const struct hastls_up_engine *e, uint64_t now)
{
    uint64_t t = now + 1000;
    for (size_t i = 0; i < e->nconns; i++) {
        const struct hastls_up_conn *c = &e->conns[i];
        if ((c->st == HASTLS_UP_CONNECTING || c->st == HASTLS_UP_HANDSHAKING) &&
            c->deadline < t)
            t = c->deadline;
        if (c->st == HASTLS_UP_READY && c->last_active + HASTLS_UP_IDLE_CLOSE_MS < t)
            t = c->last_active + HASTLS_UP_IDLE_CLOSE_MS;
    }
    for (const struct query *q = e->queries; q; q = q->next) {
        if (q->deadline < t)
            t = q->deadline;
        if (q->sent && q->attempt_deadline < t)
            t = q->attempt_deadline;
    }
    return t <= now ? 0 : (int)(t - now);
}
