/* shim/core/dnsredir.c: the responder for a program's own DNS queries (see
 * dnsredir.h). */
#include "shim/core/dnsredir.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "policy/dnswire.h"
#include "shim/core/ip.h"
#include "shim/core/log.h"
#include "shim/core/lookup.h"
#include "shim/core/ownfd.h"
#include "shim/core/real.h"
#include "shim/core/sigthread.h"
#include "shim/core/srvmemo.h"
#include "shim/core/state.h"

#define WORKERS 4           /* threads answering datagrams and accepting */
#define TCP_CONNS_MAX 64    /* TCP connections served at once */
#define TCP_IDLE_MS 10000   /* a TCP connection without a query is closed */
#define SERVERS_MAX 256     /* descriptors with a remembered server */
#define TARGETS_MAX 16      /* SRV/MX targets looked up per answer */
#define QNAME_TEXT_MAX 1100 /* a name in presentation form, escapes included */

pthread_mutex_t hastls_lock_dnsredir = PTHREAD_MUTEX_INITIALIZER;
uint8_t hastls_dnsredir_fd[HASTLS_DNSREDIR_FDS];

union addr {
    struct sockaddr sa;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
};

/* The responder's sockets and addresses (index 0 IPv4, 1 IPv6; -1 when that
 * family is unavailable).  Written under hastls_lock_dnsredir by start(),
 * read afterwards without it: they never change while PID is this process. */
static struct {
    pid_t pid; /* the process that started it; another one starts its own */
    int udp[2], tcp[2];
    union addr udp_addr[2], tcp_addr[2];
} R = {0, {-1, -1}, {-1, -1}, {{{0}}}, {{{0}}}};

static int tcp_conns; /* __atomic */

/* The server each marked descriptor last sent to or connected to, and the
 * descriptor's local port (under hastls_lock_dnsredir).  The responder
 * answers only datagrams and connections from these ports: the loopback
 * listener is reachable by every local user, and must not serve (or let
 * them probe the cache of) anyone but this process. */
static struct {
    int fd; /* -1: free */
    socklen_t len;
    union addr orig;
    uint16_t lport;   /* network order */
    uint8_t lkey[16]; /* its local address (hastls_ip_key), maybe wildcard */
    socklen_t srclen; /* 0: none */
    union addr src;   /* connected: the local address the kernel would
                       * have used towards ORIG (getsockname reports it) */
} servers[SERVERS_MAX];
static int servers_ready;   /* under the lock: the table's fds set to -1 */
static unsigned evict_next; /* under the lock: the slot a full table reuses */

static int from_program(const union addr *peer);

/* ---- answering ---- */

/* Looks up the targets of an SRV or MX answer, so that the connection the
 * program makes to them next is governed as after getaddrinfo(). */
static void record_targets(const struct hastls_answer *a)
{
    if (a->qtype != 15 && a->qtype != 33)
        return;
    for (size_t i = 0; i < a->n_rr && i < TARGETS_MAX; i++) {
        char name[HASTLS_NAME_MAX + 1];
        const struct hastls_rr *rr = &a->rr[i];
        if (hastls_dns_target_name(a->packet, a->packet_len, rr->type, rr->rdata,
                                   rr->rdlen, name, HASTLS_NAME_MAX - 1) < 0)
            continue;
        strcat(name, "."); /* absolute: no search list */
        struct hastls_hostinfo *info = malloc(sizeof *info);
        if (!info)
            return;
        (void)hastls_lookup_host(name, AF_UNSPEC, info); /* failures are logged */
        free(info);
    }
}

/* The answer to the query Q (QLEN bytes) into OUT (CAP bytes): over UDP (TCP
 * 0) cut to the query's UDP size with TC set.  Returns its length, or 0 for
 * none (a message that gets no answer). */
static size_t answer(const uint8_t *q, size_t qlen, int tcp, uint8_t *out, size_t cap)
{
    struct hastls_dns_client_query cq;
    size_t n = 0, next;
    char name[QNAME_TEXT_MAX];
    if (hastls_dns_client_query_parse(q, qlen, &cq) < 0)
        return 0;
    if (cq.rcode == 0 &&
        hastls_dns_read_name(q, qlen, cq.q.name_off, name, sizeof name, &next) < 0)
        cq.rcode = HASTLS_DNS_RCODE_FORMERR;
    if (cq.rcode)
        return hastls_dns_client_error(q, qlen, &cq, cq.rcode, -1, NULL, out, cap, &n) < 0
                   ? 0
                   : n;
    struct hastls_answer *a = NULL;
    const struct hastls_resolver_api *api = NULL;
    int rc = -1;
    int looked = hastls_lookup_answer(name, cq.q.qtype, &a, &api);
    if (looked == 0 && cq.q.qtype == HASTLS_DNS_TYPE_SRV)
        (void)hastls_srvmemo_note(a, hastls_now()); /* for the TLS hooks */
    if (looked < 0) {
        rc = hastls_dns_client_error(q, qlen, &cq, HASTLS_DNS_RCODE_SERVFAIL,
                                     HASTLS_DNS_EDE_NO_REACHABLE, "resolver unavailable",
                                     out, cap, &n);
    } else if (a->status == HASTLS_SEC_BOGUS) {
        hastls_log(HASTLS_LOG_WARN, "lookup of %s failed DNSSEC validation: %s", name,
                   a->reason);
        rc = hastls_dns_client_error(q, qlen, &cq, HASTLS_DNS_RCODE_SERVFAIL,
                                     HASTLS_DNS_EDE_BOGUS, a->reason, out, cap, &n);
    } else if (a->status == HASTLS_SEC_FAILED || !a->packet) {
        hastls_log(HASTLS_LOG_WARN, "no answer for %s: %s", name, a->reason);
        rc =
            hastls_dns_client_error(q, qlen, &cq, HASTLS_DNS_RCODE_SERVFAIL,
                                    HASTLS_DNS_EDE_NO_REACHABLE, a->reason, out, cap, &n);
    } else {
        record_targets(a);
        size_t limit = tcp ? HASTLS_DNS_MAX_MSG : hastls_dns_client_udp_limit(&cq);
        rc = hastls_dns_client_reply(q, qlen, &cq, a->packet, a->packet_len,
                                     a->status == HASTLS_SEC_SECURE, limit, out, cap, &n);
        if (rc < 0) {
            hastls_log(HASTLS_LOG_WARN, "unusable answer for %s from the resolver", name);
            rc = hastls_dns_client_error(q, qlen, &cq, HASTLS_DNS_RCODE_SERVFAIL, -1,
                                         NULL, out, cap, &n);
        }
    }
    if (a)
        api->answer_free(a);
    return rc < 0 ? 0 : n;
}

/* ---- the responder's threads ---- */

/* close(2) itself, not the hook (which would take hastls_lock_dnsredir
 * while the caller holds hastls_lock_ownfd, against the lock order). */
static void real_close(int fd)
{
    int (*c)(int) = HASTLS_REAL(close);
    if (c)
        c(fd);
}

/* getsockname(2) itself: the hook would report a connected socket's
 * address towards its server. */
static int real_getsockname(int fd, struct sockaddr *a, socklen_t *len)
{
    int (*g)(int, struct sockaddr *, socklen_t *) = HASTLS_REAL(getsockname);
    if (!g) {
        errno = ENOSYS;
        return -1;
    }
    return g(fd, a, len);
}

/* Closes FD, one of the shim's own. */
static void own_close(int fd)
{
    pthread_mutex_lock(&hastls_lock_ownfd);
    hastls_ownfd_remove(fd);
    real_close(fd);
    pthread_mutex_unlock(&hastls_lock_ownfd);
}

/* Writes all of BUF to the stream FD.  Returns 0 or -1. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len) {
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* One TCP connection: length-prefixed queries, answered in order
 * (pipelined queries included), until the client closes or idles. */
static void *tcp_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    hastls_guard_enter(); /* the shim's own thread: hooks pass through */
    uint8_t *in = malloc(HASTLS_DNS_MAX_MSG + 2), *out = malloc(HASTLS_DNS_MAX_MSG + 2);
    size_t have = 0;
    while (in && out) {
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, TCP_IDLE_MS);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        ssize_t got = recv(fd, in + have, HASTLS_DNS_MAX_MSG + 2 - have, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        have += (size_t)got;
        size_t off = 0, mlen;
        const uint8_t *m;
        int ok = 1;
        while (ok && hastls_dns_stream_next(in, have, &off, &m, &mlen)) {
            size_t n = answer(m, mlen, 1, out + 2, HASTLS_DNS_MAX_MSG);
            ok = n == 0 || (hastls_dns_stream_prefix(out, n) == 0 &&
                            write_all(fd, out, n + 2) == 0);
        }
        if (!ok)
            break;
        memmove(in, in + off, have - off);
        have -= off;
    }
    free(in);
    free(out);
    own_close(fd);
    __atomic_sub_fetch(&tcp_conns, 1, __ATOMIC_RELAXED);
    return NULL;
}

/* Accepts one connection on the listener LS and serves it on a thread of its
 * own (closed at once beyond TCP_CONNS_MAX). */
static void accept_one(int ls)
{
    pthread_mutex_lock(&hastls_lock_ownfd);
    /* The listener is non-blocking (every worker wakes, one gets it); the
     * connection is blocking (Linux does not inherit the flag): its thread
     * polls before each read. */
    union addr peer;
    socklen_t plen = sizeof peer;
    int c = accept4(ls, &peer.sa, &plen, SOCK_CLOEXEC);
    if (c >= 0 && hastls_ownfd_add(c) < 0) {
        real_close(c);
        c = -1;
    }
    pthread_mutex_unlock(&hastls_lock_ownfd);
    if (c < 0)
        return;
    if (!from_program(&peer)) {
        own_close(c);
        return;
    }
    /* A client that stops reading must not hold the thread for ever. */
    struct timeval tv = {TCP_IDLE_MS / 1000, 0};
    (void)setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (__atomic_add_fetch(&tcp_conns, 1, __ATOMIC_RELAXED) > TCP_CONNS_MAX) {
        __atomic_sub_fetch(&tcp_conns, 1, __ATOMIC_RELAXED);
        own_close(c);
        return;
    }
    pthread_attr_t attr;
    pthread_t t;
    int e = pthread_attr_init(&attr);
    if (e == 0) {
        (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        e = hastls_sigthread_start(&t, &attr, tcp_main, (void *)(intptr_t)c);
        pthread_attr_destroy(&attr);
    }
    if (e != 0) {
        __atomic_sub_fetch(&tcp_conns, 1, __ATOMIC_RELAXED);
        own_close(c);
    }
}

/* Answers one datagram waiting on the UDP socket FD, if any. */
static void answer_datagram(int fd, uint8_t *in, uint8_t *out)
{
    union addr peer;
    socklen_t plen = sizeof peer;
    ssize_t n = recvfrom(fd, in, HASTLS_DNS_MAX_MSG, MSG_DONTWAIT, &peer.sa, &plen);
    if (n <= 0 || !from_program(&peer))
        return;
    size_t len = answer(in, (size_t)n, 0, out, HASTLS_DNS_MAX_MSG);
    if (len)
        (void)sendto(fd, out, len, MSG_DONTWAIT, &peer.sa, plen);
}

/* A worker: waits on every socket of the responder; whichever worker wakes
 * first takes the datagram or the connection (the others find nothing). */
static void *worker_main(void *arg)
{
    (void)arg;
    hastls_guard_enter();
    uint8_t *in = malloc(HASTLS_DNS_MAX_MSG), *out = malloc(HASTLS_DNS_MAX_MSG);
    struct pollfd p[4] = {{R.udp[0], POLLIN, 0},
                          {R.udp[1], POLLIN, 0},
                          {R.tcp[0], POLLIN, 0},
                          {R.tcp[1], POLLIN, 0}};
    while (in && out) {
        if (poll(p, 4, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++)
            if (p[i].revents & POLLIN)
                answer_datagram(p[i].fd, in, out);
        for (int i = 2; i < 4; i++)
            if (p[i].revents & POLLIN)
                accept_one(p[i].fd);
    }
    free(in);
    free(out);
    hastls_log(HASTLS_LOG_ERROR, "the DNS responder stopped: %s", strerror(errno));
    return NULL;
}

/* A socket of TYPE on the loopback address of FAMILY at a free port, its
 * address in *A.  Returns the descriptor, or -1. */
static int own_socket(int family, int type, union addr *a)
{
    memset(a, 0, sizeof *a);
    socklen_t len;
    if (family == AF_INET) {
        a->v4.sin_family = AF_INET;
        a->v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof a->v4;
    } else {
        a->v6.sin6_family = AF_INET6;
        a->v6.sin6_addr = in6addr_loopback;
        len = sizeof a->v6;
    }
    pthread_mutex_lock(&hastls_lock_ownfd);
    int fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0 && hastls_ownfd_add(fd) < 0) {
        real_close(fd);
        fd = -1;
    }
    pthread_mutex_unlock(&hastls_lock_ownfd);
    if (fd < 0)
        return -1;
    int one = 1;
    if (family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, &a->sa, len) < 0 || getsockname(fd, &a->sa, &len) < 0 ||
        (type == SOCK_STREAM && listen(fd, 64) < 0)) {
        own_close(fd);
        return -1;
    }
    return fd;
}

/* Starts the responder in this process (the caller holds the lock).
 * Returns 0, or -1 (logged) when not even IPv4 works. */
static int start(void)
{
    int saved = errno;
    for (int i = 0; i < 2; i++) {
        int family = i == 0 ? AF_INET : AF_INET6;
        R.udp[i] = own_socket(family, SOCK_DGRAM, &R.udp_addr[i]);
        R.tcp[i] = own_socket(family, SOCK_STREAM, &R.tcp_addr[i]);
    }
    if (R.udp[0] < 0 || R.tcp[0] < 0) {
        hastls_log(HASTLS_LOG_ERROR,
                   "cannot start the DNS responder on loopback (%s): the program's own "
                   "DNS queries fail",
                   strerror(errno));
        goto fail;
    }
    int started = 0;
    for (int i = 0; i < WORKERS; i++) {
        pthread_attr_t attr;
        pthread_t t;
        if (pthread_attr_init(&attr) != 0)
            continue;
        (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (hastls_sigthread_start(&t, &attr, worker_main, NULL) == 0)
            started++;
        pthread_attr_destroy(&attr);
    }
    if (!started) {
        hastls_log(HASTLS_LOG_ERROR, "cannot start the DNS responder's threads");
        goto fail;
    }
    __atomic_store_n(&R.pid, getpid(), __ATOMIC_RELEASE);
    errno = saved;
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (R.udp[i] >= 0)
            own_close(R.udp[i]);
        if (R.tcp[i] >= 0)
            own_close(R.tcp[i]);
        R.udp[i] = R.tcp[i] = -1;
    }
    errno = EAGAIN;
    return -1;
}

/* ---- the hooks' side ---- */

int hastls_dnsredir_wanted_call(const void *ret)
{
    return !hastls_guarded() && !hastls_ownfd_from_resolver(ret) &&
           hastls_state_config()->dns_redirect;
}

/* The slot of FD in the servers table, else with TAKE a free one (the
 * caller holds the lock): when the table is full (descriptors closed behind
 * the close() hook's back, by close_range(2) or inside libc, leave theirs
 * behind), the slots are reused in turn, and the descriptor that loses its
 * slot sees later answers come from the responder's address. */
static int server_slot(int fd, int take)
{
    if (!servers_ready) {
        for (int i = 0; i < SERVERS_MAX; i++)
            servers[i].fd = -1;
        servers_ready = 1;
    }
    int free_slot = -1;
    for (int i = 0; i < SERVERS_MAX; i++) {
        if (servers[i].fd == fd)
            return i;
        if (servers[i].fd < 0 && free_slot < 0)
            free_slot = i;
    }
    if (!take)
        return -1;
    if (free_slot < 0) {
        free_slot = (int)(evict_next++ % SERVERS_MAX);
        __atomic_store_n(&hastls_dnsredir_fd[servers[free_slot].fd], 0, __ATOMIC_RELAXED);
    }
    return free_slot;
}

/* Whether PEER, the source of a datagram or connection to the responder, is
 * a socket of this process that was diverted: a recorded local port, on the
 * recorded local address unless that is the wildcard (then no other socket
 * can hold the port). */
static int from_program(const union addr *peer)
{
    uint8_t key[16];
    uint16_t port;
    if (hastls_sockaddr_key(&peer->sa, sizeof *peer, key, &port) < 0)
        return 0;
    static const uint8_t any6[16], any4[16] = {[10] = 0xff, [11] = 0xff};
    int found = 0;
    pthread_mutex_lock(&hastls_lock_dnsredir);
    for (int i = 0; i < SERVERS_MAX && !found && servers_ready; i++) {
        const uint8_t *k = servers[i].lkey;
        found = servers[i].fd >= 0 && servers[i].lport == htons(port) &&
                (!memcmp(k, any6, 16) || !memcmp(k, any4, 16) || !memcmp(k, key, 16));
    }
    pthread_mutex_unlock(&hastls_lock_dnsredir);
    return found;
}

/* The local port of the program's socket FD of FAMILY, bound first to the
 * wildcard address and a free port when it has none yet -- what the kernel
 * does on the first send or connect anyway -- so that the responder knows it
 * before the first query arrives.  Returns 0 with *PORT, or -1. */
static int local_port(int fd, int family, uint16_t *port, uint8_t key[16])
{
    union addr a;
    socklen_t len = sizeof a;
    HASTLS_GUARD(real_getsockname(fd, &a.sa, &len));
    uint16_t p = family == AF_INET ? a.v4.sin_port : a.v6.sin6_port;
    if (p == 0) {
        memset(&a, 0, sizeof a);
        a.sa.sa_family = (sa_family_t)family;
        len = family == AF_INET ? sizeof a.v4 : sizeof a.v6;
        if (family == AF_INET6)
            a.v6.sin6_addr = in6addr_any;
        HASTLS_GUARD(bind(fd, &a.sa, len));
        len = sizeof a;
        HASTLS_GUARD(real_getsockname(fd, &a.sa, &len));
        p = family == AF_INET ? a.v4.sin_port : a.v6.sin6_port;
    }
    uint16_t host_order;
    HASTLS_GUARD(hastls_sockaddr_key(&a.sa, len, key, &host_order));
    *port = p;
    return 0;
}

static int is_v4_mapped(const struct in6_addr *a)
{
    return IN6_IS_ADDR_V4MAPPED(a);
}

/* The local address the kernel picks towards ORIG (of FAMILY), found by
 * connecting a UDP socket of the shim's (no packet is sent), into *SRC.
 * Returns its length, or 0 when there is no route. */
static socklen_t source_towards(int family, const struct sockaddr *orig, socklen_t len,
                                union addr *src)
{
    pthread_mutex_lock(&hastls_lock_ownfd);
    int s = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s >= 0 && hastls_ownfd_add(s) < 0) {
        real_close(s);
        s = -1;
    }
    pthread_mutex_unlock(&hastls_lock_ownfd);
    if (s < 0)
        return 0;
    socklen_t sl = sizeof *src;
    /* The raw system call: not a connection of the program's to decide. */
    if (syscall(SYS_connect, s, orig, len) < 0 || real_getsockname(s, &src->sa, &sl) < 0)
        sl = 0;
    own_close(s);
    return sl;
}

int hastls_dnsredir_divert(int fd, const struct sockaddr *orig, socklen_t len,
                           int connecting, struct sockaddr_storage *out,
                           socklen_t *outlen)
{
    int type, domain;
    int saved = errno;
    socklen_t ol = sizeof type;
    if ((unsigned)fd >= HASTLS_DNSREDIR_FDS ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &ol) < 0 ||
        (type != SOCK_DGRAM && type != SOCK_STREAM)) {
        errno = saved;
        return 1;
    }
    ol = sizeof domain;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &ol) < 0 ||
        domain != orig->sa_family) {
        errno = saved;
        return 1;
    }
    uint16_t lport;
    uint8_t lkey[16];
    if (local_port(fd, domain, &lport, lkey) < 0)
        return -1; /* bind's errno: no free port, as the kernel would say */
    union addr src;
    socklen_t srclen = connecting ? source_towards(domain, orig, len, &src) : 0;
    pthread_mutex_lock(&hastls_lock_dnsredir);
    if (__atomic_load_n(&R.pid, __ATOMIC_ACQUIRE) != getpid() && start() < 0) {
        pthread_mutex_unlock(&hastls_lock_dnsredir);
        return -1;
    }
    int slot = server_slot(fd, 1);
    servers[slot].fd = fd;
    servers[slot].lport = lport;
    memcpy(servers[slot].lkey, lkey, 16);
    servers[slot].srclen = srclen;
    if (srclen)
        servers[slot].src = src;
    servers[slot].len = len < (socklen_t)sizeof(union addr) ? len : sizeof(union addr);
    memcpy(&servers[slot].orig, orig, servers[slot].len);
    __atomic_store_n(&hastls_dnsredir_fd[fd], 1, __ATOMIC_RELAXED);
    const union addr *to = type == SOCK_DGRAM ? R.udp_addr : R.tcp_addr;
    const int *fds = type == SOCK_DGRAM ? R.udp : R.tcp;
    union addr a;
    memset(&a, 0, sizeof a);
    if (domain == AF_INET) {
        a.v4 = to[0].v4;
        *outlen = sizeof a.v4;
    } else if (is_v4_mapped(&((const struct sockaddr_in6 *)orig)->sin6_addr)) {
        /* An IPv6 socket talking to an IPv4 server: the IPv4 responder,
         * v4-mapped. */
        a.v6.sin6_family = AF_INET6;
        a.v6.sin6_port = to[0].v4.sin_port;
        a.v6.sin6_addr.s6_addr[10] = a.v6.sin6_addr.s6_addr[11] = 0xff;
        memcpy(&a.v6.sin6_addr.s6_addr[12], &to[0].v4.sin_addr, 4);
        *outlen = sizeof a.v6;
    } else if (fds[1] >= 0) {
        a.v6 = to[1].v6;
        *outlen = sizeof a.v6;
    } else {
        pthread_mutex_unlock(&hastls_lock_dnsredir);
        errno = ENETUNREACH; /* no ::1 here: the query fails, never in cleartext */
        return -1;
    }
    pthread_mutex_unlock(&hastls_lock_dnsredir);
    memset(out, 0, sizeof *out);
    memcpy(out, &a, *outlen);
    errno = saved;
    return 0;
}

/* Whether A (LEN bytes) is one of the responder's addresses. */
static int is_responder(const struct sockaddr *a, socklen_t len)
{
    if (__atomic_load_n(&R.pid, __ATOMIC_ACQUIRE) == 0)
        return 0;
    if (a->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)a;
        return s->sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
               (s->sin_port == R.udp_addr[0].v4.sin_port ||
                s->sin_port == R.tcp_addr[0].v4.sin_port);
    }
    if (a->sa_family != AF_INET6 || len < (socklen_t)sizeof(struct sockaddr_in6))
        return 0;
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)a;
    if (is_v4_mapped(&s->sin6_addr)) {
        uint32_t v4;
        memcpy(&v4, &s->sin6_addr.s6_addr[12], 4);
        return v4 == htonl(INADDR_LOOPBACK) &&
               (s->sin6_port == R.udp_addr[0].v4.sin_port ||
                s->sin6_port == R.tcp_addr[0].v4.sin_port);
    }
    return R.udp[1] >= 0 && IN6_IS_ADDR_LOOPBACK(&s->sin6_addr) &&
           (s->sin6_port == R.udp_addr[1].v6.sin6_port ||
            s->sin6_port == R.tcp_addr[1].v6.sin6_port);
}

void hastls_dnsredir_source(int fd, struct sockaddr *addr, socklen_t cap, socklen_t *len)
{
    if (!addr || !len || *len > cap || !is_responder(addr, *len))
        return;
    int saved = errno;
    pthread_mutex_lock(&hastls_lock_dnsredir);
    int slot = server_slot(fd, 0);
    if (slot >= 0) {
        socklen_t n = servers[slot].len < cap ? servers[slot].len : cap;
        memcpy(addr, &servers[slot].orig, n);
        *len = servers[slot].len;
    }
    pthread_mutex_unlock(&hastls_lock_dnsredir);
    errno = saved;
}

void hastls_dnsredir_closed(int fd)
{
    if (!hastls_dnsredir_marked(fd))
        return;
    pthread_mutex_lock(&hastls_lock_dnsredir);
    int slot = server_slot(fd, 0);
    if (slot >= 0)
        servers[slot].fd = -1;
    __atomic_store_n(&hastls_dnsredir_fd[fd], 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&hastls_lock_dnsredir);
}

/* Whether A is a loopback address (127/8, ::1, v4-mapped 127/8). */
static int is_loopback(const union addr *a)
{
    if (a->sa.sa_family == AF_INET)
        return (ntohl(a->v4.sin_addr.s_addr) >> 24) == 127;
    if (a->sa.sa_family != AF_INET6)
        return 0;
    const struct in6_addr *b = &a->v6.sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(b) || (IN6_IS_ADDR_V4MAPPED(b) && b->s6_addr[12] == 127);
}

void hastls_dnsredir_local(int fd, struct sockaddr *addr, socklen_t cap, socklen_t *len)
{
    union addr got;
    if (!addr || !len || *len > cap || *len > (socklen_t)sizeof got)
        return;
    memset(&got, 0, sizeof got);
    memcpy(&got, addr, *len);
    if (!is_loopback(&got))
        return;
    int saved = errno;
    pthread_mutex_lock(&hastls_lock_dnsredir);
    int slot = server_slot(fd, 0);
    if (slot >= 0 && servers[slot].srclen == *len &&
        servers[slot].src.sa.sa_family == got.sa.sa_family) {
        union addr a = servers[slot].src;
        if (a.sa.sa_family == AF_INET)
            a.v4.sin_port = got.v4.sin_port;
        else
            a.v6.sin6_port = got.v6.sin6_port;
        memcpy(addr, &a, *len);
    }
    pthread_mutex_unlock(&hastls_lock_dnsredir);
    errno = saved;
}
