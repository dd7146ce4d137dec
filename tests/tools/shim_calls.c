/* tests/tools/shim_calls.c: libc entry points that scripting languages do not
 * reach, exercised under the shim (tests/integration/shim_calls.sh):
 * sendmsg/sendmmsg with destinations, gethostbyname_r's ERANGE,
 * gethostbyname2, errno kept by a successful lookup and connect, res_nquery
 * with a resolver state.  One line per check: "NAME VALUE".
 * Built by the test: cc -o shim_calls shim_calls.c -lresolv */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in resolve(const char *name, int port)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    if (getaddrinfo(name, NULL, &hints, &res) == 0) {
        memcpy(&sa, res->ai_addr, sizeof sa);
        freeaddrinfo(res);
    }
    sa.sin_port = htons((uint16_t)port);
    return sa;
}

int main(void)
{
    /* errno survives a successful lookup and connect */
    errno = 4242;
    struct sockaddr_in ok = resolve("secure.lab.example", 443);
    printf("errno_after_lookup %d\n", errno);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    errno = 4242;
    int r = connect(fd, (struct sockaddr *)&ok, sizeof ok);
    printf("connect_ok %d errno %d\n", r, errno);
    close(fd);

    struct sockaddr_in blocked = resolve("secure.lab.example", 80);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    char payload[] = "x";
    struct iovec iov = {payload, 1};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_name = &blocked;
    m.msg_namelen = sizeof blocked;
    errno = 0;
    r = (int)sendmsg(u, &m, 0);
    printf("sendmsg_blocked %d %s\n", r, r < 0 ? strerrorname_np(errno) : "-");
    m.msg_name = &ok;
    r = (int)sendmsg(u, &m, 0);
    printf("sendmsg_allowed %d\n", r);

    /* sendmmsg: allowed, allowed, refused, allowed -> the first two go */
    struct mmsghdr v[4];
    memset(v, 0, sizeof v);
    struct sockaddr_in *dst[4] = {&ok, &ok, &blocked, &ok};
    for (int i = 0; i < 4; i++) {
        v[i].msg_hdr.msg_iov = &iov;
        v[i].msg_hdr.msg_iovlen = 1;
        v[i].msg_hdr.msg_name = dst[i];
        v[i].msg_hdr.msg_namelen = sizeof ok;
    }
    r = sendmmsg(u, v, 4, 0);
    printf("sendmmsg_partial %d\n", r);
    errno = 0;
    r = sendmmsg(u, v + 2, 2, 0);
    printf("sendmmsg_first_refused %d %s\n", r, r < 0 ? strerrorname_np(errno) : "-");
    close(u);

    /* gethostbyname_r: too small a buffer is ERANGE, as glibc */
    struct hostent he, *res = NULL;
    char small[8], big[2048];
    int herr = 0;
    r = gethostbyname_r("mail.lab.example", &he, small, sizeof small, &res, &herr);
    printf("gethostbyname_r_small %s %s\n", r == ERANGE ? "ERANGE" : "other",
           res ? "result" : "null");
    r = gethostbyname_r("mail.lab.example", &he, big, sizeof big, &res, &herr);
    char buf[64] = "-";
    if (r == 0 && res)
        inet_ntop(AF_INET, res->h_addr_list[0], buf, sizeof buf);
    printf("gethostbyname_r %d %s %s\n", r, res ? res->h_name : "-", buf);
    r = gethostbyname_r("nosuch.lab.example", &he, big, sizeof big, &res, &herr);
    printf("gethostbyname_r_nx %d %s herr=%s\n", r, res ? "result" : "null",
           herr == HOST_NOT_FOUND ? "HOST_NOT_FOUND" : "other");
    struct hostent *h6 = gethostbyname2("v6.lab.example", AF_INET6);
    if (h6)
        inet_ntop(AF_INET6, h6->h_addr_list[0], buf, sizeof buf);
    printf("gethostbyname2_v6 %s\n", h6 ? buf : "null");
    struct hostent *h4 = gethostbyname("v6.lab.example");
    printf("gethostbyname_v6only %s herr=%s\n", h4 ? "result" : "null",
           h_errno == NO_DATA ? "NO_DATA" : "other");
    /* numeric names need no lookup */
    h4 = gethostbyname("127.0.10.1");
    printf("gethostbyname_numeric %s\n", h4 ? h4->h_name : "null");

    /* res_nquery with an initialized state */
    struct __res_state st;
    memset(&st, 0, sizeof st);
    res_ninit(&st);
    unsigned char ans[4096];
    r = res_nquery(&st, "mail.lab.example", ns_c_in, 65301, ans, sizeof ans);
    printf("res_nquery %s ad=%d\n", r > 12 ? "ok" : "fail",
           r > 12 ? !!(ans[3] & 0x20) : -1);
    r = res_nquery(&st, "nosuch.lab.example", ns_c_in, ns_t_a, ans, sizeof ans);
    printf("res_nquery_nx %d herr=%s\n", r,
           st.res_h_errno == HOST_NOT_FOUND ? "HOST_NOT_FOUND" : "other");
    res_nclose(&st);

    /* An address from res_query (as mail transfer agents get them) is
     * governed like one from getaddrinfo. */
    unsigned char pkt[4096];
    int len = res_query("secure.lab.example", ns_c_in, ns_t_a, pkt, sizeof pkt);
    ns_msg msg;
    ns_rr rr;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(80);
    int found = 0;
    if (len > 0 && ns_initparse(pkt, len, &msg) == 0)
        for (int i = 0; i < ns_msg_count(msg, ns_s_an) && !found; i++)
            if (ns_parserr(&msg, ns_s_an, i, &rr) == 0 && ns_rr_type(rr) == ns_t_a &&
                ns_rr_rdlen(rr) == 4) {
                memcpy(&sa.sin_addr, ns_rr_rdata(rr), 4);
                found = 1;
            }
    fd = socket(AF_INET, SOCK_STREAM, 0);
    errno = 0;
    r = found ? connect(fd, (struct sockaddr *)&sa, sizeof sa) : -2;
    printf("res_query_then_connect %d %s\n", r, r == -1 ? strerrorname_np(errno) : "-");
    close(fd);
    return 0;
}
