/* tests/unit/test_shim_hosts.c: the hosts-file parser on good and malformed
 * input, lookups by name and address, and the process table's reload. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/config.h"
#include "shim/core/hosts.h"

static struct hastls_hosts *parse(const char *text)
{
    struct hastls_hosts *h = hastls_hosts_parse(text, strlen(text));
    assert_non_null(h);
    return h;
}

static const char *fmt(const struct hastls_ip *ip, char *buf)
{
    return inet_ntop(ip->family, ip->addr, buf, INET6_ADDRSTRLEN);
}

static void test_basic(void **state)
{
    (void)state;
    struct hastls_hosts *h =
        parse("# comment line\n"
              "127.0.0.1\tlocalhost\n"
              "::1     localhost ip6-localhost   # trailing comment\n"
              "192.0.2.10 Web.Example.  web alias-web\r\n"
              "2001:db8::10 web.example\n"
              "192.0.2.11 web.example\n"
              "192.0.2.10 web.example\n"    /* repeated: kept, as glibc keeps it */
              "198.51.100.1 last.example"); /* no newline */
    assert_int_equal(hastls_hosts_count(h), 7);
    struct hastls_ip out[8];
    size_t n;
    char canon[HASTLS_NAME_MAX], buf[INET6_ADDRSTRLEN];
    assert_int_equal(
        hastls_hosts_find_name(h, "WEB.example.", AF_UNSPEC, out, 8, &n, canon), 1);
    assert_string_equal(canon, "Web.Example."); /* as written */
    assert_int_equal(n, 4);
    assert_string_equal(fmt(&out[0], buf), "192.0.2.10");
    assert_string_equal(fmt(&out[1], buf), "2001:db8::10");
    assert_string_equal(fmt(&out[2], buf), "192.0.2.11");
    assert_string_equal(fmt(&out[3], buf), "192.0.2.10");
    assert_int_equal(hastls_hosts_find_name(h, "web.example", AF_INET6, out, 8, &n, NULL),
                     1);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].family, AF_INET6);
    /* an alias finds its line, canonical name first on the line */
    assert_int_equal(hastls_hosts_find_name(h, "alias-web", AF_UNSPEC, out, 8, &n, canon),
                     1);
    assert_string_equal(canon, "Web.Example.");
    assert_int_equal(n, 1);
    /* known name, no address of the family: found, zero addresses */
    assert_int_equal(
        hastls_hosts_find_name(h, "last.example", AF_INET6, out, 8, &n, NULL), 1);
    assert_int_equal(n, 0);
    assert_int_equal(hastls_hosts_find_name(h, "localhost", AF_UNSPEC, out, 8, &n, NULL),
                     1);
    assert_int_equal(n, 2);
    /* AF_INET reads the ::1 line as 127.0.0.1, as glibc's parser does */
    assert_int_equal(hastls_hosts_find_name(h, "localhost", AF_INET, out, 8, &n, NULL),
                     1);
    assert_int_equal(n, 2);
    assert_string_equal(fmt(&out[0], buf), "127.0.0.1");
    assert_string_equal(fmt(&out[1], buf), "127.0.0.1");
    assert_int_equal(
        hastls_hosts_find_name(h, "ip6-localhost", AF_INET, out, 8, &n, canon), 1);
    assert_int_equal(n, 1);
    assert_string_equal(canon, "localhost");
    assert_int_equal(
        hastls_hosts_find_name(h, "nosuch.example", AF_UNSPEC, out, 8, &n, NULL), 0);
    /* capacity is respected */
    assert_int_equal(
        hastls_hosts_find_name(h, "web.example", AF_UNSPEC, out, 1, &n, NULL), 1);
    assert_int_equal(n, 1);
    /* by address */
    struct in_addr a;
    inet_pton(AF_INET, "192.0.2.10", &a);
    char name[HASTLS_NAME_MAX];
    assert_int_equal(hastls_hosts_find_addr(h, AF_INET, &a, name), 1);
    assert_string_equal(name, "Web.Example.");
    inet_pton(AF_INET, "192.0.2.99", &a);
    assert_int_equal(hastls_hosts_find_addr(h, AF_INET, &a, name), 0);
    hastls_hosts_free(h);
}

static void test_malformed(void **state)
{
    (void)state;
    char longname[400];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    char text[2048];
    snprintf(text, sizeof text,
             "not-an-address name1\n"
             "1.2.3.4.5 name2\n"
             "192.0.2.1\n" /* no name */
             "192.0.2.2    # only a comment\n"
             "#192.0.2.3 commented\n"
             "999.1.1.1 name3\n"
             "fe80::1%%eth0 name4\n" /* scoped: not accepted */
             "::ffff:192.0.2.4 mapped.example\n"
             "192.0.2.5 %s ok.example\n" /* overlong name dropped, line kept */
             "\n\n   \t\n"
             "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb x\n" /* too long */
             "0x7f.1 hexform\n",
             longname);
    struct hastls_hosts *h = parse(text);
    assert_int_equal(hastls_hosts_count(h), 2);
    struct hastls_ip out[4];
    size_t n;
    for (int i = 1; i <= 4; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "name%d", i);
        assert_int_equal(hastls_hosts_find_name(h, nm, AF_UNSPEC, out, 4, &n, NULL), 0);
    }
    assert_int_equal(hastls_hosts_find_name(h, "hexform", AF_UNSPEC, out, 4, &n, NULL),
                     0);
    assert_int_equal(hastls_hosts_find_name(h, longname, AF_UNSPEC, out, 4, &n, NULL), 0);
    assert_int_equal(hastls_hosts_find_name(h, "ok.example", AF_UNSPEC, out, 4, &n, NULL),
                     1);
    assert_int_equal(
        hastls_hosts_find_name(h, "mapped.example", AF_INET6, out, 4, &n, NULL), 1);
    assert_int_equal(n, 1);
    /* empty and degenerate names are never found */
    assert_int_equal(hastls_hosts_find_name(h, "", AF_UNSPEC, out, 4, &n, NULL), 0);
    assert_int_equal(hastls_hosts_find_name(h, ".", AF_UNSPEC, out, 4, &n, NULL), 0);
    hastls_hosts_free(h);

    /* NUL bytes inside the buffer: the name holding one is dropped. */
    static const char nul[] = "192.0.2.7 bad\0name good.example\n192.0.2.8 \0\n";
    h = hastls_hosts_parse(nul, sizeof nul - 1);
    assert_non_null(h);
    assert_int_equal(
        hastls_hosts_find_name(h, "good.example", AF_UNSPEC, out, 4, &n, NULL), 1);
    assert_int_equal(hastls_hosts_find_name(h, "bad", AF_UNSPEC, out, 4, &n, NULL), 0);
    hastls_hosts_free(h);

    /* Empty input, lone newline, no terminating newline after an address. */
    h = hastls_hosts_parse("", 0);
    assert_non_null(h);
    assert_int_equal(hastls_hosts_count(h), 0);
    assert_int_equal(hastls_hosts_find_name(h, "x", AF_UNSPEC, out, 4, &n, NULL), 0);
    hastls_hosts_free(h);
    h = parse("\n");
    hastls_hosts_free(h);
    h = parse("192.0.2.9");
    assert_int_equal(hastls_hosts_count(h), 0);
    hastls_hosts_free(h);
}

static void test_many_lines(void **state)
{
    (void)state;
    /* A large (ad-blocking style) file: every name is found through the index. */
    size_t cap = 5000 * 40, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (int i = 0; i < 5000; i++)
        len += (size_t)snprintf(text + len, cap - len, "10.%d.%d.1 host%d.example\n",
                                i / 256, i % 256, i);
    struct hastls_hosts *h = hastls_hosts_parse(text, len);
    free(text);
    assert_non_null(h);
    assert_int_equal(hastls_hosts_count(h), 5000);
    struct hastls_ip out[2];
    size_t n;
    char buf[INET6_ADDRSTRLEN];
    assert_int_equal(
        hastls_hosts_find_name(h, "host4321.example", AF_INET, out, 2, &n, NULL), 1);
    assert_int_equal(n, 1);
    assert_string_equal(fmt(&out[0], buf), "10.16.225.1");
    hastls_hosts_free(h);
}

static void test_process_table_reload(void **state)
{
    (void)state;
    char path[] = "/tmp/test_shim_hosts.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *v1 = "192.0.2.40 reload.example\n";
    assert_int_equal(write(fd, v1, strlen(v1)), (ssize_t)strlen(v1));
    close(fd);
    hastls_hosts_set_path(path);
    struct hastls_ip out[2];
    size_t n;
    char canon[HASTLS_NAME_MAX], buf[INET6_ADDRSTRLEN], name[HASTLS_NAME_MAX];
    assert_int_equal(
        hastls_hosts_lookup_name("reload.example", AF_UNSPEC, out, 2, &n, canon), 1);
    assert_string_equal(fmt(&out[0], buf), "192.0.2.40");
    struct in_addr a;
    inet_pton(AF_INET, "192.0.2.40", &a);
    assert_int_equal(hastls_hosts_lookup_addr(AF_INET, &a, name), 1);
    /* Rewritten (a different size): re-read on the next check. */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("192.0.2.41 reload.example other.example\n", f);
    fclose(f);
    hastls_hosts_set_path(path); /* resets the once-a-second check */
    assert_int_equal(
        hastls_hosts_lookup_name("reload.example", AF_UNSPEC, out, 2, &n, canon), 1);
    assert_string_equal(fmt(&out[0], buf), "192.0.2.41");
    /* Missing file: nothing is known. */
    unlink(path);
    hastls_hosts_set_path(path);
    assert_int_equal(
        hastls_hosts_lookup_name("reload.example", AF_UNSPEC, out, 2, &n, canon), 0);
}

/* Whole entries as glibc's files source builds them: aliases merged over
 * every line of the name, each family's view of the lines. */
static void test_entries(void **state)
{
    (void)state;
    struct hastls_hosts *h = parse("127.0.0.1\tlocalhost MyHost.Example\n"
                                   "::1 localhost ip6-localhost ip6-loopback\n"
                                   "192.0.2.1 Multi.Example multi first-alias\n"
                                   "192.0.2.2 multi.example second-alias\n"
                                   "2001:db8::3 multi.example v6-alias\n"
                                   "192.0.2.4 MULTI.EXAMPLE\n"
                                   "::ffff:192.0.2.5 mapped.example\n"
                                   "2001:db8::6 v6only.example\n");
    static struct hastls_hosts_entry e;
    char buf[INET6_ADDRSTRLEN];
    const char *want[] = {"multi", "first-alias", "second-alias", "multi.example",
                          "MULTI.EXAMPLE"};

    assert_int_equal(hastls_hosts_find_entry(h, "multi.EXAMPLE", AF_INET, &e), 1);
    assert_string_equal(e.name, "Multi.Example");
    assert_int_equal(e.n, 3);
    assert_string_equal(fmt(&e.addr[2], buf), "192.0.2.4");
    assert_int_equal(e.naliases, 5);
    const char *p = e.aliases;
    for (size_t i = 0; i < 5; i++, p += strlen(p) + 1)
        assert_string_equal(p, want[i]);

    /* AF_INET6: only the IPv6 line counts, and names the entry */
    assert_int_equal(hastls_hosts_find_entry(h, "Multi.example", AF_INET6, &e), 1);
    assert_string_equal(e.name, "multi.example");
    assert_int_equal(e.n, 1);
    assert_int_equal(e.naliases, 1);
    assert_string_equal(e.aliases, "v6-alias");

    /* ::1 answers AF_INET as 127.0.0.1, with its line's aliases */
    assert_int_equal(hastls_hosts_find_entry(h, "localhost", AF_INET, &e), 1);
    assert_int_equal(e.n, 2);
    assert_string_equal(fmt(&e.addr[1], buf), "127.0.0.1");
    assert_int_equal(e.naliases, 3); /* MyHost.Example ip6-localhost ip6-loopback */

    /* a v4-mapped line answers AF_INET with its IPv4 address */
    assert_int_equal(hastls_hosts_find_entry(h, "mapped.example", AF_INET, &e), 1);
    assert_int_equal(e.n, 1);
    assert_string_equal(fmt(&e.addr[0], buf), "192.0.2.5");
    assert_int_equal(hastls_hosts_find_entry(h, "mapped.example", AF_INET6, &e), 1);
    assert_string_equal(fmt(&e.addr[0], buf), "::ffff:192.0.2.5");

    /* known, no line of the family: found with no address */
    assert_int_equal(hastls_hosts_find_entry(h, "v6only.example", AF_INET, &e), 1);
    assert_int_equal(e.n, 0);
    assert_string_equal(e.name, "v6only.example");
    assert_int_equal(hastls_hosts_find_entry(h, "nosuch", AF_INET, &e), 0);

    /* by address: the first line that counts for the family */
    unsigned char a4[4] = {127, 0, 0, 1}, a6[16] = {0};
    a6[15] = 1;
    assert_int_equal(hastls_hosts_find_addr_entry(h, AF_INET6, a6, &e), 1);
    assert_string_equal(e.name, "localhost");
    assert_int_equal(e.naliases, 2);
    assert_string_equal(e.aliases, "ip6-localhost");
    assert_int_equal(hastls_hosts_find_addr_entry(h, AF_INET, a4, &e), 1);
    assert_int_equal(e.naliases, 1);
    assert_string_equal(e.aliases, "MyHost.Example");
    unsigned char m4[4] = {192, 0, 2, 5};
    assert_int_equal(hastls_hosts_find_addr_entry(h, AF_INET, m4, &e), 1);
    assert_string_equal(e.name, "mapped.example");
    assert_int_equal(hastls_hosts_find_addr_entry(h, AF_UNSPEC, m4, &e), 0);
    hastls_hosts_free(h);

    /* more alias bytes than an entry holds: the rest are left out */
    char big[8192];
    size_t len = (size_t)snprintf(big, sizeof big, "192.0.2.9 big.example");
    for (int i = 0; i < 200; i++)
        len += (size_t)snprintf(big + len, sizeof big - len, " alias-number-%03d", i);
    h = parse(big);
    assert_int_equal(hastls_hosts_find_entry(h, "alias-number-199", AF_INET, &e), 1);
    assert_true(e.naliases > 10 && e.naliases < 200);
    assert_true(e.aliases_len <= sizeof e.aliases);
    hastls_hosts_free(h);
}

static void test_localhost_names(void **state)
{
    (void)state;
    const char *yes[] = {"localhost", "LOCALHOST.", "a.localhost", "x.y.LocalHost"};
    const char *no[] = {
        "",        ".", "localhost..", "notlocalhost", ".localhost", "localhost.example",
        "localhos"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_int_equal(hastls_hosts_is_localhost(yes[i]), 1);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_int_equal(hastls_hosts_is_localhost(no[i]), 0);
    struct hastls_ip lo;
    char buf[INET6_ADDRSTRLEN];
    hastls_hosts_loopback(AF_INET, &lo);
    assert_string_equal(fmt(&lo, buf), "127.0.0.1");
    hastls_hosts_loopback(AF_INET6, &lo);
    assert_string_equal(fmt(&lo, buf), "::1");
}

/* The shim's local answers: the hosts file first, then the built-in
 * localhost names; everything else goes to DNS. */
static void test_lookup_local(void **state)
{
    (void)state;
    char path[] = "/tmp/test_shim_hosts.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *v = "192.0.2.50 files.example\n10.9.9.9 db.localhost\n";
    assert_int_equal(write(fd, v, strlen(v)), (ssize_t)strlen(v));
    close(fd);
    hastls_hosts_set_path(path);
    struct hastls_ip out[4];
    size_t n;
    char canon[HASTLS_NAME_MAX], buf[INET6_ADDRSTRLEN];

    assert_int_equal(hastls_hosts_lookup_local("files.example", out, 4, &n, canon), 1);
    assert_int_equal(n, 1);
    assert_string_equal(fmt(&out[0], buf), "192.0.2.50");
    /* The file wins over the built-in names. */
    assert_int_equal(hastls_hosts_lookup_local("db.localhost", out, 4, &n, canon), 1);
    assert_int_equal(n, 1);
    assert_string_equal(fmt(&out[0], buf), "10.9.9.9");
    const char *builtin[] = {"localhost", "x.localhost", "a.b.localhost"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(hastls_hosts_lookup_local(builtin[i], out, 4, &n, canon), 1);
        assert_int_equal(n, 2);
        assert_string_equal(canon, builtin[i]);
        assert_string_equal(fmt(&out[0], buf), "127.0.0.1");
        assert_string_equal(fmt(&out[1], buf), "::1");
    }
    const char *dns[] = {"notlocalhost", "localhost.example", "example.org", "localhos"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(hastls_hosts_lookup_local(dns[i], out, 4, &n, canon), 0);
    /* Too little room for the two built-in addresses: not answered locally. */
    assert_int_equal(hastls_hosts_lookup_local("localhost", out, 1, &n, canon), 0);
    unlink(path);
    hastls_hosts_set_path("/etc/hosts");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_many_lines),
        cmocka_unit_test(test_process_table_reload),
        cmocka_unit_test(test_lookup_local),
        cmocka_unit_test(test_entries),
        cmocka_unit_test(test_localhost_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
