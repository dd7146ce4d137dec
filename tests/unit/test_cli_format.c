/* tests/unit/test_cli_format.c: the CLI's output escapers (shim/cli/format.c).
 *
 * The JSON escaper must turn any byte string into a valid JSON string that
 * decodes back to the same bytes (well-formed UTF-8 as itself, every other byte
 * as the Latin-1 code point of its value), and the text escaper must never let a
 * control byte through.  The CLI sources are not in an archive, so the one file
 * under test is compiled in here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shim/cli/format.c"

/* Runs FN on S and returns what it wrote (malloc'ed, NUL-terminated). */
static char *capture(void (*fn)(FILE *, const char *), const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fn(f, s);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void expect_json(const char *in, const char *want)
{
    char *got = capture(hastls_cli_json_string, in);
    assert_string_equal(got, want);
    free(got);
}

static void expect_text(const char *in, const char *want)
{
    char *got = capture(hastls_cli_text, in);
    assert_string_equal(got, want);
    free(got);
}

static void test_json_fixed(void **state)
{
    (void)state;
    expect_json("", "\"\"");
    expect_json("secure.lab.example", "\"secure.lab.example\"");
    expect_json("a\"b\\c", "\"a\\\"b\\\\c\"");
    expect_json("\n\t\x01\x1f\x7f", "\"\\n\\t\\u0001\\u001f\\u007f\"");
    expect_json("caf\xc3\xa9", "\"caf\xc3\xa9\"");            /* é */
    expect_json("\xe2\x82\xac", "\"\xe2\x82\xac\"");          /* € */
    expect_json("\xf0\x9f\x94\x92", "\"\xf0\x9f\x94\x92\"");  /* 4 bytes */
    expect_json("\xff", "\"\\u00ff\"");                       /* never UTF-8 */
    expect_json("\xc3", "\"\\u00c3\"");                       /* truncated */
    expect_json("\xc3(", "\"\\u00c3(\"");                     /* bad continuation */
    expect_json("\xc0\xaf", "\"\\u00c0\\u00af\"");            /* overlong '/' */
    expect_json("\xe0\x80\xaf", "\"\\u00e0\\u0080\\u00af\""); /* overlong 3 */
    expect_json("\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\""); /* surrogate */
    expect_json("\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\""); /* > U+10FFFF */
    expect_json("\x80", "\"\\u0080\""); /* lone continuation */
    expect_json(NULL, "\"\"");
}

static void test_text_fixed(void **state)
{
    (void)state;
    expect_text("www.example", "www.example");
    expect_text("a\\b", "a\\\\b");
    expect_text("\x1b[31m", "\\027[31m");
    expect_text("\n\x7f", "\\010\\127");
    expect_text("caf\xc3\xa9", "caf\xc3\xa9");
    expect_text("\xc2\x9b", "\\194\\155"); /* U+009B, CSI in C1 */
    expect_text("\xc2\xa0", "\xc2\xa0");   /* U+00A0 is printable */
    expect_text("\xff", "\\255");
    expect_text(NULL, "");
}

/* Decodes the JSON string literal J back into bytes: a \u escape below 0x100
 * gives one byte (the escaper uses it only for control characters and for
 * bytes that are not UTF-8), raw characters give themselves.  Fails the test
 * on anything a JSON parser would reject. */
static size_t json_decode(const char *j, unsigned char *out, size_t cap)
{
    size_t n = 0, len = strlen(j);
    assert_true(len >= 2 && j[0] == '"' && j[len - 1] == '"');
    for (size_t i = 1; i < len - 1; i++) {
        unsigned char c = (unsigned char)j[i];
        assert_true(c >= 0x20); /* no raw control character */
        assert_true(c != '"');  /* no unescaped quote inside */
        assert_true(n < cap);
        if (c != '\\') {
            out[n++] = c;
            continue;
        }
        c = (unsigned char)j[++i];
        switch (c) {
        case '"':
        case '\\':
            out[n++] = c;
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'u': {
            unsigned v;
            assert_int_equal(sscanf(j + i + 1, "%4x", &v), 1);
            assert_true(v < 0x100);
            out[n++] = (unsigned char)v;
            i += 4;
            break;
        }
        default:
            fail_msg("unexpected escape \\%c", c);
        }
    }
    return n;
}

/* Whether S[0..N) is well-formed UTF-8 (checked independently of format.c). */
static int valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k;
        if (s[i] < 0x80) {
            i++;
            continue;
        } else if ((s[i] & 0xE0) == 0xC0) {
            k = 1;
            cp = s[i] & 0x1F;
        } else if ((s[i] & 0xF0) == 0xE0) {
            k = 2;
            cp = s[i] & 0x0F;
        } else if ((s[i] & 0xF8) == 0xF0) {
            k = 3;
            cp = s[i] & 0x07;
        } else {
            return 0;
        }
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* Random byte strings (biased towards UTF-8 lead and continuation bytes):
 * the output is valid UTF-8, and decodes back to the input. */
static void test_json_round_trip(void **state)
{
    (void)state;
    static const unsigned char pool[] = {'a',  '.',  '"',  '\\', 0x01, 0x1f, 0x7f, 0x80,
                                         0x9f, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef,
                                         0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x90, 0x8f, '\n'};
    unsigned seed = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        unsigned char in[33], back[64];
        size_t n = 0, len;
        seed = seed * 1103515245u + 12345u;
        len = (seed >> 16) % 32;
        for (; n < len; n++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 16;
            in[n] = (r & 1) ? pool[(r >> 1) % sizeof pool] : (unsigned char)(r >> 3);
            if (in[n] == 0)
                in[n] = 'z';
        }
        in[n] = '\0';
        char *out = capture(hastls_cli_json_string, (const char *)in);
        size_t olen = strlen(out);
        assert_true(valid_utf8((const unsigned char *)out, olen));
        size_t m = json_decode(out, back, sizeof back);
        assert_int_equal(m, n);
        assert_memory_equal(back, in, n);

        char *text = capture(hastls_cli_text, (const char *)in);
        for (const unsigned char *p = (const unsigned char *)text; *p; p++)
            assert_true(*p >= 0x20 && *p != 0x7f);
        free(text);
        free(out);
    }
}

static void test_rcode_names(void **state)
{
    (void)state;
    assert_string_equal(hastls_cli_rcode_name(-1), "none");
    assert_string_equal(hastls_cli_rcode_name(0), "NOERROR");
    assert_string_equal(hastls_cli_rcode_name(2), "SERVFAIL");
    assert_string_equal(hastls_cli_rcode_name(3), "NXDOMAIN");
    assert_string_equal(hastls_cli_rcode_name(10), "NOTZONE");
    assert_string_equal(hastls_cli_rcode_name(11), "other");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_fixed),
        cmocka_unit_test(test_text_fixed),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_rcode_names),
    };
    return cmocka_run_group_tests_name("cli_format", tests, NULL, NULL);
}
