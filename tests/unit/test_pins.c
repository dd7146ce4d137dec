/* tests/unit/test_pins.c: the pin rules of policy/pins.h (what creates,
 * refreshes, replaces and removes a pin, lifetimes, expiry, eviction), the
 * decision with a pin and its reason, and the pin file's text: round trips
 * and every kind of malformed file, each named with its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/pins.h"
#include "policy/verdict.h"

#define NOW 1800000000LL
#define DAY 86400u

static const struct hastls_pair tls_only[] = {{0, 443}};
static const struct hastls_pair both[] = {{80, 443}};

static enum hastls_pin_change learn(struct hastls_pinset *s, const char *name,
                                    enum hastls_rec rec, const struct hastls_pair *p,
                                    size_t n, uint32_t ttl, int proven, int64_t now)
{
    return hastls_pins_learn(s, name, rec, p, n, ttl, proven, now, DAY, 30 * DAY);
}

static void learn_rules(void **state)
{
    (void)state;
    struct hastls_pinset s;
    hastls_pins_init(&s);
    assert_int_equal(
        learn(&s, "Sso.Shop.Example.", HASTLS_REC_SECURE, tls_only, 1, 300, 0, NOW),
        HASTLS_PIN_ADDED);
    const struct hastls_pin *p = hastls_pins_find(&s, "sso.shop.example", NOW);
    assert_non_null(p);
    assert_string_equal(p->name, "sso.shop.example");
    assert_int_equal(p->expires, NOW + DAY); /* TTL 300 clamped up to pin_min */
    assert_int_equal(p->pinned, NOW);
    assert_int_equal(p->source, HASTLS_PIN_SRC_HASTLS);

    /* Nothing but a secure answer changes it. */
    const enum hastls_rec keep[] = {HASTLS_REC_FAILED, HASTLS_REC_BOGUS,
                                    HASTLS_REC_INSECURE};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(learn(&s, "sso.shop.example", keep[i], both, 1, 300, 0, NOW + 5),
                         HASTLS_PIN_KEPT);
    p = hastls_pins_find(&s, "SSO.shop.example.", NOW + 5);
    assert_non_null(p);
    assert_int_equal(p->pairs[0].insecure, 0);

    /* The same record soon after: no rewrite; much later: refreshed. */
    assert_int_equal(
        learn(&s, "sso.shop.example", HASTLS_REC_SECURE, tls_only, 1, 300, 0, NOW + 60),
        HASTLS_PIN_KEPT);
    assert_int_equal(learn(&s, "sso.shop.example", HASTLS_REC_SECURE, tls_only, 1, 300, 0,
                           NOW + DAY / 2),
                     HASTLS_PIN_REFRESHED);
    p = hastls_pins_find(&s, "sso.shop.example", NOW);
    assert_int_equal(p->expires, NOW + DAY / 2 + DAY);
    assert_int_equal(p->pinned, NOW);

    /* Other pairs replace it; a long TTL is clamped to pin_max. */
    assert_int_equal(
        learn(&s, "sso.shop.example", HASTLS_REC_SECURE, both, 1, 90 * DAY, 0, NOW + DAY),
        HASTLS_PIN_REPLACED);
    p = hastls_pins_find(&s, "sso.shop.example", NOW + DAY);
    assert_int_equal(p->pairs[0].insecure, 80);
    assert_int_equal(p->expires, NOW + DAY + 30 * DAY);
    assert_int_equal(p->pinned, NOW + DAY);

    /* Insecure alone keeps it; insecure with a proof that the zone is
     * unsigned removes it, as does a secure denial. */
    assert_int_equal(
        learn(&s, "sso.shop.example", HASTLS_REC_INSECURE, NULL, 0, 0, 1, NOW + DAY),
        HASTLS_PIN_REMOVED);
    assert_null(hastls_pins_find(&s, "sso.shop.example", NOW + DAY));
    assert_int_equal(
        learn(&s, "a.example", HASTLS_REC_SECURE, tls_only, 1, DAY * 2, 0, NOW),
        HASTLS_PIN_ADDED);
    assert_int_equal(learn(&s, "a.example", HASTLS_REC_NONE, NULL, 0, 0, 0, NOW + 1),
                     HASTLS_PIN_REMOVED);
    assert_int_equal(learn(&s, "a.example", HASTLS_REC_NONE, NULL, 0, 0, 0, NOW + 2),
                     HASTLS_PIN_KEPT);
    assert_int_equal(s.n, 0);

    /* A record too large to pin removes the old pin (the record changed). */
    struct hastls_pair many[HASTLS_PIN_PAIRS + 1];
    for (size_t i = 0; i < HASTLS_PIN_PAIRS + 1; i++)
        many[i] = (struct hastls_pair){0, (uint16_t)(1000 + i)};
    assert_int_equal(learn(&s, "b.example", HASTLS_REC_SECURE, tls_only, 1, DAY, 0, NOW),
                     HASTLS_PIN_ADDED);
    assert_int_equal(learn(&s, "b.example", HASTLS_REC_SECURE, many, HASTLS_PIN_PAIRS + 1,
                           DAY, 0, NOW),
                     HASTLS_PIN_REMOVED);
    assert_int_equal(
        learn(&s, "b.example", HASTLS_REC_SECURE, many, HASTLS_PIN_PAIRS, DAY, 0, NOW),
        HASTLS_PIN_ADDED);

    /* Names that cannot be pinned. */
    assert_int_equal(learn(&s, "", HASTLS_REC_SECURE, tls_only, 1, DAY, 0, NOW),
                     HASTLS_PIN_ERROR);
    assert_int_equal(learn(&s, "a..b", HASTLS_REC_SECURE, tls_only, 1, DAY, 0, NOW),
                     HASTLS_PIN_ERROR);
    assert_int_equal(learn(&s, "a b", HASTLS_REC_SECURE, tls_only, 1, DAY, 0, NOW),
                     HASTLS_PIN_ERROR);
    hastls_pins_free(&s);
}

/* Pins of the HTTPS signal next to HASTLS pins: each signal's denial
 * removes its own; a HASTLS pin is never replaced by the signal's, and a
 * secure HASTLS record replaces the signal's pin. */
static void signal_sources(void **state)
{
    (void)state;
    struct hastls_pinset s;
    hastls_pins_init(&s);
    const enum hastls_pin_source H = HASTLS_PIN_SRC_HTTPS;
    assert_int_equal(hastls_pins_learn_from(&s, "web.example", H, HASTLS_REC_SECURE, both,
                                            1, DAY, 0, NOW, DAY, 30 * DAY),
                     HASTLS_PIN_ADDED);
    assert_int_equal(hastls_pins_find(&s, "web.example", NOW)->source, H);
    /* The HASTLS answer of a host without a record does not remove it. */
    assert_int_equal(learn(&s, "web.example", HASTLS_REC_NONE, NULL, 0, 0, 0, NOW + 1),
                     HASTLS_PIN_KEPT);
    assert_non_null(hastls_pins_find(&s, "web.example", NOW + 1));
    /* Its own denial does. */
    assert_int_equal(hastls_pins_learn_from(&s, "web.example", H, HASTLS_REC_NONE, NULL,
                                            0, 0, 0, NOW + 2, DAY, 30 * DAY),
                     HASTLS_PIN_REMOVED);
    /* A HASTLS pin stays what it is. */
    assert_int_equal(
        learn(&s, "sso.example", HASTLS_REC_SECURE, tls_only, 1, DAY, 0, NOW),
        HASTLS_PIN_ADDED);
    assert_int_equal(hastls_pins_learn_from(&s, "sso.example", H, HASTLS_REC_SECURE, both,
                                            1, DAY, 0, NOW + 5, DAY, 30 * DAY),
                     HASTLS_PIN_KEPT);
    assert_int_equal(hastls_pins_learn_from(&s, "sso.example", H, HASTLS_REC_NONE, NULL,
                                            0, 0, 0, NOW + 5, DAY, 30 * DAY),
                     HASTLS_PIN_KEPT);
    const struct hastls_pin *p = hastls_pins_find(&s, "sso.example", NOW + 5);
    assert_int_equal(p->source, HASTLS_PIN_SRC_HASTLS);
    assert_int_equal(p->pairs[0].insecure, 0);
    /* A secure HASTLS record takes over the signal's pin. */
    assert_int_equal(hastls_pins_learn_from(&s, "w2.example", H, HASTLS_REC_SECURE, both,
                                            1, DAY, 0, NOW, DAY, 30 * DAY),
                     HASTLS_PIN_ADDED);
    assert_int_equal(learn(&s, "w2.example", HASTLS_REC_SECURE, both, 1, DAY, 0, NOW + 1),
                     HASTLS_PIN_REPLACED);
    assert_int_equal(hastls_pins_find(&s, "w2.example", NOW + 1)->source,
                     HASTLS_PIN_SRC_HASTLS);
    /* Which pins a program uses: the signal's only under https_rr = enforce. */
    assert_int_equal(hastls_pins_learn_from(&s, "w3.example", H, HASTLS_REC_SECURE, both,
                                            1, DAY, 0, NOW, DAY, 30 * DAY),
                     HASTLS_PIN_ADDED);
    const struct hastls_pin *w3 = hastls_pins_find(&s, "w3.example", NOW);
    assert_true(hastls_pin_usable(w3, HASTLS_HTTPS_RR_ENFORCE));
    assert_false(hastls_pin_usable(w3, HASTLS_HTTPS_RR_REPORT));
    assert_false(hastls_pin_usable(w3, HASTLS_HTTPS_RR_IGNORE));
    assert_true(hastls_pin_usable(p, HASTLS_HTTPS_RR_IGNORE));
    assert_false(hastls_pin_usable(NULL, HASTLS_HTTPS_RR_ENFORCE));
    char when[32];
    assert_string_equal(hastls_pin_time(NOW, when, sizeof when), "2027-01-15T08:00:00Z");
    hastls_pins_free(&s);
}

static void expiry_and_eviction(void **state)
{
    (void)state;
    struct hastls_pinset s;
    hastls_pins_init(&s);
    assert_int_equal(hastls_pins_learn(&s, "short.example", HASTLS_REC_SECURE, tls_only,
                                       1, 3600, 0, NOW, 10, 60),
                     HASTLS_PIN_ADDED);
    assert_non_null(hastls_pins_find(&s, "short.example", NOW + 59));
    assert_null(hastls_pins_find(&s, "short.example", NOW + 60));
    /* A dead pin is as if absent: a new secure answer adds it again. */
    assert_int_equal(hastls_pins_learn(&s, "short.example", HASTLS_REC_SECURE, tls_only,
                                       1, 3600, 0, NOW + 61, 10, 60),
                     HASTLS_PIN_ADDED);
    assert_int_equal(hastls_pins_expire(&s, NOW + 200), 1);
    assert_int_equal(s.n, 0);

    /* A full set evicts the pin that expires first. */
    char name[64];
    for (unsigned i = 0; i < HASTLS_PINS_MAX; i++) {
        snprintf(name, sizeof name, "h%u.example", i);
        assert_int_equal(hastls_pins_learn(&s, name, HASTLS_REC_SECURE, tls_only, 1,
                                           DAY + i, 0, NOW, 1, 30 * DAY),
                         HASTLS_PIN_ADDED);
    }
    assert_int_equal(s.n, HASTLS_PINS_MAX);
    assert_int_equal(hastls_pins_learn(&s, "new.example", HASTLS_REC_SECURE, tls_only, 1,
                                       DAY, 0, NOW, 1, 30 * DAY),
                     HASTLS_PIN_ADDED);
    assert_int_equal(s.n, HASTLS_PINS_MAX);
    assert_null(hastls_pins_find(&s, "h0.example", NOW));
    assert_non_null(hastls_pins_find(&s, "h1.example", NOW));
    assert_non_null(hastls_pins_find(&s, "new.example", NOW));
    for (size_t i = 1; i < s.n; i++)
        assert_true(strcmp(s.pin[i - 1].name, s.pin[i].name) < 0);
    assert_int_equal(hastls_pins_forget(&s, "H5.example."), 1);
    assert_int_equal(hastls_pins_forget(&s, "h5.example"), 0);
    hastls_pins_free(&s);
}

static void pin_governs(void **state)
{
    (void)state;
    struct hastls_pinset s;
    hastls_pins_init(&s);
    assert_int_equal(
        learn(&s, "sso.shop.example", HASTLS_REC_SECURE, tls_only, 1, DAY, 0, NOW),
        HASTLS_PIN_ADDED);
    const struct hastls_pin *p = hastls_pins_find(&s, "sso.shop.example", NOW);
    static const struct {
        enum hastls_rec raw, rec;
        enum hastls_bogus bogus;
        enum hastls_rec want;
    } rows[] = {
        {HASTLS_REC_FAILED, HASTLS_REC_FAILED, HASTLS_BOGUS_BLOCK, HASTLS_REC_PINNED},
        /* a failure the signed-zone rule made bogus: the pin is more precise */
        {HASTLS_REC_FAILED, HASTLS_REC_BOGUS, HASTLS_BOGUS_BLOCK, HASTLS_REC_PINNED},
        {HASTLS_REC_INSECURE, HASTLS_REC_INSECURE, HASTLS_BOGUS_BLOCK, HASTLS_REC_PINNED},
        {HASTLS_REC_BOGUS, HASTLS_REC_BOGUS, HASTLS_BOGUS_IGNORE, HASTLS_REC_PINNED},
        /* a validation failure under bogus = block blocks every port */
        {HASTLS_REC_BOGUS, HASTLS_REC_BOGUS, HASTLS_BOGUS_BLOCK, HASTLS_REC_BOGUS},
        {HASTLS_REC_SECURE, HASTLS_REC_SECURE, HASTLS_BOGUS_BLOCK, HASTLS_REC_SECURE},
        {HASTLS_REC_NONE, HASTLS_REC_NONE, HASTLS_BOGUS_BLOCK, HASTLS_REC_NONE},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_int_equal(hastls_pin_governs(p, rows[i].raw, rows[i].rec, rows[i].bogus),
                         rows[i].want);
        assert_int_equal(
            hastls_pin_governs(NULL, rows[i].raw, rows[i].rec, rows[i].bogus),
            rows[i].rec);
    }
    /* The pinned state enforces the pin's pairs, and the reason says so. */
    const enum hastls_client clients[] = {HASTLS_CLIENT_CIO, HASTLS_CLIENT_CFB,
                                          HASTLS_CLIENT_CSO};
    for (size_t c = 0; c < 3; c++) {
        struct hastls_decision d = hastls_rec_decide(HASTLS_REC_PINNED, p->pairs, p->n,
                                                     80, clients[c], HASTLS_BOGUS_BLOCK);
        assert_int_equal(d.verdict, HASTLS_VERDICT_BLOCK);
        d = hastls_rec_decide(HASTLS_REC_PINNED, p->pairs, p->n, 443, clients[c],
                              HASTLS_BOGUS_BLOCK);
        assert_int_equal(d.verdict, HASTLS_VERDICT_ALLOW);
    }
    char buf[512];
    struct hastls_decision d = hastls_rec_decide(HASTLS_REC_PINNED, p->pairs, p->n, 80,
                                                 HASTLS_CLIENT_CFB, HASTLS_BOGUS_BLOCK);
    hastls_rec_reason(HASTLS_REC_PINNED, HASTLS_BOGUS_BLOCK, &d, 80, buf, sizeof buf);
    assert_non_null(strstr(buf, "(pinned: an earlier secure lookup's record, which the "
                                "current HASTLS lookup could not confirm or deny)"));
    assert_true(hastls_rec_enforced(HASTLS_REC_PINNED));
    assert_string_equal(hastls_rec_name(HASTLS_REC_PINNED), "pinned");
    assert_string_equal(hastls_rec_effect(HASTLS_REC_PINNED, HASTLS_BOGUS_BLOCK),
                        "pinned");
    hastls_pins_free(&s);
}

static void file_round_trip(void **state)
{
    (void)state;
    static const char text[] = "hastls-pins 1\n"
                               "# a comment\n"
                               "\n"
                               "b.example hastls 1800000000 1800086400 0 443 25 25\n"
                               "a.example https 1700000000 1900000000 80 443\n";
    struct hastls_pinset s;
    hastls_pins_init(&s);
    size_t line = 99;
    char err[128];
    assert_int_equal(hastls_pins_parse(text, strlen(text), &s, &line, err, sizeof err),
                     0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.pin[0].name, "a.example");
    assert_int_equal(s.pin[0].source, HASTLS_PIN_SRC_HTTPS);
    assert_int_equal(s.pin[1].n, 2);
    assert_int_equal(s.pin[1].pairs[1].secure, 25);

    size_t cap = hastls_pins_format_size(&s);
    char *out = malloc(cap);
    assert_non_null(out);
    size_t len = hastls_pins_format(&s, out, cap);
    assert_true(len > 0);
    assert_string_equal(out, "hastls-pins 1\n"
                             "a.example https 1700000000 1900000000 80 443\n"
                             "b.example hastls 1800000000 1800086400 0 443 25 25\n");
    struct hastls_pinset t;
    hastls_pins_init(&t);
    assert_int_equal(hastls_pins_parse(out, len, &t, &line, err, sizeof err), 0);
    assert_int_equal(t.n, 2);
    assert_memory_equal(t.pin, s.pin, 2 * sizeof s.pin[0]);
    assert_int_equal(hastls_pins_format(&s, out, 10), 0);
    free(out);
    hastls_pins_free(&t);

    /* An empty set is the version line alone. */
    hastls_pins_free(&s);
    char small[32];
    assert_int_equal(hastls_pins_format(&s, small, sizeof small), 14);
    assert_int_equal(hastls_pins_parse(small, 14, &s, &line, err, sizeof err), 0);
    assert_int_equal(s.n, 0);
}

static void malformed_files(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t line;
        const char *msg;
    } rows[] = {
        {"", 1, "first line"},
        {"hastls-pins 2\n", 1, "first line"},
        {"hastls-pins 1", 1, "first line"},
        {"hastls-pins 1\na.example hastls 1 2 0 443", 2, "no newline"},
        {"hastls-pins 1\nA.example hastls 1 2 0 443\n", 2, "lower-case"},
        {"hastls-pins 1\na.example. hastls 1 2 0 443\n", 2, "lower-case"},
        {"hastls-pins 1\na..example hastls 1 2 0 443\n", 2, "lower-case"},
        {"hastls-pins 1\na.example dns 1 2 0 443\n", 2, "source"},
        {"hastls-pins 1\na.example hastls 0 2 0 443\n", 2, "pinning time"},
        {"hastls-pins 1\na.example hastls -1 2 0 443\n", 2, "pinning time"},
        {"hastls-pins 1\na.example hastls 01 2 0 443\n", 2, "pinning time"},
        {"hastls-pins 1\na.example hastls 5 5 0 443\n", 2, "expires before"},
        {"hastls-pins 1\na.example hastls 1 99999999999999999999 0 443\n", 2, "expiry"},
        {"hastls-pins 1\na.example hastls 1 2\n", 2, "no port pair"},
        {"hastls-pins 1\na.example hastls 1 2 0\n", 2, "secure port"},
        {"hastls-pins 1\na.example hastls 1 2 0 65536\n", 2, "0 to 65535"},
        {"hastls-pins 1\na.example hastls 1 2 0 0\n", 2, "(0 0)"},
        {"hastls-pins 1\na.example hastls 1 2 0 x\n", 2, "0 to 65535"},
        {"hastls-pins 1\na.example hastls 1 2 0 443 \n", 2, "one space"},
        {"hastls-pins 1\na.example  hastls 1 2 0 443\n", 2, "one space"},
        {"hastls-pins 1\n a.example hastls 1 2 0 443\n", 2, "one space"},
        {"hastls-pins 1\n#\na.example hastls 1 2 0 443\nb.example hastls 1 2 0 443\n"
         "a.example hastls 1 2 0 443\n",
         5, "pinned twice"},
        {"hastls-pins 1\na.example hastls 1 2 1 1 2 2 3 3 4 4 5 5 6 6 7 7 8 8 9 9 10 10 "
         "11 "
         "11 12 12 13 13 14 14 15 15 16 16 17 17\n",
         2, "more port pairs"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct hastls_pinset s;
        hastls_pins_init(&s);
        size_t line = 0;
        char err[128] = "";
        int rc = hastls_pins_parse(rows[i].text, strlen(rows[i].text), &s, &line, err,
                                   sizeof err);
        if (rc != -1 || line != rows[i].line || !strstr(err, rows[i].msg))
            fail_msg("row %zu: rc %d line %zu '%s'", i, rc, line, err);
        assert_int_equal(s.n, 0);
        hastls_pins_free(&s);
    }
    /* A NUL byte, and a line over the limit. */
    struct hastls_pinset s;
    hastls_pins_init(&s);
    size_t line;
    char err[128];
    static const char nul[] = "hastls-pins 1\na.example\0hastls 1 2 0 443\n";
    assert_int_equal(hastls_pins_parse(nul, sizeof nul - 1, &s, &line, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "NUL"));
    char longl[HASTLS_PINS_LINE_MAX + 64];
    memset(longl, '#', sizeof longl);
    memcpy(longl, "hastls-pins 1\n", 14);
    longl[sizeof longl - 1] = '\n';
    assert_int_equal(hastls_pins_parse(longl, sizeof longl, &s, &line, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "too long"));
    hastls_pins_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(learn_rules),         cmocka_unit_test(signal_sources),
        cmocka_unit_test(expiry_and_eviction), cmocka_unit_test(pin_governs),
        cmocka_unit_test(file_round_trip),     cmocka_unit_test(malformed_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
