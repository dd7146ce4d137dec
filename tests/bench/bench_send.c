/* tests/bench/bench_send.c: the cost of a datagram sent and received on
 * sockets that never talk to port 53.
 *
 *   bench_send [-m sendto|send] N
 *
 * Two UDP sockets on 127.0.0.1.  Mode sendto (the default): each round is
 * sendto() with a destination and recvfrom() with a source address, the two
 * calls libhastls hooks on this path (the destination decided as for
 * connect(), the source checked against the per-descriptor flag of the
 * shim's DNS responder).  Mode send: connected sockets, send() and recv(),
 * which the shim does not hook (the floor).  Times N rounds after 1000
 * untimed warm-up rounds.  Run it with and without the shim preloaded; the
 * ratio is the shim's cost per datagram.
 * Prints: per_op_ns=X
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

static int bound_socket(struct sockaddr_in *sa)
{
    socklen_t len = sizeof *sa;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0 || bind(s, (struct sockaddr *)sa, sizeof *sa) < 0 ||
        getsockname(s, (struct sockaddr *)sa, &len) < 0)
        return -1;
    return s;
}

/* One round: a 64-byte datagram from A to B. */
static int one(int a, int b, const struct sockaddr_in *to, int connected)
{
    char buf[64] = {0}, in[64];
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    ssize_t n = connected ? send(a, buf, sizeof buf, 0)
                          : sendto(a, buf, sizeof buf, 0, (const struct sockaddr *)to,
                                   sizeof *to);
    if (n != (ssize_t)sizeof buf)
        return -1;
    n = connected ? recv(b, in, sizeof in, 0)
                  : recvfrom(b, in, sizeof in, 0, (struct sockaddr *)&from, &flen);
    return n == (ssize_t)sizeof in ? 0 : -1;
}

int main(int argc, char **argv)
{
    int connected = 0, opt;
    while ((opt = getopt(argc, argv, "m:")) != -1) {
        if (opt != 'm')
            goto usage;
        if (!strcmp(optarg, "send"))
            connected = 1;
        else if (strcmp(optarg, "sendto"))
            goto usage;
    }
    if (argc - optind != 1)
        goto usage;
    long n = strtol(argv[optind], NULL, 10);
    if (n <= 0)
        goto usage;
    struct sockaddr_in sa, sb;
    int a = bound_socket(&sa), b = bound_socket(&sb);
    if (a < 0 || b < 0 ||
        (connected && (connect(a, (struct sockaddr *)&sb, sizeof sb) < 0 ||
                       connect(b, (struct sockaddr *)&sa, sizeof sa) < 0))) {
        fprintf(stderr, "bench_send: sockets: %s\n", strerror(errno));
        return 1;
    }
    for (int i = 0; i < 1000; i++)
        if (one(a, b, &sb, connected) < 0)
            goto fail;
    long long t0 = now_ns();
    for (long i = 0; i < n; i++)
        if (one(a, b, &sb, connected) < 0)
            goto fail;
    long long total = now_ns() - t0;
    printf("per_op_ns=%.1f\n", (double)total / (double)n);
    return 0;
fail:
    fprintf(stderr, "bench_send: datagram: %s\n", strerror(errno));
    return 1;
usage:
    fprintf(stderr, "usage: bench_send [-m sendto|send] N\n");
    return 2;
}
