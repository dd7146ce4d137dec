/* tests/unit/test_hastls_rr.c: the HASTLS codec on good and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/hastls_rr.h"

/* ---- wire form ---- */

static void decode_good(void **state)
{
    (void)state;
    const uint8_t rdata[] = {0, 25, 0, 25, 0, 0, 0x01, 0xbb};
    struct hastls_pair out[4];
    size_t n = 0;
    assert_int_equal(hastls_rdata_decode(rdata, sizeof rdata, out, 4, &n), HASTLS_RR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].insecure, 25);
    assert_int_equal(out[0].secure, 25);
    assert_int_equal(out[1].insecure, 0);
    assert_int_equal(out[1].secure, 443);
}

static void decode_empty(void **state)
{
    (void)state;
    struct hastls_pair out[4];
    size_t n = 0;
    const uint8_t b[1] = {0};
    assert_int_equal(hastls_rdata_decode(b, 0, out, 4, &n), HASTLS_RR_EMPTY);
    assert_int_equal(n, 0);
}

static void decode_bad_lengths(void **state)
{
    (void)state;
    const uint8_t b[8] = {0, 80, 1, 0xbb, 0, 25, 0, 25};
    struct hastls_pair out[4];
    size_t n = 0;
    for (size_t len = 1; len < 8; len++) {
        if (len == 4)
            continue;
        assert_int_equal(hastls_rdata_decode(b, len, out, 4, &n), HASTLS_RR_BAD_LENGTH);
        assert_int_equal(n, 0);
    }
    /* 3 and 5 bytes in particular */
    assert_int_equal(hastls_rdata_decode(b, 3, out, 4, &n), HASTLS_RR_BAD_LENGTH);
    assert_int_equal(hastls_rdata_decode(b, 5, out, 4, &n), HASTLS_RR_BAD_LENGTH);
}

static void decode_zero_pair(void **state)
{
    (void)state;
    const uint8_t b[] = {0, 80, 1, 0xbb, 0, 0, 0, 0};
    struct hastls_pair out[4] = {{7, 7}, {7, 7}, {7, 7}, {7, 7}};
    size_t n = 0;
    assert_int_equal(hastls_rdata_decode(b, sizeof b, out, 4, &n), HASTLS_RR_ZERO_PAIR);
    assert_int_equal(n, 0);
    /* nothing written on error */
    assert_int_equal(out[0].insecure, 7);
    assert_int_equal(hastls_rdata_decode(b + 4, 4, out, 4, &n), HASTLS_RR_ZERO_PAIR);
}

static void decode_ports_0_and_65535(void **state)
{
    (void)state;
    const uint8_t b[] = {0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct hastls_pair out[3];
    size_t n = 0;
    assert_int_equal(hastls_rdata_decode(b, sizeof b, out, 3, &n), HASTLS_RR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].insecure, 65535);
    assert_int_equal(out[0].secure, 0);
    assert_int_equal(out[1].insecure, 0);
    assert_int_equal(out[1].secure, 65535);
    assert_int_equal(out[2].insecure, 65535);
    assert_int_equal(out[2].secure, 65535);
}

static void decode_appends_rrset(void **state)
{
    (void)state;
    const uint8_t a[] = {0, 80, 0, 0};
    const uint8_t b[] = {0, 0, 1, 0xbb, 0, 25, 0, 25};
    struct hastls_pair out[3];
    size_t n = 0;
    assert_int_equal(hastls_rdata_decode(a, sizeof a, out, 3, &n), HASTLS_RR_OK);
    assert_int_equal(hastls_rdata_decode(b, sizeof b, out, 3, &n), HASTLS_RR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].insecure, 80);
    assert_int_equal(out[1].secure, 443);
    assert_int_equal(out[2].insecure, 25);
    /* the buffer is full now: one more pair does not fit, N stays */
    assert_int_equal(hastls_rdata_decode(a, sizeof a, out, 3, &n), HASTLS_RR_TOO_MANY);
    assert_int_equal(n, 3);
}

static void decode_1000_pairs(void **state)
{
    (void)state;
    uint8_t *b = malloc(4000);
    struct hastls_pair *out = malloc(1000 * sizeof *out);
    assert_non_null(b);
    assert_non_null(out);
    for (int k = 0; k < 1000; k++) {
        b[4 * k] = (uint8_t)(k >> 8);
        b[4 * k + 1] = (uint8_t)k;
        b[4 * k + 2] = (uint8_t)((k + 1) >> 8);
        b[4 * k + 3] = (uint8_t)(k + 1);
    }
    size_t n = 0;
    assert_int_equal(hastls_rdata_decode(b, 4000, out, 1000, &n), HASTLS_RR_OK);
    assert_int_equal(n, 1000);
    assert_int_equal(out[999].insecure, 999);
    assert_int_equal(out[999].secure, 1000);
    n = 0;
    assert_int_equal(hastls_rdata_decode(b, 4000, out, 999, &n), HASTLS_RR_TOO_MANY);
    assert_int_equal(n, 0);

    /* and back: encode gives the same bytes */
    uint8_t *again = malloc(4000);
    size_t len = 0;
    assert_non_null(again);
    assert_int_equal(hastls_rdata_encode(out, 1000, again, 4000, &len), HASTLS_RR_OK);
    assert_int_equal(len, 4000);
    assert_memory_equal(b, again, 4000);
    assert_int_equal(hastls_rdata_encode(out, 1000, again, 3999, &len),
                     HASTLS_RR_NO_SPACE);
    free(again);
    free(out);
    free(b);
}

static void decode_over_64k(void **state)
{
    (void)state;
    /* 65536 bytes is a multiple of 4 but longer than any RDATA */
    uint8_t *b = calloc(1, 65536);
    struct hastls_pair out[1];
    size_t n = 0;
    assert_non_null(b);
    assert_int_equal(hastls_rdata_decode(b, 65536, out, 1, &n), HASTLS_RR_BAD_LENGTH);
    free(b);
}

static void encode_errors(void **state)
{
    (void)state;
    struct hastls_pair p[2] = {{80, 443}, {0, 0}};
    uint8_t out[8];
    size_t len = 99;
    assert_int_equal(hastls_rdata_encode(p, 0, out, 8, &len), HASTLS_RR_EMPTY);
    assert_int_equal(hastls_rdata_encode(p, 2, out, 8, &len), HASTLS_RR_ZERO_PAIR);
    assert_int_equal(hastls_rdata_encode(p, 1, out, 3, &len), HASTLS_RR_NO_SPACE);
    assert_int_equal(hastls_rdata_encode(p, HASTLS_RDATA_MAX_PAIRS + 1, out, 8, &len),
                     HASTLS_RR_TOO_MANY);
    assert_int_equal(len, 99);
    assert_int_equal(hastls_rdata_encode(p, 1, out, 4, &len), HASTLS_RR_OK);
    assert_int_equal(len, 4);
    const uint8_t want[] = {0, 80, 1, 0xbb};
    assert_memory_equal(out, want, 4);
}

/* ---- presentation form ---- */

static int parse(const char *text, struct hastls_pair *out, size_t cap, size_t *n,
                 size_t *pos)
{
    *n = 12345;
    *pos = 12345;
    return hastls_pairs_parse(text, out, cap, n, pos);
}

static void parse_good(void **state)
{
    (void)state;
    struct hastls_pair out[8];
    size_t n, pos;
    const char *forms[] = {"(25 25 0 443)",       "25 25 0 443",    "( 25 25 0 443 )",
                           "  (25\t25\n0 443)  ", "(25 25 0 443 )", "025 25 0 0443"};
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
        assert_int_equal(parse(forms[k], out, 8, &n, &pos), HASTLS_RR_OK);
        assert_int_equal(n, 2);
        assert_int_equal(out[0].insecure, 25);
        assert_int_equal(out[0].secure, 25);
        assert_int_equal(out[1].insecure, 0);
        assert_int_equal(out[1].secure, 443);
    }
    assert_int_equal(parse("(65535 0)", out, 8, &n, &pos), HASTLS_RR_OK);
    assert_int_equal(out[0].insecure, 65535);
    assert_int_equal(parse("0 65535", out, 8, &n, &pos), HASTLS_RR_OK);
    assert_int_equal(out[0].secure, 65535);
}

static void parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int err;
        size_t pos;
    } cases[] = {
        {"", HASTLS_RR_EMPTY, 0},
        {"   ", HASTLS_RR_EMPTY, 3},
        {"()", HASTLS_RR_EMPTY, 2},
        {"( )", HASTLS_RR_EMPTY, 3},
        {"(80)", HASTLS_RR_ODD_COUNT, 1},
        {"80 443 25", HASTLS_RR_ODD_COUNT, 7},
        {"(0 0)", HASTLS_RR_ZERO_PAIR, 1},
        {"80 443 0 00", HASTLS_RR_ZERO_PAIR, 7},
        {"(65536 443)", HASTLS_RR_PORT_RANGE, 1},
        {"80 99999999999999999999999", HASTLS_RR_PORT_RANGE, 3},
        {"(80 443", HASTLS_RR_SYNTAX, 0},
        {"80 443)", HASTLS_RR_SYNTAX, 6},
        {"((80 443))", HASTLS_RR_SYNTAX, 1},
        {"(80 443))", HASTLS_RR_SYNTAX, 8},
        {"(80 443) 25 25", HASTLS_RR_SYNTAX, 9},
        {"(80 (443)", HASTLS_RR_SYNTAX, 4},
        {"http https", HASTLS_RR_SYNTAX, 0},
        {"80x 443", HASTLS_RR_SYNTAX, 2},
        {"-80 443", HASTLS_RR_SYNTAX, 0},
        {"+80 443", HASTLS_RR_SYNTAX, 0},
        {"0x50 443", HASTLS_RR_SYNTAX, 1},
        {"80,443", HASTLS_RR_SYNTAX, 2},
        {"80 443;", HASTLS_RR_SYNTAX, 6},
    };
    struct hastls_pair out[8];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t n, pos;
        int r = parse(cases[k].text, out, 8, &n, &pos);
        if (r != cases[k].err || pos != cases[k].pos)
            fail_msg("'%s': got %d at %zu, want %d at %zu", cases[k].text, r, pos,
                     cases[k].err, cases[k].pos);
        assert_int_equal(n, 12345); /* untouched */
    }
    /* ERRPOS may be NULL */
    size_t n;
    assert_int_equal(hastls_pairs_parse("(80", out, 8, &n, NULL), HASTLS_RR_SYNTAX);
}

static void parse_too_many(void **state)
{
    (void)state;
    struct hastls_pair out[2];
    size_t n, pos;
    assert_int_equal(parse("1 2 3 4", out, 2, &n, &pos), HASTLS_RR_OK);
    assert_int_equal(parse("1 2 3 4 5 6", out, 2, &n, &pos), HASTLS_RR_TOO_MANY);
    assert_int_equal(pos, 8);
    assert_int_equal(parse("1 2", out, 0, &n, &pos), HASTLS_RR_TOO_MANY);
}

static void format_good(void **state)
{
    (void)state;
    struct hastls_pair p[] = {{25, 25}, {0, 443}, {65535, 0}};
    char buf[64];
    assert_int_equal(hastls_pairs_format(p, 3, buf, sizeof buf), 21);
    assert_string_equal(buf, "(25 25 0 443 65535 0)");
    assert_int_equal(hastls_pairs_format(p, 0, buf, sizeof buf), 2);
    assert_string_equal(buf, "()");
}

static void format_no_space(void **state)
{
    (void)state;
    struct hastls_pair p[] = {{25, 25}, {0, 443}};
    const char *full = "(25 25 0 443)";
    char buf[32];
    size_t len = strlen(full);
    /* every buffer shorter than len + 1 fails, still NUL-terminated */
    for (size_t cap = 1; cap <= len; cap++) {
        memset(buf, 'x', sizeof buf);
        assert_int_equal(hastls_pairs_format(p, 2, buf, cap), HASTLS_RR_NO_SPACE);
        assert_true(memchr(buf, '\0', cap) != NULL);
    }
    assert_int_equal(hastls_pairs_format(p, 2, buf, 0), HASTLS_RR_NO_SPACE);
    assert_int_equal(hastls_pairs_format(p, 2, buf, len + 1), (int)len);
    assert_string_equal(buf, full);
}

static void round_trips(void **state)
{
    (void)state;
    const char *texts[] = {"(0 443)",     "(80 443)",
                           "(80 0)",      "(25 25 0 993 0 995)",
                           "(8080 8443)", "(65535 65535 1 0 0 1)"};
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        struct hastls_pair p[8], q[8];
        size_t n, m = 0, pos, len;
        uint8_t wire[32];
        char buf[128];
        assert_int_equal(parse(texts[k], p, 8, &n, &pos), HASTLS_RR_OK);
        assert_true(hastls_pairs_format(p, n, buf, sizeof buf) > 0);
        assert_string_equal(buf, texts[k]); /* canonical forms survive exactly */
        assert_int_equal(hastls_rdata_encode(p, n, wire, sizeof wire, &len),
                         HASTLS_RR_OK);
        assert_int_equal(len, 4 * n);
        assert_int_equal(hastls_rdata_decode(wire, len, q, 8, &m), HASTLS_RR_OK);
        assert_int_equal(m, n);
        assert_memory_equal(p, q, n * sizeof p[0]);
    }
}

static void strerror_all(void **state)
{
    (void)state;
    for (int e = 0; e >= -8; e--) {
        const char *s = hastls_rr_strerror(e);
        assert_non_null(s);
        assert_string_not_equal(s, "unknown error");
    }
    assert_string_equal(hastls_rr_strerror(-99), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_good),
        cmocka_unit_test(decode_empty),
        cmocka_unit_test(decode_bad_lengths),
        cmocka_unit_test(decode_zero_pair),
        cmocka_unit_test(decode_ports_0_and_65535),
        cmocka_unit_test(decode_appends_rrset),
        cmocka_unit_test(decode_1000_pairs),
        cmocka_unit_test(decode_over_64k),
        cmocka_unit_test(encode_errors),
        cmocka_unit_test(parse_good),
        cmocka_unit_test(parse_errors),
        cmocka_unit_test(parse_too_many),
        cmocka_unit_test(format_good),
        cmocka_unit_test(format_no_space),
        cmocka_unit_test(round_trips),
        cmocka_unit_test(strerror_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
