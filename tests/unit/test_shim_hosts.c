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
              "192.0.2.10 web.example\n"    /* repeated: adds nothing */
              "198.51.100.1 last.example"); /* no newline */
    assert_int_equal(hastls_hosts_count(h), 7);
    struct hastls_ip out[8];
    size_t n;
    char canon[HASTLS_NAME_MAX], buf[INET6_ADDRSTRLEN];
    assert_int_equal(
        hastls_hosts_find_name(h, "WEB.example.", AF_UNSPEC, out, 8, &n, canon), 1);
    assert_string_equal(canon, "web.example");
    assert_int_equal(n, 3);
    assert_string_equal(fmt(&out[0], buf), "192.0.2.10");
    assert_string_equal(fmt(&out[1], buf), "2001:db8::10");
    assert_string_equal(fmt(&out[2], buf), "192.0.2.11");
    assert_int_equal(hastls_hosts_find_name(h, "web.example", AF_INET6, out, 8, &n, NULL),
                     1);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].family, AF_INET6);
    /* an alias finds its line, canonical name first on the line */
    assert_int_equal(hastls_hosts_find_name(h, "alias-web", AF_UNSPEC, out, 8, &n, canon),
                     1);
    assert_string_equal(canon, "web.example");
    assert_int_equal(n, 1);
    /* known name, no address of the family: found, zero addresses */
    assert_int_equal(
        hastls_hosts_find_name(h, "last.example", AF_INET6, out, 8, &n, NULL), 1);
    assert_int_equal(n, 0);
    assert_int_equal(hastls_hosts_find_name(h, "localhost", AF_UNSPEC, out, 8, &n, NULL),
                     1);
    assert_int_equal(n, 2);
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
    assert_string_equal(name, "web.example");
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
