/* tests/unit/test_shim_ai.c: addrinfo lists built by the shim, compared
 * entry by entry with glibc's own getaddrinfo() on numeric hosts (which does
 * no lookup) over a matrix of hints and services; address selection for
 * AI_V4MAPPED / AI_ALL and the family order; glibc's freeaddrinfo() freeing
 * our lists (the layout contract of ai.h, checked by ASan in unit-asan). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "shim/core/ai.h"

/* Ours for one address literal, as the getaddrinfo hook would build it. */
static int ours(const char *addr, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    int rc = hastls_ai_check(addr, service, hints);
    if (rc)
        return rc;
    struct hastls_svc_list svc;
    rc = hastls_ai_services(service, hints, &svc);
    if (rc)
        return rc;
    struct hastls_ip ip, v4[1], v6[1], sel[4];
    memset(&ip, 0, sizeof ip);
    size_t n4 = 0, n6 = 0;
    if (inet_pton(AF_INET, addr, ip.addr) == 1) {
        ip.family = AF_INET;
        v4[n4++] = ip;
    } else {
        assert_int_equal(inet_pton(AF_INET6, addr, ip.addr), 1);
        ip.family = AF_INET6;
        v6[n6++] = ip;
    }
    size_t n =
        hastls_ai_select(hints->ai_family, hints->ai_flags, v4, n4, v6, n6, 1, sel, 4);
    if (n == 0)
        return EAI_ADDRFAMILY;
    return hastls_ai_build(sel, n, addr, hints, &svc, res);
}

static void same_list(const struct addrinfo *a, const struct addrinfo *b,
                      const char *what)
{
    int i = 0;
    for (; a && b; a = a->ai_next, b = b->ai_next, i++) {
        if (a->ai_family != b->ai_family || a->ai_socktype != b->ai_socktype ||
            a->ai_protocol != b->ai_protocol || a->ai_addrlen != b->ai_addrlen ||
            memcmp(a->ai_addr, b->ai_addr, a->ai_addrlen) ||
            !a->ai_canonname != !b->ai_canonname ||
            (a->ai_canonname && strcmp(a->ai_canonname, b->ai_canonname))) {
            fail_msg("%s: entry %d differs (%d/%d/%d vs %d/%d/%d)", what, i, a->ai_family,
                     a->ai_socktype, a->ai_protocol, b->ai_family, b->ai_socktype,
                     b->ai_protocol);
        }
    }
    if (a || b)
        fail_msg("%s: lists differ in length at %d", what, i);
}

static void test_matches_glibc(void **state)
{
    (void)state;
    const char *addrs[] = {"192.0.2.1", "2001:db8::1"};
    const char *services[] = {NULL,     "",   "80",    "http", "domain", "ntp",
                              "nosuch", "-1", "70000", " 443", "0",      "65535"};
    const int socktypes[] = {0, SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET, 77};
    const int protocols[] = {0, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, 99};
    const int families[] = {AF_UNSPEC, AF_INET, AF_INET6};
    const int flags[] = {0, AI_NUMERICSERV, AI_CANONNAME, AI_PASSIVE, 0x10000};
    int compared = 0;
    for (size_t ia = 0; ia < 2; ia++)
        for (size_t is = 0; is < sizeof services / sizeof *services; is++)
            for (size_t it = 0; it < sizeof socktypes / sizeof *socktypes; it++)
                for (size_t ip = 0; ip < sizeof protocols / sizeof *protocols; ip++)
                    for (size_t iff = 0; iff < 3; iff++)
                        for (size_t ifl = 0; ifl < sizeof flags / sizeof *flags; ifl++) {
                            struct addrinfo hints;
                            memset(&hints, 0, sizeof hints);
                            hints.ai_family = families[iff];
                            hints.ai_socktype = socktypes[it];
                            hints.ai_protocol = protocols[ip];
                            hints.ai_flags = flags[ifl];
                            struct addrinfo *want = NULL, *got = NULL;
                            struct addrinfo nh = hints;
                            nh.ai_flags |= AI_NUMERICHOST;
                            int rw = getaddrinfo(addrs[ia], services[is], &nh, &want);
                            int rg = ours(addrs[ia], services[is], &hints, &got);
                            char what[200];
                            snprintf(what, sizeof what, "%s %s fam %d st %d pr %d fl %#x",
                                     addrs[ia], services[is] ? services[is] : "NULL",
                                     hints.ai_family, hints.ai_socktype,
                                     hints.ai_protocol, hints.ai_flags);
                            /* A family mismatch is EAI_ADDRFAMILY in glibc; the
                             * hook never gets there for literals. */
                            if (rw == EAI_ADDRFAMILY && rg == EAI_ADDRFAMILY)
                                continue;
                            if (rw != rg)
                                fail_msg("%s: glibc %d, ours %d", what, rw, rg);
                            if (rw == 0)
                                same_list(got, want, what);
                            if (want)
                                freeaddrinfo(want);
                            if (got)
                                freeaddrinfo(got); /* libc's free on our list */
                            compared++;
                        }
    assert_true(compared > 1000);
}

/* Malformed services: what glibc says for each, whatever the hints; names
 * around the length of the shim's service cache entries (31, 32 bytes). */
static void test_malformed_services(void **state)
{
    (void)state;
    char long_name[300];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *services[] = {"80x",
                              "0x50",
                              "8 0",
                              "443\n",
                              "+80",
                              "\xff",
                              "h\ttp",
                              "-0",
                              "4294967297",
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",  /* 31 */
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 32 */
                              long_name};
    const int socktypes[] = {0, SOCK_STREAM, SOCK_DGRAM, SOCK_RAW};
    const int flags[] = {0, AI_NUMERICSERV};
    for (size_t is = 0; is < sizeof services / sizeof *services; is++)
        for (size_t it = 0; it < sizeof socktypes / sizeof *socktypes; it++)
            for (size_t ifl = 0; ifl < 2; ifl++) {
                struct addrinfo hints;
                memset(&hints, 0, sizeof hints);
                hints.ai_socktype = socktypes[it];
                hints.ai_flags = flags[ifl];
                struct addrinfo *want = NULL, *got = NULL;
                struct addrinfo nh = hints;
                nh.ai_flags |= AI_NUMERICHOST;
                int rw = getaddrinfo("192.0.2.1", services[is], &nh, &want);
                int rg = ours("192.0.2.1", services[is], &hints, &got);
                if (rw != rg)
                    fail_msg("service #%zu st %d fl %#x: glibc %d, ours %d", is,
                             hints.ai_socktype, hints.ai_flags, rw, rg);
                if (rw == 0)
                    same_list(got, want, services[is]);
                if (want)
                    freeaddrinfo(want);
                if (got)
                    freeaddrinfo(got);
            }
}

static void test_v4mapped_matches_glibc(void **state)
{
    (void)state;
    struct addrinfo hints, *want = NULL, *got = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET6;
    hints.ai_flags = AI_V4MAPPED | AI_NUMERICHOST;
    hints.ai_socktype = SOCK_STREAM;
    assert_int_equal(getaddrinfo("192.0.2.1", "443", &hints, &want), 0);
    assert_int_equal(ours("192.0.2.1", "443", &hints, &got), 0);
    same_list(got, want, "v4mapped");
    freeaddrinfo(want);
    freeaddrinfo(got);
}

static struct hastls_ip ip_of(const char *text)
{
    struct hastls_ip ip;
    memset(&ip, 0, sizeof ip);
    ip.family = strchr(text, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(ip.family, text, ip.addr), 1);
    return ip;
}

static void test_select(void **state)
{
    (void)state;
    struct hastls_ip v4[2] = {ip_of("192.0.2.1"), ip_of("192.0.2.2")};
    struct hastls_ip v6[1] = {ip_of("2001:db8::1")};
    struct hastls_ip out[8];
    char buf[64];
    size_t n = hastls_ai_select(AF_UNSPEC, 0, v4, 2, v6, 1, 1, out, 8);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].family, AF_INET6);
    n = hastls_ai_select(AF_UNSPEC, 0, v4, 2, v6, 1, 0, out, 8);
    assert_int_equal(out[0].family, AF_INET);
    assert_int_equal(out[2].family, AF_INET6);
    n = hastls_ai_select(AF_INET, 0, v4, 2, v6, 1, 1, out, 8);
    assert_int_equal(n, 2);
    /* AF_INET6 without V4MAPPED: IPv6 only; with it but IPv6 present: IPv6 only. */
    n = hastls_ai_select(AF_INET6, 0, v4, 2, NULL, 0, 1, out, 8);
    assert_int_equal(n, 0);
    n = hastls_ai_select(AF_INET6, AI_V4MAPPED, v4, 2, v6, 1, 1, out, 8);
    assert_int_equal(n, 1);
    /* no IPv6 at all: mapped IPv4 */
    n = hastls_ai_select(AF_INET6, AI_V4MAPPED, v4, 2, NULL, 0, 1, out, 8);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].family, AF_INET6);
    assert_string_equal(inet_ntop(AF_INET6, out[0].addr, buf, sizeof buf),
                        "::ffff:192.0.2.1");
    /* AI_ALL: both */
    n = hastls_ai_select(AF_INET6, AI_V4MAPPED | AI_ALL, v4, 2, v6, 1, 1, out, 8);
    assert_int_equal(n, 3);
    assert_string_equal(inet_ntop(AF_INET6, out[0].addr, buf, sizeof buf), "2001:db8::1");
    assert_string_equal(inet_ntop(AF_INET6, out[2].addr, buf, sizeof buf),
                        "::ffff:192.0.2.2");
    /* capacity */
    n = hastls_ai_select(AF_UNSPEC, 0, v4, 2, v6, 1, 1, out, 2);
    assert_int_equal(n, 2);
}

static void test_build_canon_and_errors(void **state)
{
    (void)state;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_CANONNAME;
    struct hastls_svc_list svc;
    assert_int_equal(hastls_ai_services("443", &hints, &svc), 0);
    assert_int_equal(svc.n, 3);
    struct hastls_ip ips[2] = {ip_of("192.0.2.1"), ip_of("2001:db8::2")};
    assert_int_equal(hastls_ai_build(ips, 2, "real.example", &hints, &svc, &res), 0);
    int count = 0;
    for (struct addrinfo *p = res; p; p = p->ai_next, count++) {
        if (count == 0)
            assert_string_equal(p->ai_canonname, "real.example");
        else
            assert_null(p->ai_canonname);
        assert_int_equal(ntohs(((struct sockaddr_in *)p->ai_addr)->sin_port), 443);
    }
    assert_int_equal(count, 6); /* 2 addresses x stream/dgram/raw */
    /* Programs re-link lists: a list made of pieces of two is still freed
     * right by either freeaddrinfo. */
    struct addrinfo *other = NULL;
    assert_int_equal(hastls_ai_build(ips, 1, NULL, &hints, &svc, &other), 0);
    struct addrinfo *second = res->ai_next;
    res->ai_next = NULL;
    struct addrinfo *tail = other;
    while (tail->ai_next)
        tail = tail->ai_next;
    tail->ai_next = second;
    freeaddrinfo(other);
    hastls_ai_free(res);
    assert_int_equal(hastls_ai_build(ips, 0, NULL, &hints, &svc, &res), EAI_NONAME);
    /* argument checks */
    memset(&hints, 0, sizeof hints);
    assert_int_equal(hastls_ai_check(NULL, NULL, &hints), EAI_NONAME);
    hints.ai_flags = AI_CANONNAME;
    assert_int_equal(hastls_ai_check(NULL, "80", &hints), EAI_BADFLAGS);
    hints.ai_flags = 0x10000;
    assert_int_equal(hastls_ai_check("x", "80", &hints), EAI_BADFLAGS);
    hints.ai_flags = 0;
    hints.ai_family = AF_UNIX;
    assert_int_equal(hastls_ai_check("x", "80", &hints), EAI_FAMILY);
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = AI_NUMERICSERV;
    assert_int_equal(hastls_ai_services("http", &hints, &svc), EAI_NONAME);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_glibc),
        cmocka_unit_test(test_malformed_services),
        cmocka_unit_test(test_v4mapped_matches_glibc),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_build_canon_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
