/* tests/tools/dnsredir_mmsg.c: a DNS client that sends with sendmmsg(2) and
 * receives with recvmmsg(2), for shim_dns_redirect.sh.
 *
 *   dnsredir_mmsg ADDR NAME NAME
 *
 * One unconnected UDP socket sends one A query per NAME (IDs 1, 2, ...) to
 * ADDR:53 in one sendmmsg() call, then receives the answers with recvmmsg()
 * (as many calls as it takes), and prints per answer
 * "answer ID RCODE ANCOUNT from=ADDR:PORT", or "ERROR ..." (exit 1).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define MAXQ 8

static size_t build(unsigned char *q, unsigned id, const char *name)
{
    size_t o = 12;
    memset(q, 0, 12);
    q[1] = (unsigned char)id;
    q[2] = 0x01; /* RD */
    q[5] = 1;
    for (const char *p = name; *p;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        q[o++] = (unsigned char)l;
        memcpy(q + o, p, l);
        o += l;
        p += l + (dot ? 1 : 0);
    }
    q[o++] = 0;
    q[o++] = 0;
    q[o++] = 1; /* A */
    q[o++] = 0;
    q[o++] = 1; /* IN */
    return o;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc - 2 > MAXQ) {
        fprintf(stderr, "usage: dnsredir_mmsg ADDR NAME...\n");
        return 2;
    }
    int n = argc - 2;
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(53)};
    if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1)
        return 2;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    static unsigned char q[MAXQ][300], a[MAXQ][1500];
    struct iovec iov[MAXQ];
    struct mmsghdr m[MAXQ];
    memset(m, 0, sizeof m);
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = q[i];
        iov[i].iov_len = build(q[i], (unsigned)i + 1, argv[i + 2]);
        m[i].msg_hdr.msg_name = &to;
        m[i].msg_hdr.msg_namelen = sizeof to;
        m[i].msg_hdr.msg_iov = &iov[i];
        m[i].msg_hdr.msg_iovlen = 1;
    }
    int sent = sendmmsg(s, m, (unsigned)n, 0);
    if (sent != n) {
        printf("ERROR sendmmsg %d: %s\n", sent, strerror(errno));
        return 1;
    }
    if (m[0].msg_hdr.msg_name != &to) {
        printf("ERROR sendmmsg changed the caller's message\n");
        return 1;
    }
    struct sockaddr_in from[MAXQ];
    for (int got = 0; got < n;) {
        struct pollfd p = {s, POLLIN, 0};
        if (poll(&p, 1, 10000) != 1) {
            printf("ERROR no answer\n");
            return 1;
        }
        memset(m, 0, sizeof m);
        for (int i = 0; i < n; i++) {
            iov[i].iov_base = a[i];
            iov[i].iov_len = sizeof a[i];
            m[i].msg_hdr.msg_name = &from[i];
            m[i].msg_hdr.msg_namelen = sizeof from[i];
            m[i].msg_hdr.msg_iov = &iov[i];
            m[i].msg_hdr.msg_iovlen = 1;
        }
        int r = recvmmsg(s, m, (unsigned)(n - got), MSG_DONTWAIT, NULL);
        if (r < 0) {
            printf("ERROR recvmmsg: %s\n", strerror(errno));
            return 1;
        }
        for (int i = 0; i < r; i++) {
            char addr[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &from[i].sin_addr, addr, sizeof addr);
            printf("answer %u rcode %u ancount %u from=%s:%u\n", a[i][0] << 8 | a[i][1],
                   a[i][3] & 0xf, a[i][6] << 8 | a[i][7], addr, ntohs(from[i].sin_port));
        }
        got += r;
    }
    return 0;
}
