/* tests/unit/test_shim_search.c: the resolv.conf search list: parsing (search
 * and domain, the last one wins, ndots, comments, malformed lines, long
 * names, too many domains), the order names are tried in, and the process's
 * list re-read when the file changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "shim/core/search.h"

static struct hastls_search parse(const char *text)
{
    struct hastls_search s;
    memset(&s, 0x55, sizeof s);
    hastls_search_parse(text, strlen(text), &s);
    return s;
}

static void test_parse(void **state)
{
    (void)state;
    struct hastls_search s = parse("nameserver 127.0.0.53\n"
                                   "search Lab.Example corp.example.\n"
                                   "options edns0 ndots:2 trust-ad\n");
    assert_int_equal(s.ndots, 2);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.domain[0], "lab.example");
    assert_string_equal(s.domain[1], "corp.example");
    /* the last search/domain line wins; domain takes one name */
    s = parse("search a.example b.example\ndomain c.example d.example\n");
    assert_int_equal(s.n, 1);
    assert_string_equal(s.domain[0], "c.example");
    s = parse("domain c.example\nsearch\tx.example\n");
    assert_int_equal(s.n, 1);
    assert_string_equal(s.domain[0], "x.example");
    /* defaults, comments, junk */
    s = parse("# search commented.example\n; search also.example\nnonsense line\n"
              "options ndots:99\n");
    assert_int_equal(s.n, 0);
    assert_int_equal(s.ndots, 15);
    s = parse("options ndots:-3 ndots:x\n");
    assert_int_equal(s.ndots, 0);
    s = parse("");
    assert_int_equal(s.ndots, 1);
    assert_int_equal(s.n, 0);
    /* at most six domains; an overlong one and the root are skipped */
    char longname[400], text[800];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    snprintf(text, sizeof text, "search %s . d1 d2 d3 d4 d5 d6 d7", longname);
    s = parse(text);
    assert_int_equal(s.n, HASTLS_SEARCH_MAX);
    assert_string_equal(s.domain[0], "d1");
    assert_string_equal(s.domain[5], "d6");
    /* no newline at the end, NUL bytes inside */
    static const char nul[] = "search a\0b.example c.example";
    hastls_search_parse(nul, sizeof nul - 1, &s);
    assert_true(s.n <= HASTLS_SEARCH_MAX);
}

static void test_candidates(void **state)
{
    (void)state;
    char out[HASTLS_SEARCH_MAX + 1][HASTLS_NAME_MAX];
    struct hastls_search s = parse("search lab.example corp.example\n");
    /* no dot (< ndots 1): search domains first, the name itself last */
    size_t n = hastls_search_candidates(&s, "secure", out, HASTLS_SEARCH_MAX + 1);
    assert_int_equal(n, 3);
    assert_string_equal(out[0], "secure.lab.example");
    assert_string_equal(out[1], "secure.corp.example");
    assert_string_equal(out[2], "secure");
    /* enough dots: the name first */
    n = hastls_search_candidates(&s, "www.example", out, HASTLS_SEARCH_MAX + 1);
    assert_int_equal(n, 3);
    assert_string_equal(out[0], "www.example");
    assert_string_equal(out[1], "www.example.lab.example");
    /* capacity */
    n = hastls_search_candidates(&s, "secure", out, 1);
    assert_int_equal(n, 1);
    assert_string_equal(out[0], "secure.lab.example");
    /* a name too long with a suffix: only the name itself */
    char longname[HASTLS_NAME_MAX];
    memset(longname, 'b', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    n = hastls_search_candidates(&s, longname, out, HASTLS_SEARCH_MAX + 1);
    assert_int_equal(n, 1);
    assert_string_equal(out[0], longname);
    /* empty list */
    s = parse("nameserver 1.1.1.1\n");
    n = hastls_search_candidates(&s, "x", out, HASTLS_SEARCH_MAX + 1);
    assert_int_equal(n, 1);
    assert_string_equal(out[0], "x");
}

static void test_process_list(void **state)
{
    (void)state;
    char path[] = "/tmp/test_shim_search.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *v1 = "search one.example\n";
    assert_int_equal(write(fd, v1, strlen(v1)), (ssize_t)strlen(v1));
    close(fd);
    hastls_search_set_path(path);
    struct hastls_search s;
    hastls_search_current(&s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.domain[0], "one.example");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("search two.example three.example\noptions ndots:3\n", f);
    fclose(f);
    hastls_search_set_path(path); /* resets the once-a-second check */
    hastls_search_current(&s);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.ndots, 3);
    unlink(path);
    hastls_search_set_path(path);
    hastls_search_current(&s);
    assert_int_equal(s.n, 0);
    assert_int_equal(s.ndots, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_candidates),
        cmocka_unit_test(test_process_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
