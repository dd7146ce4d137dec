/* tests/unit/test_httpsrr.c: the HTTPS record as a "serves TLS" signal
 * (policy/httpsrr.h): well-formed and malformed RDATA, which answers are the
 * signal, when it governs, and what the state it gives decides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/httpsrr.h"
#include "policy/verdict.h"

/* 1 . alpn=h2 */
static const uint8_t service[] = {0, 1, 0, 0, 1, 0, 3, 2, 'h', '2'};
/* 0 target.example. */
static const uint8_t alias[] = {0, 0,   6,   't', 'a', 'r', 'g', 'e', 't',
                                7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};

static void rdata(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(hastls_https_rdata_check(service, sizeof service, &why), 0);
    assert_int_equal(hastls_https_rdata_check(alias, sizeof alias, &why), 0);
    static const uint8_t two[] = {0, 1, 0, 0, 1, 0, 0, 0, 3, 0, 2, 1, 187};
    assert_int_equal(hastls_https_rdata_check(two, sizeof two, &why), 0);
    const struct {
        const uint8_t *p;
        size_t len;
        const char *why;
    } rows[] = {
        {service, 0, "priority"},
        {service, 1, "priority"},
        {service, 2, "target name is cut short"},
        {(const uint8_t[]){0, 1, 0xc0, 12}, 4, "compressed"},
        {(const uint8_t[]){0, 1, 3, 'a', 'b'}, 5, "target name is cut short"},
        {service, 6, "parameter is cut short"},
        {service, 9, "value is cut short"},
        {(const uint8_t[]){0, 0, 0, 0, 1, 0, 0}, 7, "AliasMode record has parameters"},
        {(const uint8_t[]){0, 1, 0, 0, 3, 0, 0, 0, 1, 0, 0}, 11, "increasing order"},
        {(const uint8_t[]){0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0}, 11, "increasing order"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        why = NULL;
        if (hastls_https_rdata_check(rows[i].p, rows[i].len, &why) != -1 || !why ||
            !strstr(why, rows[i].why))
            fail_msg("row %zu: %s", i, why ? why : "accepted");
    }
    /* A name longer than 255 octets. */
    uint8_t longname[2 + 5 * 64 + 1];
    memset(longname, 0, sizeof longname);
    for (int k = 0; k < 5; k++) {
        longname[2 + k * 64] = 63;
        memset(longname + 3 + k * 64, 'a', 63);
    }
    assert_int_equal(hastls_https_rdata_check(longname, sizeof longname, &why), -1);
    assert_non_null(strstr(why, "longer than 255"));
}

static void signal_and_state(void **state)
{
    (void)state;
    struct hastls_rr rr[2] = {{HASTLS_DNS_TYPE_HTTPS, 2, 300, service},
                              {HASTLS_DNS_TYPE_HTTPS, sizeof service, 300, service}};
    /* One malformed record does not hide a good one. */
    assert_true(hastls_https_signal(HASTLS_SEC_SECURE, 0, rr, 2));
    assert_false(hastls_https_signal(HASTLS_SEC_SECURE, 0, rr, 1));
    assert_false(hastls_https_signal(HASTLS_SEC_INSECURE, 0, rr + 1, 1));
    assert_false(hastls_https_signal(HASTLS_SEC_BOGUS, 0, rr + 1, 1));
    assert_false(hastls_https_signal(HASTLS_SEC_SECURE, 3, rr + 1, 1));
    assert_false(hastls_https_signal(HASTLS_SEC_SECURE, 0, NULL, 0));
    /* The three outcomes: the signal, a secure denial, and neither. */
    assert_int_equal(hastls_https_answer(HASTLS_SEC_SECURE, 0, rr, 2), 1);
    assert_int_equal(hastls_https_answer(HASTLS_SEC_SECURE, 0, NULL, 0), 0);
    assert_int_equal(hastls_https_answer(HASTLS_SEC_SECURE, 3, NULL, 0), 0);
    assert_int_equal(hastls_https_answer(HASTLS_SEC_SECURE, 2, NULL, 0), -1);
    assert_int_equal(hastls_https_answer(HASTLS_SEC_INSECURE, 0, rr + 1, 1), -1);
    assert_int_equal(hastls_https_answer(HASTLS_SEC_BOGUS, 0, rr + 1, 1), -1);
    assert_int_equal(hastls_https_answer(HASTLS_SEC_FAILED, -1, NULL, 0), -1);
    struct hastls_rr other = {1, sizeof service, 300, service};
    assert_false(hastls_https_signal(HASTLS_SEC_SECURE, 0, &other, 1));

    const enum hastls_rec takes[] = {HASTLS_REC_NONE, HASTLS_REC_INSECURE,
                                     HASTLS_REC_FAILED};
    const enum hastls_rec keeps[] = {HASTLS_REC_SECURE, HASTLS_REC_BOGUS,
                                     HASTLS_REC_PINNED};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(hastls_https_governs(takes[i], 1, HASTLS_HTTPS_RR_ENFORCE),
                         HASTLS_REC_HTTPS);
        assert_int_equal(hastls_https_governs(takes[i], 1, HASTLS_HTTPS_RR_REPORT),
                         takes[i]);
        assert_int_equal(hastls_https_governs(takes[i], 1, HASTLS_HTTPS_RR_IGNORE),
                         takes[i]);
        assert_int_equal(hastls_https_governs(takes[i], 0, HASTLS_HTTPS_RR_ENFORCE),
                         takes[i]);
        assert_int_equal(hastls_https_governs(keeps[i], 1, HASTLS_HTTPS_RR_ENFORCE),
                         keeps[i]);
    }

    /* The state enforces (80 443): cso refused port 80, cfb allowed. */
    struct hastls_decision d =
        hastls_rec_decide(HASTLS_REC_HTTPS, hastls_https_pairs, 1, 80, HASTLS_CLIENT_CSO,
                          HASTLS_BOGUS_BLOCK);
    assert_int_equal(d.verdict, HASTLS_VERDICT_BLOCK);
    d = hastls_rec_decide(HASTLS_REC_HTTPS, hastls_https_pairs, 1, 80, HASTLS_CLIENT_CFB,
                          HASTLS_BOGUS_BLOCK);
    assert_int_not_equal(d.verdict, HASTLS_VERDICT_BLOCK);
    d = hastls_rec_decide(HASTLS_REC_HTTPS, hastls_https_pairs, 1, 443, HASTLS_CLIENT_CSO,
                          HASTLS_BOGUS_BLOCK);
    assert_int_equal(d.verdict, HASTLS_VERDICT_ALLOW);
    char buf[512];
    d = hastls_rec_decide(HASTLS_REC_HTTPS, hastls_https_pairs, 1, 80, HASTLS_CLIENT_CSO,
                          HASTLS_BOGUS_BLOCK);
    hastls_rec_reason(HASTLS_REC_HTTPS, HASTLS_BOGUS_BLOCK, &d, 80, buf, sizeof buf);
    assert_non_null(
        strstr(buf, "(the pair (80 443) of its DNSSEC-secure HTTPS record, https_rr = "
                    "enforce)"));
    assert_string_equal(hastls_rec_name(HASTLS_REC_HTTPS), "https");
    assert_true(hastls_rec_enforced(HASTLS_REC_HTTPS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rdata),
        cmocka_unit_test(signal_and_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
