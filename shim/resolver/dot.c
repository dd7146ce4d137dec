/* shim/resolver/dot.c: the transport's event loop (see dot.h).
 *
 * Owns: the event thread and its poll set (wake pipe, listener, libunbound's
 * descriptor, clients, upstream connections), the routing of each query from
 * a client (to the prefetch store or the state machine, and when to start a
 * chain prefetch), and the draining of the work queue after every step.
 * Modules never call each other back: the state machine queues work, and only
 * this loop carries it out.
 *
 * Everything below runs on the event thread, except hastls_dot_stats,
 * hastls_dot_failures and the set-up and tear-down calls.  The thread starts
 * with every signal blocked (threads.h): the program's handlers never run on
 * it, and a write to a connection the peer closed raises a SIGPIPE that stays
 * pending on this thread instead of killing the program.
 */
#include "shim/resolver/dot.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "policy/dnswire.h"
#include "shim/resolver/link.h"
#include "shim/resolver/logf.h"
#include "shim/resolver/prefetch.h"
#include "shim/resolver/relay.h"
#include "shim/resolver/threads.h"
#include "shim/resolver/tls.h"
#include "shim/resolver/upstream.h"
#include "shim/resolver/work.h"

enum slot_kind { SLOT_WAKE, SLOT_LISTEN, SLOT_EXTRA, SLOT_CLIENT, SLOT_CONN };

/* What a pollfd entry stands for: poll results are checked against it, since
 * handling one entry may close or replace what a later one polled. */
struct slot {
    enum slot_kind kind;
    struct hastls_relay_client *client;
    size_t conn;
    unsigned gen;
};

struct hastls_dot {
    const struct hastls_config *cfg;
    hastls_log_fn log;
    struct hastls_workq work;
    struct hastls_up_engine *up;
    SSL_CTX *ssl_ctx;
    struct hastls_links links;
    struct hastls_relay relay;
    int prefetch_on; /* chain prefetch on: libunbound validates */
    struct hastls_prefetch prefetch;
    int wake[2];
    pthread_t thread;
    int started;
    int stop; /* read and written with __atomic builtins */
    int extra_fd;
    void (*process)(void *);
    void *process_arg;
    struct pollfd *pfd;
    struct slot *slots;
    size_t pcap;
};

uint64_t hastls_dot_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#define LOG(d, lvl, ...) hastls_logf((d)->log, (d)->cfg->log_level, lvl, __VA_ARGS__)

/* ---- the work queue ---- */

/* Carries out everything queued, in order, until nothing is left (carrying
 * out an item may queue more). */
static void drain(struct hastls_dot *d, uint64_t now)
{
    struct hastls_work *w;
    while ((w = hastls_workq_pop(&d->work)) != NULL) {
        switch (w->kind) {
        case HASTLS_WORK_CONNECT:
            hastls_link_open(&d->links, (size_t)w->conn, now);
            break;
        case HASTLS_WORK_CLOSE:
            hastls_link_close(&d->links, (size_t)w->conn);
            break;
        case HASTLS_WORK_ANSWER:
            hastls_relay_send(&d->relay, w->client, w->msg, w->len);
            break;
        case HASTLS_WORK_PREFETCH_DONE:
            if (d->prefetch_on)
                hastls_prefetch_done(&d->prefetch, now, w->serial, w->msg,
                                     w->msg ? w->len : 0);
            break;
        }
        hastls_work_release(w);
    }
}

/* ---- routing queries ---- */

/* Sends our own queries for the chain of trust of the validating query MSG. */
static void prefetch_chain(struct hastls_dot *d, const uint8_t *msg, size_t len,
                           uint64_t now)
{
    struct hastls_prefetch_ask asks[HASTLS_PREFETCH_MAX_ASKS];
    size_t n = hastls_prefetch_plan(msg, len, asks, HASTLS_PREFETCH_MAX_ASKS);
    for (size_t i = 0; i < n; i++) {
        struct hastls_prefetch_entry *e =
            hastls_prefetch_claim(&d->prefetch, now, &asks[i]);
        if (e)
            hastls_prefetch_started(
                e, hastls_up_submit_prefetch(d->up, now, asks[i].query, asks[i].len));
    }
}

/* One whole query MSG from the client CL. */
static void route_query(struct hastls_dot *d, struct hastls_relay_client *cl,
                        const uint8_t *msg, size_t len, uint64_t now)
{
    struct hastls_dns_question q;
    if (hastls_dns_parse_query(msg, len, &q) < 0) {
        LOG(d, HASTLS_LOG_DEBUG, "malformed query from libunbound dropped");
        return;
    }
    int chain = q.qtype == HASTLS_DNS_TYPE_DS || q.qtype == HASTLS_DNS_TYPE_DNSKEY;
    uint64_t follow = 0;
    if (chain && d->prefetch_on) {
        /* Prefetched, or being prefetched? */
        const uint8_t *ans;
        size_t alen;
        if (hastls_prefetch_lookup(&d->prefetch, now, msg, len, &ans, &alen, &follow) ==
                1 &&
            hastls_relay_reply(&d->relay, cl, msg, len, ans, alen) == 0)
            return;
    }
    if (hastls_up_submit(d->up, now, cl, msg, len, follow) < 0)
        return; /* out of memory: libunbound times out and retries */
    if (d->prefetch_on && !chain && hastls_dns_has_do(msg, len) == 1)
        prefetch_chain(d, msg, len, now);
}

/* ---- clients ---- */

static void client_close(struct hastls_dot *d, struct hastls_relay_client *cl)
{
    hastls_up_client_gone(d->up, cl);
    hastls_workq_drop_client(&d->work, cl);
    hastls_relay_close(&d->relay, cl);
}

static void client_event(struct hastls_dot *d, struct hastls_relay_client *cl, short rev,
                         uint64_t now)
{
    if (rev & POLLIN) {
        if (hastls_relay_read(cl) < 0) {
            client_close(d, cl);
            return;
        }
        const uint8_t *msg;
        size_t len;
        while (hastls_relay_next(cl, &msg, &len)) {
            route_query(d, cl, msg, len, now);
            drain(d, now);
        }
        hastls_relay_taken(cl);
    } else if (rev & (POLLHUP | POLLERR)) {
        client_close(d, cl);
        return;
    }
    if (hastls_relay_flush(cl) < 0)
        client_close(d, cl);
}

/* ---- the event loop ---- */

static int poll_reserve(struct hastls_dot *d, size_t n)
{
    if (n <= d->pcap)
        return 0;
    size_t cap = n + 16;
    struct pollfd *p = realloc(d->pfd, cap * sizeof *p);
    if (!p)
        return -1;
    d->pfd = p;
    struct slot *s = realloc(d->slots, cap * sizeof *s);
    if (!s)
        return -1;
    d->slots = s;
    d->pcap = cap;
    return 0;
}

/* Fills the poll set; returns its size, or 0 when out of memory. */
static size_t poll_fill(struct hastls_dot *d)
{
    size_t nclients = 0, nconns = hastls_up_nconns(d->up), n = 0;
    for (struct hastls_relay_client *cl = d->relay.clients; cl; cl = cl->next)
        nclients++;
    if (poll_reserve(d, 3 + nclients + nconns) < 0)
        return 0;
    d->pfd[n] = (struct pollfd){d->wake[0], POLLIN, 0};
    d->slots[n++] = (struct slot){SLOT_WAKE, NULL, 0, 0};
    d->pfd[n] = (struct pollfd){d->relay.lfd, POLLIN, 0};
    d->slots[n++] = (struct slot){SLOT_LISTEN, NULL, 0, 0};
    if (d->extra_fd >= 0) {
        d->pfd[n] = (struct pollfd){d->extra_fd, POLLIN, 0};
        d->slots[n++] = (struct slot){SLOT_EXTRA, NULL, 0, 0};
    }
    /* Connections first: their answers go to clients handled after them. */
    for (size_t i = 0; i < nconns; i++) {
        short ev = hastls_link_events(&d->links, i);
        if (!ev)
            continue;
        d->pfd[n] = (struct pollfd){d->links.link[i].fd, ev, 0};
        d->slots[n++] = (struct slot){SLOT_CONN, NULL, i, d->links.link[i].gen};
    }
    for (struct hastls_relay_client *cl = d->relay.clients; cl; cl = cl->next) {
        d->pfd[n] =
            (struct pollfd){cl->fd, (short)(POLLIN | (cl->out.len ? POLLOUT : 0)), 0};
        d->slots[n++] = (struct slot){SLOT_CLIENT, cl, 0, 0};
    }
    return n;
}

/* Handles poll's results for the N entries. */
static void poll_handle(struct hastls_dot *d, size_t n)
{
    uint64_t now = hastls_dot_now_ms();
    int accept = 0;
    for (size_t i = 0; i < n; i++) {
        short rev = d->pfd[i].revents;
        const struct slot *s = &d->slots[i];
        if (!rev)
            continue;
        switch (s->kind) {
        case SLOT_WAKE: {
            char b[64];
            while (read(d->wake[0], b, sizeof b) > 0)
                ;
            break;
        }
        case SLOT_LISTEN:
            accept = 1; /* after the clients polled now */
            break;
        case SLOT_EXTRA:
            if (d->process)
                d->process(d->process_arg);
            break;
        case SLOT_CONN:
            if (d->links.link[s->conn].gen == s->gen)
                hastls_link_event(&d->links, s->conn, rev, now);
            break;
        case SLOT_CLIENT:
            /* The client may have been closed meanwhile. */
            if (hastls_relay_has(&d->relay, s->client, d->pfd[i].fd))
                client_event(d, s->client, rev, now);
            break;
        }
        drain(d, now);
    }
    if (accept)
        hastls_relay_accept(&d->relay);
}

/* Flushes what this round queued for clients and upstreams. */
static void flush_all(struct hastls_dot *d, uint64_t now)
{
    for (struct hastls_relay_client *cl = d->relay.clients, *next; cl; cl = next) {
        next = cl->next;
        if (cl->out.len && hastls_relay_flush(cl) < 0)
            client_close(d, cl);
    }
    for (size_t i = 0; i < hastls_up_nconns(d->up); i++) {
        const uint8_t *p;
        if (hastls_up_pending(d->up, i, &p)) {
            hastls_link_flush(&d->links, i, now);
            drain(d, now);
        }
    }
}

static void *event_thread(void *arg)
{
    struct hastls_dot *d = arg;
    while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
        size_t n = poll_fill(d);
        if (n == 0) {
            usleep(10000); /* out of memory: wait for it to pass */
            continue;
        }
        int r = poll(d->pfd, n, hastls_up_timeout(d->up, hastls_dot_now_ms()));
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0)
            poll_handle(d, n);
        uint64_t now = hastls_dot_now_ms();
        hastls_up_tick(d->up, now);
        drain(d, now);
        flush_all(d, now);
    }
    return NULL;
}

/* ---- set-up and tear-down ---- */

struct hastls_dot *hastls_dot_new(const struct hastls_config *cfg, hastls_log_fn log,
                                  char *err, size_t errlen)
{
    struct hastls_dot *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->cfg = cfg;
    d->log = log;
    d->wake[0] = d->wake[1] = d->extra_fd = -1;
    hastls_workq_init(&d->work);
    hastls_relay_init(&d->relay, log, cfg->log_level);
    hastls_prefetch_init(&d->prefetch);
    d->prefetch_on = cfg->trust_anchor[0] != '\0';
    d->up = hastls_up_new(cfg, log, &d->work);
    if (!d->up) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (cfg->privacy != HASTLS_PRIVACY_OFF) {
        d->ssl_ctx = hastls_tls_context(cfg, err, errlen);
        if (!d->ssl_ctx)
            goto fail;
    }
    hastls_links_init(&d->links, cfg, log, d->ssl_ctx, d->up);
    return d;
fail:
    hastls_up_free(d->up);
    free(d);
    return NULL;
}

static void close_wake(struct hastls_dot *d)
{
    for (int i = 0; i < 2; i++) {
        if (d->wake[i] >= 0)
            close(d->wake[i]);
        d->wake[i] = -1;
    }
}

int hastls_dot_start(struct hastls_dot *d, int extra_fd, void (*process)(void *),
                     void *arg, char *err, size_t errlen)
{
    int port = hastls_relay_listen(&d->relay, err, errlen);
    if (port < 0)
        return -1;
    if (pipe2(d->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    d->extra_fd = extra_fd;
    d->process = process;
    d->process_arg = arg;
    int e = hastls_thread_start(&d->thread, event_thread, d);
    if (e) {
        snprintf(err, errlen, "cannot start the resolver thread: %s", strerror(e));
        goto fail;
    }
    d->started = 1;
    return port;
fail:
    hastls_relay_free(&d->relay);
    close_wake(d);
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
    hastls_workq_clear(&d->work);
    hastls_links_free(&d->links);
    hastls_up_free(d->up);
    hastls_prefetch_free(&d->prefetch);
    hastls_relay_free(&d->relay);
    if (d->ssl_ctx)
        SSL_CTX_free(d->ssl_ctx);
    close_wake(d);
    free(d->pfd);
    free(d->slots);
    free(d);
}

void hastls_dot_forget(struct hastls_dot *d)
{
    if (!d)
        return;
    hastls_relay_forget(&d->relay);
    for (int i = 0; i < 2; i++)
        if (d->wake[i] >= 0)
            close(d->wake[i]);
    hastls_links_forget(&d->links);
}

void hastls_dot_stats(struct hastls_dot *d, struct hastls_resolver_stats *out)
{
    hastls_up_stats(d->up, out);
}

unsigned hastls_dot_failures(struct hastls_dot *d, uint64_t since_ms, char *buf,
                             size_t buflen, unsigned *answered)
{
    return hastls_up_failures(d->up, since_ms, buf, buflen, answered);
}
