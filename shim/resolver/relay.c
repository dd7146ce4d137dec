/* shim/resolver/relay.c: the loopback listener and its clients (see relay.h). */
#include "shim/resolver/relay.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "policy/dnswire.h"
#include "shim/resolver/logf.h"

#define READ_CHUNK 16384

void hastls_relay_init(struct hastls_relay *r, hastls_log_fn log,
                       enum hastls_log_level level)
{
    memset(r, 0, sizeof *r);
    r->lfd = -1;
    r->log = log;
    r->log_level = level;
}

int hastls_relay_listen(struct hastls_relay *r, char *err, size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof sa;
    r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(r->lfd, 64) < 0 || getsockname(r->lfd, (struct sockaddr *)&sa, &l) < 0) {
        snprintf(err, errlen, "cannot set up the resolver's loopback listener: %s",
                 strerror(errno));
        if (r->lfd >= 0)
            close(r->lfd);
        r->lfd = -1;
        return -1;
    }
    return ntohs(sa.sin_port);
}

static int same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
    return a->sin_family == AF_INET && b->sin_family == AF_INET &&
           a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
}

int hastls_relay_peer_is_self(int fd)
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

void hastls_relay_accept(struct hastls_relay *r)
{
    for (;;) {
        int fd = accept4(r->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (!hastls_relay_peer_is_self(fd)) {
            /* libunbound may give up on a stream before we accept it: then
             * its socket is gone and the peer cannot be found.  Only a live
             * peer is worth a warning. */
            char b;
            if (recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
                hastls_logf(r->log, r->log_level, HASTLS_LOG_DEBUG,
                            "a connection closed before it was accepted");
            else
                hastls_logf(r->log, r->log_level, HASTLS_LOG_WARN,
                            "refused a connection to the resolver's listener "
                            "from outside this process");
            close(fd);
            continue;
        }
        struct hastls_relay_client *cl = calloc(1, sizeof *cl);
        if (!cl) {
            close(fd);
            continue;
        }
        /* Answers are small writes that must not wait for an ACK (Nagle). */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        cl->fd = fd;
        cl->next = r->clients;
        r->clients = cl;
    }
}

int hastls_relay_has(const struct hastls_relay *r, const struct hastls_relay_client *cl,
                     int fd)
{
    for (const struct hastls_relay_client *x = r->clients; x; x = x->next)
        if (x == cl)
            return x->fd == fd;
    return 0;
}

int hastls_relay_read(struct hastls_relay_client *cl)
{
    uint8_t tmp[READ_CHUNK];
    ssize_t n = read(cl->fd, tmp, sizeof tmp);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    HASTLS_ENSURE(n > 0);
    /* libunbound writes pipelined queries without TCP_NODELAY: a query behind
     * an unacknowledged one waits for our ACK (see link.c). */
    int one = 1;
    setsockopt(cl->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    return hastls_buf_append(&cl->in, tmp, (size_t)n);
}

int hastls_relay_next(struct hastls_relay_client *cl, const uint8_t **msg, size_t *len)
{
    return hastls_dns_stream_next(cl->in.p, cl->in.len, &cl->in_off, msg, len);
}

void hastls_relay_taken(struct hastls_relay_client *cl)
{
    hastls_buf_consume(&cl->in, cl->in_off);
    cl->in_off = 0;
}

int hastls_relay_send(struct hastls_relay *r, struct hastls_relay_client *cl,
                      const uint8_t *msg, size_t len)
{
    if (hastls_buf_append_msg(&cl->out, msg, len) == 0)
        return 0;
    hastls_logf(r->log, r->log_level, HASTLS_LOG_WARN, "out of memory queuing an answer");
    return -1;
}

int hastls_relay_reply(struct hastls_relay *r, struct hastls_relay_client *cl,
                       const uint8_t *query, size_t qlen, const uint8_t *ans, size_t alen)
{
    size_t olen;
    if (alen > HASTLS_DNS_MAX_MSG)
        return -1;
    uint8_t *p = hastls_buf_reserve(&cl->out, 2 + alen);
    if (!p) {
        hastls_logf(r->log, r->log_level, HASTLS_LOG_WARN,
                    "out of memory queuing an answer");
        return -1;
    }
    if (hastls_dns_reply_for(query, qlen, ans, alen, p + 2, alen, &olen) < 0 ||
        hastls_dns_stream_prefix(p, olen) < 0)
        return -1;
    hastls_buf_commit(&cl->out, 2 + olen);
    return 0;
}

int hastls_relay_flush(struct hastls_relay_client *cl)
{
    while (cl->out.len) {
        ssize_t n = write(cl->fd, cl->out.p, cl->out.len);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        HASTLS_ENSURE(n > 0);
        hastls_buf_consume(&cl->out, (size_t)n);
    }
    return 0;
}

void hastls_relay_close(struct hastls_relay *r, struct hastls_relay_client *cl)
{
    for (struct hastls_relay_client **pp = &r->clients; *pp; pp = &(*pp)->next)
        if (*pp == cl) {
            *pp = cl->next;
            break;
        }
    close(cl->fd);
    hastls_buf_free(&cl->in);
    hastls_buf_free(&cl->out);
    free(cl);
}

void hastls_relay_free(struct hastls_relay *r)
{
    while (r->clients)
        hastls_relay_close(r, r->clients);
    if (r->lfd >= 0)
        close(r->lfd);
    r->lfd = -1;
}

void hastls_relay_forget(struct hastls_relay *r)
{
    if (r->lfd >= 0)
        close(r->lfd);
    for (struct hastls_relay_client *cl = r->clients; cl; cl = cl->next)
        close(cl->fd);
}
