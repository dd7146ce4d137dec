/* tests/bench/bench_connect.c: the cost of connect()+close() on loopback.
 *
 *   bench_connect [-r NAME] ADDR N
 *   bench_connect -u N
 *
 * Listens on ADDR (IPv4) at a free port, with a thread that accepts and closes
 * every connection, then times N rounds of socket(), connect() to it and
 * close() after 1000 untimed warm-up rounds.  With -r it first resolves NAME
 * with getaddrinfo() and requires ADDR among the answers: under libhastls that
 * makes ADDR governed (the shim maps it to NAME and decides every connect).
 * The client closes with SO_LINGER 0 (a reset), so no TIME_WAIT sockets pile
 * up and exhaust the ephemeral ports over many rounds.
 * Prints: per_op_ns=X port=P
 *
 * With -u: N rounds of sendto() of 64 bytes from a UDP socket on 127.0.0.1 to
 * itself and recv() of them, after 1000 untimed ones: the cost of send and
 * receive calls on a socket that never talks to port 53.  Prints: per_op_ns=X
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *acceptor(void *arg)
{
    int ls = *(int *)arg;
    for (;;) {
        int s = accept(ls, NULL, NULL);
        if (s >= 0)
            close(s);
        else if (errno != EINTR && errno != ECONNABORTED)
            return NULL;
    }
}

static int one(const struct sockaddr_in *sa)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return -1;
    if (connect(s, (const struct sockaddr *)sa, sizeof *sa) < 0) {
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(s);
    return 0;
}

static int resolves_to(const char *name, struct in_addr want)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc) {
        fprintf(stderr, "bench_connect: %s: %s\n", name, gai_strerror(rc));
        return 0;
    }
    int found = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr == want.s_addr)
            found = 1;
    freeaddrinfo(res);
    if (!found)
        fprintf(stderr, "bench_connect: %s does not resolve to the listener's address\n",
                name);
    return found;
}

static int udp_loop(long n)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        getsockname(s, (struct sockaddr *)&sa, &len) < 0) {
        fprintf(stderr, "bench_connect: UDP socket: %s\n", strerror(errno));
        return 1;
    }
    char buf[64] = "bench";
    long long t0 = 0;
    for (long i = -1000; i < n; i++) {
        if (i == 0)
            t0 = now_ns();
        if (sendto(s, buf, sizeof buf, 0, (struct sockaddr *)&sa, sizeof sa) !=
                sizeof buf ||
            recv(s, buf, sizeof buf, 0) != sizeof buf) {
            fprintf(stderr, "bench_connect: UDP send/recv: %s\n", strerror(errno));
            return 1;
        }
    }
    long long total = now_ns() - t0;
    printf("per_op_ns=%.1f\n", (double)total / (double)n);
    close(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "-u")) {
        long n = strtol(argv[2], NULL, 10);
        if (n <= 0)
            goto usage;
        return udp_loop(n);
    }
    const char *name = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "r:")) != -1) {
        if (opt != 'r')
            goto usage;
        name = optarg;
    }
    if (argc - optind != 2)
        goto usage;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, argv[optind], &sa.sin_addr) != 1)
        goto usage;
    long n = strtol(argv[optind + 1], NULL, 10);
    if (n <= 0)
        goto usage;

    int ls = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t len = sizeof sa;
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(ls, 4096) < 0 || getsockname(ls, (struct sockaddr *)&sa, &len) < 0) {
        fprintf(stderr, "bench_connect: listener on %s: %s\n", argv[optind],
                strerror(errno));
        return 1;
    }
    pthread_t tid;
    if (pthread_create(&tid, NULL, acceptor, &ls)) {
        fprintf(stderr, "bench_connect: pthread_create failed\n");
        return 1;
    }
    if (name && !resolves_to(name, sa.sin_addr))
        return 1;

    for (int i = 0; i < 1000; i++)
        if (one(&sa) < 0) {
            fprintf(stderr, "bench_connect: connect: %s\n", strerror(errno));
            return 1;
        }
    long long t0 = now_ns();
    for (long i = 0; i < n; i++)
        if (one(&sa) < 0) {
            fprintf(stderr, "bench_connect: connect: %s\n", strerror(errno));
            return 1;
        }
    long long total = now_ns() - t0;
    printf("per_op_ns=%.1f port=%u\n", (double)total / (double)n, ntohs(sa.sin_port));
    return 0;

usage:
    fprintf(stderr, "usage: bench_connect [-r NAME] IPV4-ADDR N | -u N\n");
    return 2;
}
