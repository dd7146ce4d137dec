/* tests/unit/test_decide.c: every row of the decision table under CIO, CFB and
 * CSO, precedence between rows, the well-known port table and reason texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy/decide.h"
#include "policy/hastls_rr.h"

#define A HASTLS_VERDICT_ALLOW
#define N HASTLS_VERDICT_ALLOW_NOTE
#define B HASTLS_VERDICT_BLOCK

struct row {
    const char *record; /* presentation form, "" for no pairs at all */
    uint16_t port;
    enum hastls_class cls;
    enum hastls_verdict cio, cfb, cso;
    struct hastls_pair why; /* the pair that decided; {0,0} for unlisted */
};

static const struct row rows[] = {
    /* tls: s = P, i != P */
    {"(0 443)", 443, HASTLS_CLASS_TLS, A, A, A, {0, 443}},
    {"(80 443)", 443, HASTLS_CLASS_TLS, A, A, A, {80, 443}},
    {"(8080 8443)", 8443, HASTLS_CLASS_TLS, A, A, A, {8080, 8443}},
    {"(25 25 0 993 0 995)", 993, HASTLS_CLASS_TLS, A, A, A, {0, 993}},
    {"(25 25 0 993 0 995)", 995, HASTLS_CLASS_TLS, A, A, A, {0, 995}},
    /* starttls: i = s = P */
    {"(25 25 0 993 0 995)", 25, HASTLS_CLASS_STARTTLS, A, A, A, {25, 25}},
    {"(143 143)", 143, HASTLS_CLASS_STARTTLS, A, A, A, {143, 143}},
    /* cleartext: i = P, s != P */
    {"(80 443)", 80, HASTLS_CLASS_CLEARTEXT, A, N, B, {80, 443}},
    {"(80 0)", 80, HASTLS_CLASS_CLEARTEXT, A, N, B, {80, 0}},
    {"(8080 8443)", 8080, HASTLS_CLASS_CLEARTEXT, A, N, B, {8080, 8443}},
    /* no-cleartext: P unlisted, W(P) = S, (0, S) in R */
    {"(0 443)", 80, HASTLS_CLASS_NO_CLEARTEXT, B, B, B, {0, 443}},
    {"(25 25 0 993 0 995)", 143, HASTLS_CLASS_NO_CLEARTEXT, B, B, B, {0, 993}},
    {"(25 25 0 993 0 995)", 110, HASTLS_CLASS_NO_CLEARTEXT, B, B, B, {0, 995}},
    {"(0 465)", 587, HASTLS_CLASS_NO_CLEARTEXT, B, B, B, {0, 465}},
    {"(0 636)", 389, HASTLS_CLASS_NO_CLEARTEXT, B, B, B, {0, 636}},
    {"(0 6697)", 6667, HASTLS_CLASS_NO_CLEARTEXT, B, B, B, {0, 6697}},
    {"(0 5223)", 5222, HASTLS_CLASS_NO_CLEARTEXT, B, B, B, {0, 5223}},
    /* no-tls: P unlisted, P = W(I), (I, 0) in R */
    {"(80 0)", 443, HASTLS_CLASS_NO_TLS, A, B, B, {80, 0}},
    {"(143 0)", 993, HASTLS_CLASS_NO_TLS, A, B, B, {143, 0}},
    {"(21 0)", 990, HASTLS_CLASS_NO_TLS, A, B, B, {21, 0}},
    {"(587 0)", 465, HASTLS_CLASS_NO_TLS, A, B, B, {587, 0}},
    /* unlisted */
    {"(0 443)", 8080, HASTLS_CLASS_UNLISTED, A, A, A, {0, 0}},
    {"(80 443)", 22, HASTLS_CLASS_UNLISTED, A, A, A, {0, 0}},
    {"", 80, HASTLS_CLASS_UNLISTED, A, A, A, {0, 0}},
    {"", 443, HASTLS_CLASS_UNLISTED, A, A, A, {0, 0}},
    /* W(P) exists but R does not have (0, W(P)): (80 443) says nothing of 143 */
    {"(80 443)", 143, HASTLS_CLASS_UNLISTED, A, A, A, {0, 0}},
    /* 995 = W(110), but the pair serves cleartext elsewhere (25): no inference */
    {"(25 995)", 110, HASTLS_CLASS_UNLISTED, A, A, A, {0, 0}},
    /* 80 = W(443), but the pair also serves TLS (on 8443): no inference */
    {"(80 8443)", 443, HASTLS_CLASS_UNLISTED, A, A, A, {0, 0}},
    /* W is one-to-one: 25 has no implicit-TLS counterpart, so (0 465) says
     * nothing about 25, and (25 0) nothing about 465 */
    {"(0 465)", 25, HASTLS_CLASS_UNLISTED, A, A, A, {0, 0}},
    {"(25 0)", 465, HASTLS_CLASS_UNLISTED, A, A, A, {0, 0}},
    /* 8080/8443 are not an IANA pair: no inference */
    {"(0 8443)", 8080, HASTLS_CLASS_UNLISTED, A, A, A, {0, 0}},
    {"(8080 0)", 8443, HASTLS_CLASS_UNLISTED, A, A, A, {0, 0}},

    /* precedence: several rows could match, the first row wins */
    /* tls before cleartext: 443 is TLS in one pair, cleartext in another */
    {"(443 0 0 443)", 443, HASTLS_CLASS_TLS, A, A, A, {0, 443}},
    {"(443 0 80 443)", 443, HASTLS_CLASS_TLS, A, A, A, {80, 443}},
    /* tls before starttls */
    {"(443 443 0 443)", 443, HASTLS_CLASS_TLS, A, A, A, {0, 443}},
    /* starttls before cleartext */
    {"(25 0 25 25)", 25, HASTLS_CLASS_STARTTLS, A, A, A, {25, 25}},
    /* listed as cleartext, although W says its TLS side is served only over
     * TLS: the explicit listing wins over the inference */
    {"(0 443 80 0)", 80, HASTLS_CLASS_CLEARTEXT, A, N, B, {80, 0}},
    /* listed as cleartext beats no-tls inference for a TLS port */
    {"(80 0 443 0)", 443, HASTLS_CLASS_CLEARTEXT, A, N, B, {443, 0}},
    /* no-cleartext and no-tls never compete (no port is on both sides of W,
     * see wellknown_table); a repeated pair reports its first copy */
    {"(0 443 0 443)", 80, HASTLS_CLASS_NO_CLEARTEXT, B, B, B, {0, 443}},
    {"(80 0 80 443)", 443, HASTLS_CLASS_TLS, A, A, A, {80, 443}},
    /* the first of several tls pairs is the one reported */
    {"(8443 443 0 443)", 443, HASTLS_CLASS_TLS, A, A, A, {8443, 443}},
};

static void parse_or_die(const char *text, struct hastls_pair *p, size_t cap, size_t *n)
{
    if (text[0] == '\0') {
        *n = 0;
        return;
    }
    int r = hastls_pairs_parse(text, p, cap, n, NULL);
    if (r != HASTLS_RR_OK)
        fail_msg("test record '%s' does not parse: %s", text, hastls_rr_strerror(r));
}

static void table_rows(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        const struct row *r = &rows[k];
        struct hastls_pair p[16];
        size_t n;
        parse_or_die(r->record, p, 16, &n);
        const enum hastls_client clients[3] = {HASTLS_CLIENT_CIO, HASTLS_CLIENT_CFB,
                                               HASTLS_CLIENT_CSO};
        const enum hastls_verdict want[3] = {r->cio, r->cfb, r->cso};
        for (int c = 0; c < 3; c++) {
            struct hastls_decision d = hastls_decide(p, n, r->port, clients[c]);
            if (d.cls != r->cls || d.verdict != want[c] ||
                d.pair.insecure != r->why.insecure || d.pair.secure != r->why.secure)
                fail_msg("record '%s' port %u client %s: got %s/%d (%u %u), want "
                         "%s/%d (%u %u)",
                         r->record, r->port, hastls_client_name(clients[c]),
                         hastls_class_name(d.cls), d.verdict, d.pair.insecure,
                         d.pair.secure, hastls_class_name(r->cls), want[c],
                         r->why.insecure, r->why.secure);
        }
    }
}

/* Every class appears in the table above under every client. */
static void table_covers_every_class(void **state)
{
    (void)state;
    int seen[6] = {0};
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++)
        seen[rows[k].cls]++;
    for (int c = 0; c < 6; c++)
        assert_true(seen[c] >= 2);
}

static void null_pairs_and_port_zero(void **state)
{
    (void)state;
    struct hastls_decision d = hastls_decide(NULL, 0, 80, HASTLS_CLIENT_CSO);
    assert_int_equal(d.cls, HASTLS_CLASS_UNLISTED);
    assert_int_equal(d.verdict, A);
    /* port 0 is "not served" in a pair, never a match for a connect */
    struct hastls_pair p[] = {{80, 0}, {0, 443}};
    d = hastls_decide(p, 2, 0, HASTLS_CLIENT_CSO);
    assert_int_equal(d.cls, HASTLS_CLASS_UNLISTED);
    assert_int_equal(d.verdict, A);
}

static void cso_never_cleartext(void **state)
{
    (void)state;
    /* CSO blocks exactly the classes where the port is served without TLS */
    for (uint32_t port = 1; port < 65536; port += 97) {
        struct hastls_pair p[] = {{(uint16_t)port, 0}};
        struct hastls_decision d = hastls_decide(p, 1, (uint16_t)port, HASTLS_CLIENT_CSO);
        assert_int_equal(d.cls, HASTLS_CLASS_CLEARTEXT);
        assert_int_equal(d.verdict, B);
        d = hastls_decide(p, 1, (uint16_t)port, HASTLS_CLIENT_CIO);
        assert_int_equal(d.verdict, A);
    }
}

static void wellknown_table(void **state)
{
    (void)state;
    static const uint16_t pairs[][2] = {
        {80, 443},    {143, 993}, {110, 995}, {21, 990},    {23, 992},
        {389, 636},   {119, 563}, {587, 465}, {6667, 6697}, {5222, 5223},
        {3268, 3269}, {194, 994}, {53, 853},
    };
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        assert_int_equal(hastls_wellknown_tls_port(pairs[k][0]), pairs[k][1]);
        assert_int_equal(hastls_wellknown_cleartext_port(pairs[k][1]), pairs[k][0]);
        /* not the other way round */
        assert_int_equal(hastls_wellknown_tls_port(pairs[k][1]), 0);
        assert_int_equal(hastls_wellknown_cleartext_port(pairs[k][0]), 0);
    }
    /* SMTP relay has no implicit-TLS port; 1080 and 8080 are no pairs */
    assert_int_equal(hastls_wellknown_tls_port(25), 0);
    assert_int_equal(hastls_wellknown_cleartext_port(465), 587);
    assert_int_equal(hastls_wellknown_tls_port(1080), 0);
    assert_int_equal(hastls_wellknown_tls_port(8080), 0);
    assert_int_equal(hastls_wellknown_cleartext_port(8443), 0);
    assert_int_equal(hastls_wellknown_tls_port(0), 0);
    assert_int_equal(hastls_wellknown_cleartext_port(0), 0);
    /* one-to-one in both directions over every port */
    for (uint32_t p = 1; p < 65536; p++) {
        uint16_t t = hastls_wellknown_tls_port((uint16_t)p);
        if (t)
            assert_int_equal(hastls_wellknown_cleartext_port(t), p);
        uint16_t c = hastls_wellknown_cleartext_port((uint16_t)p);
        if (c)
            assert_int_equal(hastls_wellknown_tls_port(c), p);
        /* no port is both a cleartext and a TLS port of W */
        assert_false(t && c);
    }
}

static void names(void **state)
{
    (void)state;
    assert_string_equal(hastls_class_name(HASTLS_CLASS_TLS), "tls");
    assert_string_equal(hastls_class_name(HASTLS_CLASS_STARTTLS), "starttls");
    assert_string_equal(hastls_class_name(HASTLS_CLASS_CLEARTEXT), "cleartext");
    assert_string_equal(hastls_class_name(HASTLS_CLASS_NO_CLEARTEXT), "no-cleartext");
    assert_string_equal(hastls_class_name(HASTLS_CLASS_NO_TLS), "no-tls");
    assert_string_equal(hastls_class_name(HASTLS_CLASS_UNLISTED), "unlisted");
    assert_string_equal(hastls_verdict_name(A), "allow");
    assert_string_equal(hastls_verdict_name(N), "allow");
    assert_string_equal(hastls_verdict_name(B), "block");
}

static const char *reason(const char *record, uint16_t port, enum hastls_client c,
                          char *buf, size_t len)
{
    struct hastls_pair p[8];
    size_t n;
    parse_or_die(record, p, 8, &n);
    struct hastls_decision d = hastls_decide(p, n, port, c);
    return hastls_decision_reason(&d, port, buf, len);
}

static void reasons(void **state)
{
    (void)state;
    char buf[256];
    assert_string_equal(
        reason("(0 443)", 80, HASTLS_CLIENT_CFB, buf, sizeof buf),
        "record pair (0 443) serves 80 only over TLS on 443, never in cleartext");
    assert_string_equal(reason("(0 443)", 443, HASTLS_CLIENT_CFB, buf, sizeof buf),
                        "record pair (0 443) serves 443 over TLS");
    assert_string_equal(reason("(80 0)", 443, HASTLS_CLIENT_CFB, buf, sizeof buf),
                        "record pair (80 0) serves no TLS on 443, only cleartext on 80");
    assert_string_equal(reason("(0 443)", 8080, HASTLS_CLIENT_CSO, buf, sizeof buf),
                        "the record does not mention port 8080");
    assert_non_null(
        strstr(reason("(25 25)", 25, HASTLS_CLIENT_CSO, buf, sizeof buf), "STARTTLS"));
    /* the blocked cleartext case says what to use instead */
    assert_non_null(
        strstr(reason("(80 443)", 80, HASTLS_CLIENT_CSO, buf, sizeof buf), "TLS on 443"));
    assert_non_null(strstr(reason("(80 0)", 80, HASTLS_CLIENT_CSO, buf, sizeof buf),
                           "never over TLS"));
    assert_non_null(
        strstr(reason("(80 443)", 80, HASTLS_CLIENT_CFB, buf, sizeof buf), "cleartext"));
    /* truncation is safe */
    char tiny[8];
    reason("(0 443)", 80, HASTLS_CLIENT_CFB, tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    char none[1] = {'x'};
    assert_ptr_equal(reason("(0 443)", 80, HASTLS_CLIENT_CFB, none, 0), none);
    assert_int_equal(none[0], 'x');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_rows),
        cmocka_unit_test(table_covers_every_class),
        cmocka_unit_test(null_pairs_and_port_zero),
        cmocka_unit_test(cso_never_cleartext),
        cmocka_unit_test(wellknown_table),
        cmocka_unit_test(names),
        cmocka_unit_test(reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
