/* shim/resolver/link.c: sockets and TLS objects of upstream connections (see
 * link.h).  After every call into the state machine, connection I may have
 * changed state (failed, closed, even started again): the code below looks
 * at the state again before touching the socket. */
#include "shim/resolver/link.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim/resolver/auth.h"
#include "shim/resolver/logf.h"
#include "shim/resolver/tls.h"

#define READ_CHUNK 16384

void hastls_links_init(struct hastls_links *ls, const struct hastls_config *cfg,
                       hastls_log_fn log, SSL_CTX *ctx, struct hastls_up_engine *up)
{
    memset(ls, 0, sizeof *ls);
    ls->cfg = cfg;
    ls->log = log;
    ls->ssl_ctx = ctx;
    ls->up = up;
    for (size_t i = 0; i < HASTLS_UP_MAX_CONNS; i++)
        ls->link[i].fd = -1;
}

static const struct hastls_up_conn *conn_of(const struct hastls_links *ls, size_t i)
{
    return hastls_up_conn(ls->up, i);
}

static enum hastls_up_state state_of(const struct hastls_links *ls, size_t i)
{
    return conn_of(ls, i)->st;
}

/* Sends an acknowledgement still pending on FD now and leaves the kernel's
 * delayed-ACK ("pingpong") mode.  Peers that do not set TCP_NODELAY (unbound
 * 1.17 on DNS-over-TLS) hold a small write behind an unacknowledged one until
 * our delayed ACK, about 40 ms each time.  The kernel re-enters delayed-ACK
 * mode as soon as the connection looks interactive, so this is re-armed each
 * time data arrives. */
static void quickack(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

static void failed_errno(struct hastls_links *ls, size_t i, uint64_t now, int e)
{
    char eb[128];
    hastls_up_failed(ls->up, i, now, hastls_errtext(e, eb, sizeof eb));
}

void hastls_link_close(struct hastls_links *ls, size_t i)
{
    struct hastls_link *l = &ls->link[i];
    if (l->ssl)
        hastls_tls_free(l->ssl, l->secured);
    l->ssl = NULL;
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    l->secured = 0;
    l->want_write = 0;
    l->gen++;
}

/* The TLS handshake of I made progress; when it is over, authentication is
 * decided and the machine told. */
static void handshake(struct hastls_links *ls, size_t i, uint64_t now)
{
    struct hastls_link *l = &ls->link[i];
    const struct hastls_up_conn *c = conn_of(ls, i);
    char why[256] = "";
    switch (hastls_tls_handshake(l->ssl, why, sizeof why)) {
    case HASTLS_TLS_WANT_READ:
        l->want_write = 0;
        return;
    case HASTLS_TLS_WANT_WRITE:
        l->want_write = 1;
        return;
    case HASTLS_TLS_FAILED:
        hastls_up_failed(ls->up, i, now, why);
        return;
    case HASTLS_TLS_DONE:
        break;
    }
    l->want_write = 0;
    l->secured = 1;
    int resumed = hastls_tls_resumed(l->ssl);
    /* A resumed session carries no certificate chain to check again; only
     * sessions of authenticated connections are kept (session.h). */
    int auth = resumed ? 1
                       : hastls_auth_verify(l->ssl, ls->cfg, &ls->cfg->upstreams[c->up],
                                            why, sizeof why);
    if (!auth)
        hastls_session_refuse(&l->session); /* never resume it */
    char alpn[256];
    hastls_tls_alpn_selected(l->ssl, alpn, sizeof alpn);
    struct hastls_up_secured s = {auth, resumed, why, alpn};
    hastls_up_secured(ls->up, i, now, &s);
    if (state_of(ls, i) == HASTLS_UP_READY && ls->log &&
        ls->cfg->log_level >= HASTLS_LOG_DEBUG) {
        char d[160];
        hastls_tls_describe(l->ssl, auth, d, sizeof d);
        hastls_logf(ls->log, ls->cfg->log_level, HASTLS_LOG_DEBUG, "upstream %s: %s",
                    c->label, d);
    }
}

/* I's TCP connection is established: TLS set up (failing the connection
 * when its authentication name cannot be set), then the machine told. */
static void connected(struct hastls_links *ls, size_t i, uint64_t now)
{
    struct hastls_link *l = &ls->link[i];
    const struct hastls_up_conn *c = conn_of(ls, i);
    if (c->tls) {
        char why[256] = "TLS is not available";
        if (ls->ssl_ctx)
            l->ssl =
                hastls_tls_open(ls->ssl_ctx, l->fd, ls->cfg, &ls->cfg->upstreams[c->up],
                                &l->session, why, sizeof why);
        if (!l->ssl) {
            hastls_up_failed(ls->up, i, now, why);
            return;
        }
    }
    hastls_up_connected(ls->up, i, now);
    if (c->tls && state_of(ls, i) == HASTLS_UP_HANDSHAKING)
        handshake(ls, i, now);
}

void hastls_link_open(struct hastls_links *ls, size_t i, uint64_t now)
{
    struct hastls_link *l = &ls->link[i];
    const struct hastls_up_conn *c = conn_of(ls, i);
    if (l->fd >= 0)
        hastls_link_close(ls, i);
    if (c->st != HASTLS_UP_CONNECTING)
        return;
    int fd = socket(c->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        failed_errno(ls, i, now, errno);
        return;
    }
    /* Queries are small writes that must not wait for an ACK (Nagle).  Only
     * latency depends on it: its failure is not checked. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    l->fd = fd;
    l->gen++;
    /* The raw system call: the resolver's own sockets go to configured literal
     * addresses and must never pass through the shim's connect() policy. */
    if (syscall(SYS_connect, fd, (const struct sockaddr *)&c->sa, c->salen) == 0) {
        connected(ls, i, now);
        return;
    }
    if (errno != EINPROGRESS)
        failed_errno(ls, i, now, errno);
}

short hastls_link_events(const struct hastls_links *ls, size_t i)
{
    const struct hastls_link *l = &ls->link[i];
    const uint8_t *p;
    if (l->fd < 0)
        return 0;
    switch (state_of(ls, i)) {
    case HASTLS_UP_DOWN:
        return 0; /* its close is queued */
    case HASTLS_UP_CONNECTING:
        return POLLOUT;
    default:
        return (short)(POLLIN |
                       (l->want_write || hastls_up_pending(ls->up, i, &p) ? POLLOUT : 0));
    }
}

void hastls_link_flush(struct hastls_links *ls, size_t i, uint64_t now)
{
    struct hastls_link *l = &ls->link[i];
    const struct hastls_up_conn *c = conn_of(ls, i);
    for (;;) {
        const uint8_t *p;
        size_t n = hastls_up_pending(ls->up, i, &p);
        if (!n || l->fd < 0)
            return;
        ssize_t w;
        if (c->tls) {
            w = hastls_tls_write(l->ssl, p, n, &l->want_write);
        } else {
            w = write(l->fd, p, n);
            if (w < 0 && (errno == EAGAIN || errno == EINTR))
                w = 0;
            else if (w <= 0)
                w = -1;
        }
        if (w == 0)
            return;
        if (w < 0) {
            hastls_up_closed(ls->up, i, now);
            return;
        }
        hastls_up_sent(ls->up, i, (size_t)w);
        l->want_write = 0;
    }
}

/* Reads what I has and hands it to the machine. */
static void read_all(struct hastls_links *ls, size_t i, uint64_t now)
{
    struct hastls_link *l = &ls->link[i];
    const struct hastls_up_conn *c = conn_of(ls, i);
    uint8_t tmp[READ_CHUNK];
    while (state_of(ls, i) == HASTLS_UP_READY) {
        ssize_t n;
        if (c->tls) {
            n = hastls_tls_read(l->ssl, tmp, sizeof tmp, &l->want_write);
        } else {
            n = read(l->fd, tmp, sizeof tmp);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                n = 0;
            else if (n <= 0)
                n = -1;
        }
        if (n == 0)
            return;
        if (n < 0) {
            /* A server may close an idle connection at any time (RFC 7766
             * 6.2.3): the queries in flight try once more on a new one. */
            hastls_logf(ls->log, ls->cfg->log_level, HASTLS_LOG_DEBUG,
                        "upstream %s: connection closed by server", c->label);
            hastls_up_closed(ls->up, i, now);
            return;
        }
        hastls_up_received(ls->up, i, now, tmp, (size_t)n);
    }
}

void hastls_link_event(struct hastls_links *ls, size_t i, short revents, uint64_t now)
{
    struct hastls_link *l = &ls->link[i];
    enum hastls_up_state st = state_of(ls, i);
    if (l->fd < 0 || st == HASTLS_UP_DOWN)
        return;
    /* Whatever woke us (a handshake flight, a session ticket, an answer) has
     * its ACK pending: send it now, before the server's next record queues
     * behind it. */
    if ((revents & POLLIN) && (st == HASTLS_UP_HANDSHAKING || st == HASTLS_UP_READY))
        quickack(l->fd);
    if (st == HASTLS_UP_CONNECTING) {
        int e = 0;
        socklen_t len = sizeof e;
        if (getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
            e = errno;
        if (e) {
            failed_errno(ls, i, now, e);
            return;
        }
        if (revents & (POLLOUT | POLLERR | POLLHUP))
            connected(ls, i, now);
        return;
    }
    if (st == HASTLS_UP_HANDSHAKING) {
        handshake(ls, i, now);
        return;
    }
    hastls_link_flush(ls, i, now);
    if (state_of(ls, i) != HASTLS_UP_READY)
        return;
    read_all(ls, i, now);
    if (state_of(ls, i) == HASTLS_UP_READY)
        hastls_link_flush(ls, i, now);
}

void hastls_links_free(struct hastls_links *ls)
{
    for (size_t i = 0; i < HASTLS_UP_MAX_CONNS; i++) {
        hastls_link_close(ls, i);
        hastls_session_free(&ls->link[i].session);
    }
}

void hastls_links_forget(struct hastls_links *ls)
{
    for (size_t i = 0; i < HASTLS_UP_MAX_CONNS; i++)
        if (ls->link[i].fd >= 0)
            close(ls->link[i].fd);
}
