/* tests/unit/test_shim_hostname.c: the host-name check glibc's DNS source
 * applies before any query (shim/core/hostname.c), on the names glibc 2.36
 * was seen to refuse and to send (tests/integration/glibc_parity.sh compares
 * the two in the lab). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "shim/core/hostname.h"

static void test_accepted(void **state)
{
    (void)state;
    const char *ok[] = {
        "",
        ".",
        "example",
        "secure.lab.example",
        "secure.lab.example.",
        "ab-.example",
        "a-b.example",
        "a_b.example",
        "_a.example",
        "x.-ab.example",
        "1e1.example",
        "123.example",
        "a.1",
        "SeCuRe.LAB",
        "sec\\ure.example", /* \u is 'u' */
        "a\\098c.example",  /* \098 is 'b' */
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (!hastls_hostname_ok(ok[i]))
            fail_msg("refused: '%s'", ok[i]);
    }
}

static void test_refused(void **state)
{
    (void)state;
    const char *no[] = {
        "0.1.1.~1",
        "a b.example",
        "-ab.example",
        "*.example",
        "a*.example",
        "a..b.example",
        ".example",
        "example..",
        "..",
        "a~b.example",
        "caf\xc3\xa9.example",
        "a!b",
        "a/b",
        "a\tb",
        "a:b",
        "a\\.b.example",   /* '.' in a label */
        "\\045ab.example", /* '-' first, escaped */
        "a\\",
        "a\\25",
        "a\\256.example",
        "a\\000b",
        "a\x7f"
        "b",
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        if (hastls_hostname_ok(no[i]))
            fail_msg("accepted: '%s'", no[i]);
    }
}

static void test_lengths(void **state)
{
    (void)state;
    char name[600];
    /* a label of 63 bytes is fine, 64 is not */
    memset(name, 'a', 63);
    strcpy(name + 63, ".example");
    assert_int_equal(hastls_hostname_ok(name), 1);
    memset(name, 'a', 64);
    strcpy(name + 64, ".example");
    assert_int_equal(hastls_hostname_ok(name), 0);
    /* 255 bytes in wire form at most: 127 labels "a." = 254 + root = 255 */
    size_t n = 0;
    for (int i = 0; i < 127; i++) {
        name[n++] = 'a';
        name[n++] = '.';
    }
    name[n] = '\0';
    assert_int_equal(hastls_hostname_ok(name), 1);
    name[n - 1] = '\0'; /* the same without the final dot */
    assert_int_equal(hastls_hostname_ok(name), 1);
    strcpy(name + n - 1, ".b"); /* one label more: 257 */
    assert_int_equal(hastls_hostname_ok(name), 0);
    /* an escape counts as one byte */
    n = 0;
    for (int i = 0; i < 63; i++) {
        memcpy(name + n, "\\097", 4);
        n += 4;
    }
    strcpy(name + n, ".example");
    assert_int_equal(hastls_hostname_ok(name), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
