/* shim/resolver/resolver.c: libunbound validates and caches; the DoT transport
 * (dot.c) carries its queries.  See resolver.h.
 *
 * libunbound runs in threaded asynchronous mode: ub_resolve_async hands the
 * queries of one lookup to its worker together (one round trip for A, AAAA and
 * HASTLS), and the transport's event thread runs ub_process when results are
 * ready.  Each lookup waits on a condition variable of its own "batch" with the
 * configuration's deadline; a batch is reference-counted because a result may
 * arrive after its waiter gave up.
 *
 * Threads: the transport's event thread and libunbound's worker both start
 * with every signal blocked (threads.h).  libunbound creates its worker inside
 * the first ub_resolve_async, in whatever thread makes it, inheriting that
 * thread's mask; so until one call has succeeded, each runs with all signals
 * blocked around it.
 */
#include "shim/resolver/resolver.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <unbound.h>

#include "policy/checked.h"
#include "policy/dnswire.h"
#include "shim/resolver/dot.h"
#include "shim/resolver/logf.h"
#include "shim/resolver/threads.h"

/* Names whose HASTLS query went unanswered past its grace (see resolver.h):
 * their next lookups do not wait for it again, for LATE_MEMORY_MS or until a
 * late answer arrives. */
#define LATE_MEMORY 64
#define LATE_MEMORY_MS 30000

struct late_name {
    uint64_t until; /* hastls_dot_now_ms(); 0: free */
    char name[HASTLS_NAME_MAX];
};

struct batch;

struct hastls_resolver {
    struct hastls_config cfg;
    hastls_log_fn log;
    hastls_late_fn late;     /* __atomic builtins */
    int no_grace;            /* __atomic builtins: hastls_resolver_set_grace(0) */
    pthread_mutex_t late_mu; /* guards LATE_NAMES, LATE_NEXT, LINGERING */
    struct late_name late_names[LATE_MEMORY];
    unsigned late_next;
    struct batch *lingering; /* batches with a companion query still out */
    struct ub_ctx *ub;
    struct hastls_dot *dot;
    pthread_mutex_t start_mu; /* guards STARTED and START_ERR */
    pthread_mutex_t slots_mu; /* guards INFLIGHT; SLOTS_CV signals a release */
    pthread_cond_t slots_cv;
    size_t inflight; /* queries handed to libunbound by unfinished lookups */
    int started;     /* 1 running, -1 failed to start */
    char start_err[256];
    int worker_started; /* libunbound's worker exists (__atomic builtins) */
};

/* libunbound's pool of TCP streams to our forwarder, and the most queries
 * lookups may have inside libunbound at once: each may need a few more for
 * the DNSSEC chain, and a full pool makes libunbound fail queries instead of
 * queueing them, so lookups beyond the limit wait for a free slot. */
#define RESOLVER_TCP_STREAMS "256"
#define RESOLVER_MAX_INFLIGHT 96

struct slot {
    struct batch *b;
    int async_id;
    int done;
    int err;
    struct ub_result *res;
    int companion; /* the HASTLS query of a host lookup (see resolver.h) */
    int lingering; /* given up on by its lookup, left to finish */
    char *name;    /* a lingering query's name */
    uint16_t type;
};

struct batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct hastls_resolver *r;
    struct batch *linger_next; /* on R->LINGERING while a slot lingers */
    size_t nlinger;            /* lingering slots whose callback has not come */
    int refs; /* the waiter + every query whose callback may still come */
    size_t pending;
    int abandoned;
    size_t n;
    struct slot slots[];
};

#define rlog(r, lvl, ...) hastls_logf((r)->log, (r)->cfg.log_level, lvl, __VA_ARGS__)

static int ub_opt(struct ub_ctx *ub, const char *opt, const char *val, char *err,
                  size_t errlen)
{
    int e = ub_ctx_set_option(ub, opt, val);
    if (e) {
        snprintf(err, errlen, "libunbound option %s %s: %s", opt, val, ub_strerror(e));
        return -1;
    }
    return 0;
}

/* A condition variable whose timed waits count CLOCK_MONOTONIC, as every
 * deadline here does (one counting wall-clock time would wait wrongly).
 * Returns 0 or -1. */
static HASTLS_MUST_CHECK int cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    HASTLS_GUARD_ZERO(pthread_condattr_init(&ca));
    int e = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (e == 0)
        e = pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
    HASTLS_GUARD_ZERO(e);
    return 0;
}

/* START_MU, SLOTS_MU, SLOTS_CV and LATE_MU, all or none.  Returns 0 or
 * -1. */
static HASTLS_MUST_CHECK int locks_init(struct hastls_resolver *r)
{
    if (pthread_mutex_init(&r->start_mu, NULL) != 0)
        return -1;
    if (pthread_mutex_init(&r->slots_mu, NULL) != 0) {
        pthread_mutex_destroy(&r->start_mu);
        return -1;
    }
    if (cond_init_monotonic(&r->slots_cv) < 0) {
        pthread_mutex_destroy(&r->start_mu);
        pthread_mutex_destroy(&r->slots_mu);
        return -1;
    }
    if (pthread_mutex_init(&r->late_mu, NULL) != 0) {
        pthread_mutex_destroy(&r->start_mu);
        pthread_mutex_destroy(&r->slots_mu);
        pthread_cond_destroy(&r->slots_cv);
        return -1;
    }
    return 0;
}

static void locks_destroy(struct hastls_resolver *r)
{
    pthread_mutex_destroy(&r->start_mu);
    pthread_mutex_destroy(&r->slots_mu);
    pthread_cond_destroy(&r->slots_cv);
    pthread_mutex_destroy(&r->late_mu);
}

struct hastls_resolver *hastls_resolver_new(const struct hastls_config *cfg,
                                            hastls_log_fn log, char *err, size_t errlen)
{
    struct hastls_resolver *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->cfg = *cfg;
    r->log = log;
    if (locks_init(r) < 0) {
        snprintf(err, errlen, "cannot initialise the resolver's locks");
        free(r);
        return NULL;
    }
    if (r->cfg.n_upstreams == 0) {
        snprintf(err, errlen, "no upstream configured");
        goto fail;
    }
    r->ub = ub_ctx_create();
    if (!r->ub) {
        snprintf(err, errlen, "cannot create a libunbound context");
        goto fail;
    }
    /* Our forwarder is on 127.0.0.1, which unbound avoids by default; it is
     * reached over TCP because the transport is a TCP relay.  libunbound 1.17
     * answers SERVFAIL at once when its pool of outgoing TCP streams (10 by
     * default) is exhausted by concurrent lookups, so the pool is larger (each
     * stream costs a 64 KiB buffer).  A stub needs no UDP port range and only
     * small caches: this lives inside every program (DESIGN: <= 8 MiB). */
    static const char *const opts[][2] = {
        {"do-not-query-localhost:", "no"},
        {"tcp-upstream:", "yes"},
        {"outgoing-num-tcp:", RESOLVER_TCP_STREAMS},
        {"outgoing-range:", "64"},
        {"msg-cache-size:", "1m"},
        {"rrset-cache-size:", "2m"},
        {"key-cache-size:", "1m"},
        {"neg-cache-size:", "256k"},
        {"msg-cache-slabs:", "1"},
        {"rrset-cache-slabs:", "1"},
        {"key-cache-slabs:", "1"},
        {"infra-cache-slabs:", "1"},
        /* RFC 8145 key-tag queries: an extra query that only tells the
         * upstream which trust anchor we hold. */
        {"trust-anchor-signaling:", "no"},
        /* Reverse lookups of loopback and unique-local addresses: libunbound
         * answers these RFC 6303 zones itself (NXDOMAIN) by default, so a
         * signed reverse zone for them could never be reached.  They go to
         * the configured upstream instead, over TLS like every query, which
         * applies RFC 6303 itself; names from /etc/hosts are answered by the
         * shim before any lookup.  ("nodefault" through ub_ctx_set_option
         * has no effect in libunbound 1.17; "transparent" does.) */
        {"local-zone:", "127.in-addr.arpa. transparent"},
        {"local-zone:", "d.f.ip6.arpa. transparent"},
    };
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (ub_opt(r->ub, opts[i][0], opts[i][1], err, errlen) < 0)
            goto fail;
    /* The transport does the retrying, fail-over and deadline itself.  Left
     * to its defaults, libunbound gives up on our forwarder after 376 ms (or
     * a few RTTs once measured), abandons the stream and sends the query
     * again, piling up streams; and after repeated timeouts it would consider
     * the forwarder down for minutes.  So it waits as long as a lookup may
     * take and keeps asking. */
    char ms[16];
    snprintf(ms, sizeof ms, "%u", r->cfg.timeout_ms);
    if (ub_opt(r->ub, "unknown-server-time-limit:", ms, err, errlen) < 0 ||
        ub_opt(r->ub, "infra-cache-min-rtt:", ms, err, errlen) < 0 ||
        ub_opt(r->ub, "infra-keep-probing:", "yes", err, errlen) < 0)
        goto fail;
    if (r->cfg.trust_anchor[0]) {
        if (access(r->cfg.trust_anchor, R_OK) < 0) {
            snprintf(err, errlen, "cannot read trust anchor %s: %s", r->cfg.trust_anchor,
                     strerror(errno));
            goto fail;
        }
        int e = ub_ctx_add_ta_file(r->ub, r->cfg.trust_anchor);
        if (e) {
            snprintf(err, errlen, "trust anchor %s: %s", r->cfg.trust_anchor,
                     ub_strerror(e));
            goto fail;
        }
    }
    r->dot = hastls_dot_new(&r->cfg, log, err, errlen);
    if (!r->dot)
        goto fail;
    return r;
fail:
    if (r->ub)
        ub_ctx_delete(r->ub);
    locks_destroy(r);
    free(r);
    return NULL;
}

static void process_results(void *arg)
{
    struct hastls_resolver *r = arg;
    ub_process(r->ub);
}

/* Starts the transport and points libunbound at it, once. */
static int ensure_started(struct hastls_resolver *r, char *err, size_t errlen)
{
    pthread_mutex_lock(&r->start_mu);
    if (r->started == 0) {
        int e = ub_ctx_async(r->ub, 1);
        int fd = e ? -1 : ub_fd(r->ub);
        if (e || fd < 0) {
            snprintf(r->start_err, sizeof r->start_err, "libunbound async mode: %s",
                     ub_strerror(e ? e : UB_INITFAIL));
            r->started = -1;
        } else {
            int port = hastls_dot_start(r->dot, fd, process_results, r, r->start_err,
                                        sizeof r->start_err);
            char fwd[64];
            snprintf(fwd, sizeof fwd, "127.0.0.1@%d", port);
            if (port < 0) {
                r->started = -1;
            } else if ((e = ub_ctx_set_fwd(r->ub, fwd)) != 0) {
                snprintf(r->start_err, sizeof r->start_err, "libunbound forwarder: %s",
                         ub_strerror(e));
                r->started = -1;
            } else {
                r->started = 1;
                rlog(r, HASTLS_LOG_DEBUG,
                     "resolver started, transport on %s (privacy=%s)", fwd,
                     hastls_privacy_name(r->cfg.privacy));
            }
        }
    }
    int ok = r->started == 1;
    if (!ok)
        snprintf(err, errlen, "%s", r->start_err);
    pthread_mutex_unlock(&r->start_mu);
    return ok ? 0 : -1;
}

static void batch_unref(struct batch *b)
{
    pthread_mutex_lock(&b->mu);
    int last = --b->refs == 0;
    pthread_mutex_unlock(&b->mu);
    if (!last)
        return;
    for (size_t i = 0; i < b->n; i++) {
        if (b->slots[i].res)
            ub_resolve_free(b->slots[i].res);
        free(b->slots[i].name);
    }
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b);
}

static void late_result(struct hastls_resolver *r, struct batch *b, struct slot *s);

static void on_result(void *arg, int err, struct ub_result *res)
{
    struct slot *s = arg;
    struct batch *b = s->b;
    pthread_mutex_lock(&b->mu);
    s->err = err;
    s->res = res;
    s->done = 1;
    b->pending--;
    int late = s->lingering;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (late)
        late_result(b->r, b, s);
    batch_unref(b);
}

/* ub_resolve_async for Q, its result to S; until libunbound's worker exists
 * (it is created inside the first successful call), with every signal
 * blocked, so that the worker inherits a mask blocking all of them. */
static int resolve_async(struct hastls_resolver *r, const struct hastls_query *q,
                         struct slot *s)
{
    if (__atomic_load_n(&r->worker_started, __ATOMIC_ACQUIRE))
        return ub_resolve_async(r->ub, q->name, q->type, 1 /* IN */, s, on_result,
                                &s->async_id);
    sigset_t old;
    if (hastls_signals_block(&old) < 0)
        return UB_INITFAIL; /* never let the worker start with signals open */
    int e =
        ub_resolve_async(r->ub, q->name, q->type, 1 /* IN */, s, on_result, &s->async_id);
    hastls_signals_restore(&old);
    if (e == UB_NOERROR)
        __atomic_store_n(&r->worker_started, 1, __ATOMIC_RELEASE);
    return e;
}

static void strip_dot(char *s)
{
    size_t n = strlen(s);
    if (n > 1 && s[n - 1] == '.' && (n < 2 || s[n - 2] != '\\'))
        s[n - 1] = '\0';
}

/* How far back a lookup that sent nothing upstream (libunbound answered
 * from what it remembers of earlier failures) looks for their reasons. */
#define EARLIER_FAILURES_MS 60000

/* The transport's reasons for a SERVFAIL, worded after the privacy profile:
 * what happened to each upstream since SINCE, or, when nothing went
 * upstream, the failures that libunbound still remembers.  WHAT, when not
 * NULL, is how the lookup ended (a time-out) and comes first. */
static void failure_reason(struct hastls_resolver *r, uint64_t since, const char *what,
                           char *out, size_t outlen)
{
    char ups[360];
    unsigned answered = 0;
    unsigned n = hastls_dot_failures(r->dot, since, ups, sizeof ups, &answered);
    const char *kind;
    switch (r->cfg.privacy) {
    case HASTLS_PRIVACY_STRICT:
        kind = "no authenticated DNS-over-TLS upstream reachable";
        break;
    case HASTLS_PRIVACY_ENCRYPTED:
        kind = "no DNS-over-TLS upstream reachable";
        break;
    case HASTLS_PRIVACY_OPPORTUNISTIC:
        kind = "no upstream reachable over TLS or cleartext";
        break;
    default:
        kind = "no upstream reachable";
        break;
    }
    const char *p = hastls_privacy_name(r->cfg.privacy);
    if (what) {
        if (n)
            snprintf(out, outlen, "%s; %s (privacy=%s): %s", what, kind, p, ups);
        else
            snprintf(out, outlen, "%s", what);
    } else if (n && answered == n) {
        snprintf(out, outlen, "the upstream answered SERVFAIL (%s)", ups);
    } else if (n) {
        snprintf(out, outlen, "%s (privacy=%s): %s", kind, p, ups);
    } else {
        uint64_t from = since > EARLIER_FAILURES_MS ? since - EARLIER_FAILURES_MS : 0;
        n = hastls_dot_failures(r->dot, from, ups, sizeof ups, &answered);
        if (n)
            snprintf(out, outlen,
                     "%s (privacy=%s): nothing asked upstream, earlier failures "
                     "stand: %s",
                     n == answered ? "SERVFAIL remembered" : kind, p, ups);
        else
            snprintf(out, outlen,
                     "libunbound answered SERVFAIL without asking an "
                     "upstream");
    }
}

static struct hastls_answer *answer_new(const struct hastls_query *q)
{
    struct hastls_answer *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->qtype = q->type;
    a->rcode = -1;
    snprintf(a->qname, sizeof a->qname, "%s", q->name);
    snprintf(a->canonname, sizeof a->canonname, "%s", q->name);
    strip_dot(a->canonname);
    return a;
}

/* Fills A from libunbound's result.  Returns 0 or -1 (out of memory). */
static int answer_fill(struct hastls_resolver *r, struct hastls_answer *a,
                       const struct slot *s, uint64_t since)
{
    const struct ub_result *res = s->res;
    if (s->err || !res) {
        a->status = HASTLS_SEC_FAILED;
        snprintf(a->reason, sizeof a->reason, "libunbound: %s", ub_strerror(s->err));
        return 0;
    }
    a->rcode = res->rcode;
    a->ttl = res->ttl > 0 ? (uint32_t)res->ttl : 0;
    if (res->canonname) {
        snprintf(a->canonname, sizeof a->canonname, "%s", res->canonname);
        strip_dot(a->canonname);
    }
    if (res->answer_packet && res->answer_len > 0) {
        a->packet = malloc((size_t)res->answer_len);
        if (!a->packet)
            return -1;
        memcpy(a->packet, res->answer_packet, (size_t)res->answer_len);
        a->packet_len = (size_t)res->answer_len;
    }
    if (res->bogus) {
        a->status = HASTLS_SEC_BOGUS;
        snprintf(a->reason, sizeof a->reason, "%s",
                 res->why_bogus ? res->why_bogus : "DNSSEC validation failed");
    } else if (res->rcode == HASTLS_DNS_RCODE_SERVFAIL && !res->havedata) {
        a->status = HASTLS_SEC_FAILED;
        failure_reason(r, since, NULL, a->reason, sizeof a->reason);
    } else {
        a->status = res->secure ? HASTLS_SEC_SECURE : HASTLS_SEC_INSECURE;
    }
    if (a->packet && a->status != HASTLS_SEC_FAILED) {
        size_t n, total;
        if (hastls_dns_answer_records(a->packet, a->packet_len, a->qtype, NULL, 0, &n,
                                      &total) == 0 &&
            total > 0) {
            a->rr = calloc(total, sizeof *a->rr);
            if (!a->rr)
                return -1;
            /* The same message parsed a moment ago: cannot fail now, but a
             * failure must not leave records half counted. */
            if (hastls_dns_answer_records(a->packet, a->packet_len, a->qtype, a->rr,
                                          total, &a->n_rr, NULL) < 0)
                a->n_rr = 0;
        }
    }
    return 0;
}

void hastls_answer_free(struct hastls_answer *a)
{
    if (!a)
        return;
    free(a->rr);
    free(a->packet);
    free(a);
}

/* ---- the HASTLS query of a host lookup (see resolver.h) ---- */

static int is_address_type(uint16_t t)
{
    return t == 1 /* A */ || t == 28 /* AAAA */;
}

static void slots_give(struct hastls_resolver *r, size_t n);

/* Whether NAME's HASTLS query went unanswered lately.  NOW in ms. */
static int late_remembered(struct hastls_resolver *r, const char *name, uint64_t now)
{
    int found = 0;
    pthread_mutex_lock(&r->late_mu);
    for (unsigned i = 0; i < LATE_MEMORY && !found; i++)
        found = r->late_names[i].until > now && !strcasecmp(r->late_names[i].name, name);
    pthread_mutex_unlock(&r->late_mu);
    return found;
}

/* Remembers (UNTIL > 0) or forgets (UNTIL 0) that NAME's HASTLS query went
 * unanswered.  A new name takes a free or expired place, else the oldest. */
static void late_set(struct hastls_resolver *r, const char *name, uint64_t now,
                     uint64_t until)
{
    pthread_mutex_lock(&r->late_mu);
    struct late_name *e = NULL, *spare = NULL;
    for (unsigned i = 0; i < LATE_MEMORY && !e; i++) {
        struct late_name *x = &r->late_names[i];
        if (x->until > now && !strcasecmp(x->name, name))
            e = x;
        else if (!spare && x->until <= now)
            spare = x;
    }
    if (!e && until) {
        e = spare ? spare : &r->late_names[r->late_next++ % LATE_MEMORY];
        snprintf(e->name, sizeof e->name, "%s", name);
    }
    if (e)
        e->until = until;
    pthread_mutex_unlock(&r->late_mu);
}

/* A lingering slot of B is over. */
static void linger_done(struct hastls_resolver *r, struct batch *b)
{
    pthread_mutex_lock(&b->mu);
    int last = --b->nlinger == 0;
    pthread_mutex_unlock(&b->mu);
    if (last) {
        pthread_mutex_lock(&r->late_mu);
        for (struct batch **pp = &r->lingering; *pp; pp = &(*pp)->linger_next)
            if (*pp == b) {
                *pp = b->linger_next;
                break;
            }
        pthread_mutex_unlock(&r->late_mu);
    }
    slots_give(r, 1);
}

/* The answer to a HASTLS (or fetched-along TLSA) query its lookup gave
 * up on: an answer (not a failure) ends the name's memory of the time-out
 * and goes to the late handler, in the event thread. */
static void late_result(struct hastls_resolver *r, struct batch *b, struct slot *s)
{
    const struct ub_result *res = s->res;
    int usable = !s->err && res &&
                 (res->bogus || res->rcode != HASTLS_DNS_RCODE_SERVFAIL || res->havedata);
    if (usable) {
        late_set(r, s->name, 0, 0);
        hastls_late_fn fn = __atomic_load_n(&r->late, __ATOMIC_ACQUIRE);
        struct hastls_query q = {s->name, s->type};
        struct hastls_answer *a = fn ? answer_new(&q) : NULL;
        if (a && answer_fill(r, a, s, hastls_dot_now_ms()) == 0) {
            rlog(r, HASTLS_LOG_DEBUG, "late %s answer for %s: %s",
                 s->type == r->cfg.record_type ? "HASTLS" : "TLSA", s->name,
                 hastls_sec_name(a->status));
            fn(a);
        }
        hastls_answer_free(a);
    }
    linger_done(r, b);
}

void hastls_resolver_set_late(struct hastls_resolver *r, hastls_late_fn fn)
{
    __atomic_store_n(&r->late, fn, __ATOMIC_RELEASE);
}

void hastls_resolver_set_grace(struct hastls_resolver *r, int on)
{
    __atomic_store_n(&r->no_grace, !on, __ATOMIC_RELAXED);
}

/* Whether every query of B but the HASTLS ones has its result. */
static int addresses_done(const struct batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (!b->slots[i].companion && !b->slots[i].done)
            return 0;
    return 1;
}

/* UNTIL, or MS from now when that is sooner, into OUT. */
static void deadline_within(const struct timespec *until, unsigned ms,
                            struct timespec *out)
{
    clock_gettime(CLOCK_MONOTONIC, out);
    out->tv_sec += ms / 1000;
    out->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (out->tv_nsec >= 1000000000L) {
        out->tv_sec++;
        out->tv_nsec -= 1000000000L;
    }
    if (out->tv_sec > until->tv_sec ||
        (out->tv_sec == until->tv_sec && out->tv_nsec > until->tv_nsec))
        *out = *until;
}

/* Waits, B->MU held, until every result of B is in, or UNTIL, or the grace
 * of its HASTLS queries (REMEMBERED: none) is over once the others are in. */
static void batch_wait(struct hastls_resolver *r, struct batch *b,
                       const struct timespec *until, int remembered)
{
    int companions = 0;
    for (size_t i = 0; i < b->n; i++)
        companions |= b->slots[i].companion;
    struct timespec grace;
    int in_grace = 0;
    while (b->pending > 0) {
        if (companions && !in_grace && addresses_done(b)) {
            if (remembered)
                return;
            in_grace = 1;
            deadline_within(until, r->cfg.timeout_ms / HASTLS_RESOLVER_GRACE_DIV, &grace);
        }
        if (pthread_cond_timedwait(&b->cv, &b->mu, in_grace ? &grace : until) ==
            ETIMEDOUT)
            return;
    }
}

/* Leaves B's unanswered HASTLS queries to finish (B->MU held) when the
 * address answers are all in: their answers are cached, and reach the late
 * handler.  Each keeps its place among the queries in flight and its
 * reference to B.  Returns how many. */
static size_t batch_linger(struct hastls_resolver *r, struct batch *b,
                           const struct hastls_query *q)
{
    if (!addresses_done(b) || b->n > RESOLVER_MAX_INFLIGHT)
        return 0;
    size_t n = 0;
    uint64_t now = hastls_dot_now_ms();
    for (size_t i = 0; i < b->n; i++) {
        struct slot *s = &b->slots[i];
        if (s->done || !s->companion || !(s->name = strdup(q[i].name)))
            continue;
        s->type = q[i].type;
        s->lingering = 1;
        n++;
        /* Before its answer can come (B->MU is held), which forgets it. */
        late_set(r, s->name, now, now + LATE_MEMORY_MS);
    }
    if (n) {
        b->nlinger = n;
        pthread_mutex_lock(&r->late_mu);
        b->linger_next = r->lingering;
        r->lingering = b;
        pthread_mutex_unlock(&r->late_mu);
    }
    return n;
}

/* Waits until N more queries may go to libunbound (or UNTIL passes).
 * Returns 0 with the slots taken, or -1 on timeout. */
static int slots_take(struct hastls_resolver *r, size_t n, const struct timespec *until)
{
    if (n > RESOLVER_MAX_INFLIGHT)
        n = RESOLVER_MAX_INFLIGHT; /* one huge batch still gets through alone */
    int rc = 0;
    pthread_mutex_lock(&r->slots_mu);
    while (rc == 0 && r->inflight + n > RESOLVER_MAX_INFLIGHT)
        rc = pthread_cond_timedwait(&r->slots_cv, &r->slots_mu, until);
    if (rc == 0)
        r->inflight += n;
    pthread_mutex_unlock(&r->slots_mu);
    return rc == 0 ? 0 : -1;
}

static void slots_give(struct hastls_resolver *r, size_t n)
{
    if (n > RESOLVER_MAX_INFLIGHT)
        n = RESOLVER_MAX_INFLIGHT;
    pthread_mutex_lock(&r->slots_mu);
    r->inflight -= n;
    pthread_cond_broadcast(&r->slots_cv);
    pthread_mutex_unlock(&r->slots_mu);
}

int hastls_resolver_lookup(struct hastls_resolver *r, const struct hastls_query *q,
                           size_t nq, struct hastls_answer **ans)
{
    uint64_t start = hastls_dot_now_ms();
    for (size_t i = 0; i < nq; i++)
        ans[i] = NULL;
    for (size_t i = 0; i < nq; i++)
        if (!(ans[i] = answer_new(&q[i])))
            goto oom;
    if (nq == 0)
        return 0;

    char err[256];
    if (ensure_started(r, err, sizeof err) < 0) {
        for (size_t i = 0; i < nq; i++) {
            ans[i]->status = HASTLS_SEC_FAILED;
            snprintf(ans[i]->reason, sizeof ans[i]->reason, "%s", err);
        }
        return 0;
    }

    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += r->cfg.timeout_ms / 1000;
    until.tv_nsec += (long)(r->cfg.timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    if (slots_take(r, nq, &until) < 0) {
        for (size_t i = 0; i < nq; i++) {
            ans[i]->status = HASTLS_SEC_FAILED;
            snprintf(ans[i]->reason, sizeof ans[i]->reason,
                     "timed out after %u ms waiting behind other lookups",
                     r->cfg.timeout_ms);
        }
        return 0;
    }
    struct batch *b = calloc(1, sizeof *b + nq * sizeof b->slots[0]);
    if (!b) {
        slots_give(r, nq);
        goto oom;
    }
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        free(b);
        slots_give(r, nq);
        goto oom;
    }
    if (cond_init_monotonic(&b->cv) < 0) {
        pthread_mutex_destroy(&b->mu);
        free(b);
        slots_give(r, nq);
        goto oom;
    }
    b->n = nq;
    b->refs = 1;
    b->r = r;
    int has_address = 0;
    for (size_t i = 0; i < nq && !__atomic_load_n(&r->no_grace, __ATOMIC_RELAXED); i++)
        has_address |= is_address_type(q[i].type);
    int remembered = 0;
    for (size_t i = 0; i < nq; i++) {
        struct slot *s = &b->slots[i];
        /* The HASTLS query, and a TLSA query fetched along for the TLS
         * handshake to come (shim/core/dane.h), get only the grace; only
         * the HASTLS query's lateness is remembered for the name. */
        s->companion = has_address && !is_address_type(q[i].type) &&
                       (q[i].type == r->cfg.record_type || q[i].type == 52 /* TLSA */);
        if (s->companion && q[i].type == r->cfg.record_type)
            remembered = late_remembered(r, q[i].name, start);
    }

    for (size_t i = 0; i < nq; i++) {
        struct slot *s = &b->slots[i];
        s->b = b;
        pthread_mutex_lock(&b->mu);
        b->refs++;
        b->pending++;
        pthread_mutex_unlock(&b->mu);
        int e = resolve_async(r, &q[i], s);
        if (e) {
            pthread_mutex_lock(&b->mu);
            s->done = 1;
            s->err = e;
            b->pending--;
            b->refs--;
            pthread_mutex_unlock(&b->mu);
        }
    }

    pthread_mutex_lock(&b->mu);
    batch_wait(r, b, &until, remembered);
    size_t nlinger = batch_linger(r, b, q);
    b->abandoned = b->pending > 0;
    /* Take the results delivered so far; later ones stay with the batch. */
    struct ub_result **res = calloc(nq, sizeof *res);
    int *done = calloc(nq, sizeof *done);
    int *errs = calloc(nq, sizeof *errs);
    int *ids = calloc(nq, sizeof *ids);
    int *lingers = calloc(nq, sizeof *lingers);
    for (size_t i = 0; res && done && errs && ids && lingers && i < nq; i++) {
        done[i] = b->slots[i].done;
        lingers[i] = b->slots[i].lingering;
        ids[i] = b->slots[i].async_id;
        if (done[i]) {
            res[i] = b->slots[i].res;
            errs[i] = b->slots[i].err;
            b->slots[i].res = NULL;
        }
    }
    pthread_mutex_unlock(&b->mu);
    if (!res || !done || !errs || !ids || !lingers) {
        /* Leave everything to the batch; it frees what arrives. */
        free(res);
        free(done);
        free(errs);
        free(ids);
        free(lingers);
        batch_unref(b);
        slots_give(r, nq - nlinger);
        goto oom;
    }
    for (size_t i = 0; i < nq; i++)
        if (!lingers[i] && !done[i] && ub_cancel(r->ub, ids[i]) == UB_NOERROR)
            batch_unref(b); /* its callback will never come */
    batch_unref(b);
    slots_give(r, nq - nlinger);

    int rc = 0;
    for (size_t i = 0; i < nq; i++) {
        if (done[i]) {
            struct slot s = {.err = errs[i], .res = res[i]};
            if (answer_fill(r, ans[i], &s, start) < 0)
                rc = -1;
            if (res[i])
                ub_resolve_free(res[i]);
        } else if (lingers[i] && remembered) {
            ans[i]->status = HASTLS_SEC_FAILED;
            snprintf(ans[i]->reason, sizeof ans[i]->reason,
                     "not waited for: this name's HASTLS query went unanswered within "
                     "the last %u s",
                     LATE_MEMORY_MS / 1000);
        } else if (lingers[i]) {
            ans[i]->status = HASTLS_SEC_FAILED;
            char what[96];
            snprintf(what, sizeof what, "no answer within %u ms of the address answers",
                     r->cfg.timeout_ms / HASTLS_RESOLVER_GRACE_DIV);
            failure_reason(r, start, what, ans[i]->reason, sizeof ans[i]->reason);
        } else {
            ans[i]->status = HASTLS_SEC_FAILED;
            char what[64];
            snprintf(what, sizeof what, "timed out after %u ms", r->cfg.timeout_ms);
            failure_reason(r, start, what, ans[i]->reason, sizeof ans[i]->reason);
        }
    }
    free(res);
    free(done);
    free(errs);
    free(ids);
    free(lingers);
    if (rc < 0)
        goto oom;
    return 0;
oom:
    for (size_t i = 0; i < nq; i++) {
        hastls_answer_free(ans[i]);
        ans[i] = NULL;
    }
    return -1;
}

void hastls_resolver_free(struct hastls_resolver *r)
{
    if (!r)
        return;
    /* The event thread calls ub_process: stop it before deleting the context.
     * The listener's connections stay open until libunbound's worker is gone,
     * so it never writes to a closed socket (SIGPIPE in a thread of its). */
    hastls_dot_stop(r->dot);
    if (r->ub)
        ub_ctx_delete(r->ub);
    /* No callback comes any more: the queries still lingering drop their
     * references to their batches. */
    for (struct batch *b = r->lingering, *next; b; b = next) {
        next = b->linger_next;
        for (size_t n = b->nlinger; n > 0; n--)
            batch_unref(b);
    }
    hastls_dot_free(r->dot);
    locks_destroy(r);
    free(r);
}

/* The transport's descriptors (listener, relay streams, wake pipe, upstream
 * links) are ours and closed here.  libunbound's own (its socket pairs, its
 * streams to the relay, its event library's epoll descriptor and pipe) are
 * opened behind our back: inside a program the shim records each as it is
 * created and closes them all in the fork child before calling this
 * (shim/core/ownfd.h); libunbound's result pipe is closed here too, for
 * callers without the shim. */
void hastls_resolver_forget(struct hastls_resolver *r)
{
    if (!r)
        return;
    hastls_dot_forget(r->dot);
    if (r->started == 1) {
        int fd = ub_fd(r->ub);
        if (fd >= 0)
            close(fd);
    }
}

void hastls_resolver_get_stats(struct hastls_resolver *r,
                               struct hastls_resolver_stats *out)
{
    hastls_dot_stats(r->dot, out);
}

__attribute__((visibility("default")))
const struct hastls_resolver_api hastls_resolver_api = {
    .version = HASTLS_RESOLVER_API_VERSION,
    .create = hastls_resolver_new,
    .lookup = hastls_resolver_lookup,
    .answer_free = hastls_answer_free,
    .destroy = hastls_resolver_free,
    .forget = hastls_resolver_forget,
    .get_stats = hastls_resolver_get_stats,
    .set_late = hastls_resolver_set_late,
};
