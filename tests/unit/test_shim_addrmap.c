/* tests/unit/test_shim_addrmap.c: the address map: ungoverned addresses,
 * secure records decided by the table, the strictest of several names, live
 * names over stale ones, v4-mapped addresses, bogus/insecure/failed records,
 * replacement and the bound, the references the front cache checks. */
#include <arpa/inet.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "shim/core/addrmap.h"
#include "shim/core/ip.h"

static void key4(const char *text, uint8_t key[16])
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, text, &a), 1);
    hastls_ip_key(AF_INET, &a, key);
}

static const struct hastls_pair tls443[] = {{0, 443}};
static const struct hastls_pair both[] = {{80, 443}};

/* Records, which must succeed; returns the record's reference. */
static uint64_t put(struct hastls_addrmap *m, const uint8_t key[16], const char *name,
                    enum hastls_rec rec, const struct hastls_pair *pairs, size_t n,
                    uint64_t expires, uint64_t now)
{
    uint64_t ref = 0;
    assert_int_equal(
        hastls_addrmap_record(m, key, name, rec, pairs, n, expires, now, &ref), 0);
    assert_true(ref != 0);
    return ref;
}

static int decide(struct hastls_addrmap *m, const uint8_t key[16], uint16_t port,
                  enum hastls_client client, uint64_t now,
                  struct hastls_addrmap_verdict *v)
{
    return hastls_addrmap_decide(m, key, port, client, HASTLS_BOGUS_BLOCK, now, v);
}

static void test_ungoverned_and_secure(void **state)
{
    (void)state;
    struct hastls_addrmap *m = hastls_addrmap_new(64);
    struct hastls_addrmap_verdict v;
    uint8_t k[16], other[16];
    key4("192.0.2.1", k);
    key4("192.0.2.2", other);
    assert_int_equal(decide(m, k, 80, HASTLS_CLIENT_CFB, 100, &v), 0);
    put(m, k, "secure.example", HASTLS_REC_SECURE, tls443, 1, 200, 100);
    assert_int_equal(decide(m, k, 80, HASTLS_CLIENT_CFB, 100, &v), 1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    assert_string_equal(v.name, "secure.example");
    assert_int_equal(v.stale, 0);
    assert_int_equal(decide(m, k, 443, HASTLS_CLIENT_CFB, 100, &v), 1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_ALLOW);
    assert_int_equal(v.d.cls, HASTLS_CLASS_TLS);
    /* no-cleartext blocks every client */
    assert_int_equal(decide(m, k, 80, HASTLS_CLIENT_CIO, 100, &v), 1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    assert_int_equal(decide(m, other, 80, HASTLS_CLIENT_CSO, 100, &v), 0);
    hastls_addrmap_free(m);
}

static void test_strictest_wins(void **state)
{
    (void)state;
    struct hastls_addrmap *m = hastls_addrmap_new(64);
    struct hastls_addrmap_verdict v;
    uint8_t k[16];
    key4("198.51.100.7", k);
    put(m, k, "plain.example", HASTLS_REC_NONE, NULL, 0, 500, 100);
    put(m, k, "shop.example", HASTLS_REC_SECURE, tls443, 1, 500, 100);
    put(m, k, "blog.example", HASTLS_REC_SECURE, both, 1, 500, 100);
    assert_int_equal(decide(m, k, 80, HASTLS_CLIENT_CFB, 100, &v), 1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    assert_string_equal(v.name, "shop.example");
    /* CIO: (0 443) says no-cleartext for 80: still blocked */
    assert_int_equal(decide(m, k, 80, HASTLS_CLIENT_CIO, 100, &v), 1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    /* 8080 is unlisted everywhere */
    assert_int_equal(decide(m, k, 8080, HASTLS_CLIENT_CSO, 100, &v), 1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_ALLOW);
    hastls_addrmap_free(m);
}

static void test_cleartext_note_and_cso(void **state)
{
    (void)state;
    struct hastls_addrmap *m = hastls_addrmap_new(8);
    struct hastls_addrmap_verdict v;
    uint8_t k[16];
    key4("203.0.113.5", k);
    put(m, k, "both.example", HASTLS_REC_SECURE, both, 1, 500, 100);
    decide(m, k, 80, HASTLS_CLIENT_CFB, 100, &v);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_ALLOW_NOTE);
    assert_int_equal(v.d.cls, HASTLS_CLASS_CLEARTEXT);
    decide(m, k, 80, HASTLS_CLIENT_CSO, 100, &v);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    decide(m, k, 80, HASTLS_CLIENT_CIO, 100, &v);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_ALLOW);
    hastls_addrmap_free(m);
}

static void test_expiry_live_over_stale(void **state)
{
    (void)state;
    struct hastls_addrmap *m = hastls_addrmap_new(8);
    struct hastls_addrmap_verdict v;
    uint8_t k[16];
    key4("192.0.2.50", k);
    put(m, k, "old.example", HASTLS_REC_SECURE, tls443, 1, 150, 100);
    /* Before expiry: blocks. */
    decide(m, k, 80, HASTLS_CLIENT_CFB, 149, &v);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    assert_int_equal(v.stale, 0);
    /* Expired with no live name: still governs, marked stale. */
    assert_int_equal(decide(m, k, 80, HASTLS_CLIENT_CFB, 150, &v), 1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    assert_int_equal(v.stale, 1);
    /* A live name without a record: the address now belongs to it. */
    put(m, k, "new.example", HASTLS_REC_NONE, NULL, 0, 900, 200);
    decide(m, k, 80, HASTLS_CLIENT_CFB, 200, &v);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_ALLOW);
    assert_string_equal(v.name, "new.example");
    assert_int_equal(v.stale, 0);
    hastls_addrmap_free(m);
}

static void test_v4_mapped(void **state)
{
    (void)state;
    struct hastls_addrmap *m = hastls_addrmap_new(8);
    struct hastls_addrmap_verdict v;
    uint8_t k[16], k2[16];
    key4("192.0.2.9", k);
    put(m, k, "v4.example", HASTLS_REC_SECURE, tls443, 1, 500, 100);
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof s6);
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons(80);
    assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.9", &s6.sin6_addr), 1);
    uint16_t port;
    assert_int_equal(hastls_sockaddr_key((struct sockaddr *)&s6, sizeof s6, k2, &port),
                     0);
    assert_int_equal(port, 80);
    assert_int_equal(decide(m, k2, port, HASTLS_CLIENT_CFB, 100, &v), 1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    char buf[64];
    assert_string_equal(hastls_key_format(k2, buf, sizeof buf), "192.0.2.9");
    /* A real IPv6 address is its own key. */
    uint8_t k6[16];
    struct in6_addr a6;
    inet_pton(AF_INET6, "2001:db8::1", &a6);
    hastls_ip_key(AF_INET6, &a6, k6);
    assert_string_equal(hastls_key_format(k6, buf, sizeof buf), "2001:db8::1");
    assert_int_equal(decide(m, k6, 80, HASTLS_CLIENT_CFB, 100, &v), 0);
    /* Short and foreign socket addresses are not governed. */
    struct sockaddr_in s4;
    memset(&s4, 0, sizeof s4);
    s4.sin_family = AF_INET;
    assert_int_equal(hastls_sockaddr_key((struct sockaddr *)&s4, 4, k2, &port), -1);
    struct sockaddr sa = {.sa_family = AF_UNIX};
    assert_int_equal(hastls_sockaddr_key(&sa, sizeof sa, k2, &port), -1);
    assert_int_equal(hastls_sockaddr_key(NULL, 0, k2, &port), -1);
    hastls_addrmap_free(m);
}

static void test_bogus_insecure_failed(void **state)
{
    (void)state;
    struct hastls_addrmap *m = hastls_addrmap_new(8);
    struct hastls_addrmap_verdict v;
    uint8_t kb[16], ki[16], kf[16];
    key4("192.0.2.20", kb);
    key4("192.0.2.21", ki);
    key4("192.0.2.22", kf);
    put(m, kb, "badsig.example", HASTLS_REC_BOGUS, NULL, 0, 500, 100);
    /* pairs of a non-secure record are ignored */
    put(m, ki, "insecure.example", HASTLS_REC_INSECURE, tls443, 1, 500, 100);
    put(m, kf, "failed.example", HASTLS_REC_FAILED, NULL, 0, 500, 100);
    assert_int_equal(
        hastls_addrmap_decide(m, kb, 443, HASTLS_CLIENT_CIO, HASTLS_BOGUS_BLOCK, 100, &v),
        1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    assert_int_equal(v.rec, HASTLS_REC_BOGUS);
    hastls_addrmap_decide(m, kb, 443, HASTLS_CLIENT_CSO, HASTLS_BOGUS_IGNORE, 100, &v);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_ALLOW);
    hastls_addrmap_decide(m, ki, 80, HASTLS_CLIENT_CSO, HASTLS_BOGUS_BLOCK, 100, &v);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_ALLOW);
    hastls_addrmap_decide(m, kf, 80, HASTLS_CLIENT_CSO, HASTLS_BOGUS_BLOCK, 100, &v);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_ALLOW);
    hastls_addrmap_free(m);
}

static void test_replace_and_bound(void **state)
{
    (void)state;
    struct hastls_addrmap *m = hastls_addrmap_new(4);
    struct hastls_addrmap_verdict v;
    uint8_t k[16];
    key4("192.0.2.30", k);
    put(m, k, "x.example", HASTLS_REC_SECURE, tls443, 1, 500, 100);
    put(m, k, "x.example", HASTLS_REC_NONE, NULL, 0, 500, 100);
    assert_int_equal(hastls_addrmap_count(m), 1);
    decide(m, k, 80, HASTLS_CLIENT_CFB, 100, &v);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_ALLOW);
    uint64_t first = put(m, k, "x.example", HASTLS_REC_NONE, NULL, 0, 500, 100);
    for (int i = 0; i < 10; i++) {
        uint8_t ki[16];
        char a[32];
        snprintf(a, sizeof a, "198.51.100.%d", i);
        key4(a, ki);
        put(m, ki, "y.example", HASTLS_REC_SECURE, tls443, 1, 500, 100);
        assert_true(hastls_addrmap_count(m) <= 4);
        /* the newest record is always there */
        assert_int_equal(decide(m, ki, 80, HASTLS_CLIENT_CFB, 100, &v), 1);
    }
    /* The first record was evicted: its reference says so. */
    assert_false(hastls_addrmap_holds(m, first));
    /* Expired records go first: record two that expire, then two new. */
    hastls_addrmap_free(m);
    m = hastls_addrmap_new(3);
    uint8_t a[16], b[16], c[16], d[16];
    key4("10.0.0.1", a);
    key4("10.0.0.2", b);
    key4("10.0.0.3", c);
    key4("10.0.0.4", d);
    put(m, a, "a", HASTLS_REC_SECURE, tls443, 1, 500, 100);
    put(m, b, "b", HASTLS_REC_SECURE, tls443, 1, 120, 100);
    put(m, c, "c", HASTLS_REC_SECURE, tls443, 1, 500, 100);
    put(m, d, "d", HASTLS_REC_SECURE, tls443, 1, 500, 200);
    assert_int_equal(decide(m, b, 80, HASTLS_CLIENT_CFB, 200, &v), 0);
    assert_int_equal(decide(m, a, 80, HASTLS_CLIENT_CFB, 200, &v), 1);
    assert_int_equal(decide(m, c, 80, HASTLS_CLIENT_CFB, 200, &v), 1);
    assert_int_equal(decide(m, d, 80, HASTLS_CLIENT_CFB, 200, &v), 1);
    hastls_addrmap_free(m);
}

/* A reference holds while its record is in the map, and never again once
 * the record is replaced or evicted, even when its slot is reused. */
static void test_references(void **state)
{
    (void)state;
    struct hastls_addrmap *m = hastls_addrmap_new(2);
    uint8_t a[16], b[16], c[16];
    key4("192.0.2.1", a);
    key4("192.0.2.2", b);
    key4("192.0.2.3", c);
    uint64_t ra = put(m, a, "a.example", HASTLS_REC_SECURE, tls443, 1, 500, 100);
    uint64_t rb = put(m, b, "b.example", HASTLS_REC_NONE, NULL, 0, 500, 100);
    assert_true(ra != rb);
    assert_true(hastls_addrmap_holds(m, ra));
    assert_true(hastls_addrmap_holds(m, rb));
    /* Replacing (a, a.example): the old reference is gone, the new holds. */
    uint64_t ra2 = put(m, a, "a.example", HASTLS_REC_SECURE, tls443, 1, 600, 100);
    assert_true(ra2 != ra);
    assert_false(hastls_addrmap_holds(m, ra));
    assert_true(hastls_addrmap_holds(m, ra2));
    assert_true(hastls_addrmap_holds(m, rb));
    /* Full: a third record evicts one of the two (the clock's choice). */
    uint64_t rc = put(m, c, "c.example", HASTLS_REC_NONE, NULL, 0, 500, 100);
    assert_true(hastls_addrmap_holds(m, rc));
    assert_int_equal(hastls_addrmap_count(m), 2);
    int held = hastls_addrmap_holds(m, ra2) + hastls_addrmap_holds(m, rb);
    assert_int_equal(held, 1);
    /* References that were never made. */
    assert_false(hastls_addrmap_holds(m, 0));
    assert_false(hastls_addrmap_holds(m, (uint64_t)1 << 32 | 7)); /* no slot 7 */
    assert_false(hastls_addrmap_holds(m, (ra2 & 0xffffffffu) | (uint64_t)999 << 32));
    /* A NULL reference pointer is allowed. */
    assert_int_equal(hastls_addrmap_record(m, c, "d.example", HASTLS_REC_NONE, NULL, 0,
                                           500, 100, NULL),
                     0);
    /* Too many pairs: refused, nothing recorded, nothing held. */
    uint64_t ref = 12345;
    assert_int_equal(hastls_addrmap_record(m, c, "e.example", HASTLS_REC_SECURE, tls443,
                                           HASTLS_REC_MAX_PAIRS + 1, 500, 100, &ref),
                     -1);
    assert_int_equal(ref, 12345);
    hastls_addrmap_free(m);
}

/* Writers record and readers decide at once on a map smaller than the set
 * of addresses (evictions all along): every decision a reader gets must be
 * the one its address's record gives (names encode the record). */
static struct hastls_addrmap *shared;

static void *writer(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    long bad = 0;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned a = (seed >> 8) % 300;
        uint8_t k[16];
        uint8_t v4[4] = {10, 1, (uint8_t)(a >> 8), (uint8_t)a};
        hastls_ip_key(AF_INET, v4, k);
        /* even addresses have (0 443), odd ones no record */
        uint64_t ref = 0;
        int rc = a % 2 == 0 ? hastls_addrmap_record(shared, k, "even", HASTLS_REC_SECURE,
                                                    tls443, 1, 1000, 100, &ref)
                            : hastls_addrmap_record(shared, k, "odd", HASTLS_REC_NONE,
                                                    NULL, 0, 1000, 100, &ref);
        bad += rc != 0 || ref == 0;
    }
    return (void *)bad;
}

static void *reader(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    long bad = 0;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned a = (seed >> 8) % 300;
        uint8_t k[16];
        uint8_t v4[4] = {10, 1, (uint8_t)(a >> 8), (uint8_t)a};
        hastls_ip_key(AF_INET, v4, k);
        struct hastls_addrmap_verdict v;
        if (!decide(shared, k, 80, HASTLS_CLIENT_CFB, 100, &v))
            continue;
        enum hastls_verdict want =
            a % 2 == 0 ? HASTLS_VERDICT_BLOCK : HASTLS_VERDICT_ALLOW;
        if (v.d.verdict != want || strcmp(v.name, a % 2 == 0 ? "even" : "odd"))
            bad++;
    }
    return (void *)bad;
}

static void test_threads(void **state)
{
    (void)state;
    shared = hastls_addrmap_new(128);
    pthread_t t[8];
    for (uintptr_t i = 0; i < 8; i++)
        assert_int_equal(
            pthread_create(&t[i], NULL, i < 4 ? writer : reader, (void *)(i + 1)), 0);
    long bad = 0;
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (long)r;
    }
    assert_int_equal(bad, 0);
    assert_true(hastls_addrmap_count(shared) <= 128);
    hastls_addrmap_free(shared);
}

/* NAME-I into BUF. */
static const char *nth(char *buf, size_t len, const char *stem, int i)
{
    snprintf(buf, len, "%s%d.example", stem, i);
    return buf;
}

/* 4000 names on one address: at most HASTLS_ADDRMAP_MAX_NAMES are kept, and
 * the one strict name among looser ones is never the one dropped. */
static void test_many_names_bounded_strictest_kept(void **state)
{
    (void)state;
    struct hastls_addrmap *m = hastls_addrmap_new(8192);
    struct hastls_addrmap_verdict v;
    uint8_t k[16];
    char n[64];
    key4("192.0.2.80", k);
    put(m, k, "shop.example", HASTLS_REC_SECURE, tls443, 1, 500, 100);
    for (int i = 0; i < 4000; i++) {
        enum hastls_rec rec = i % 3 == 0   ? HASTLS_REC_NONE
                              : i % 3 == 1 ? HASTLS_REC_INSECURE
                                           : HASTLS_REC_FAILED;
        put(m, k, nth(n, sizeof n, "cdn", i), rec, NULL, 0, 400 + (uint64_t)i, 100);
        assert_true(hastls_addrmap_names(m, k) <= HASTLS_ADDRMAP_MAX_NAMES);
    }
    assert_int_equal(hastls_addrmap_names(m, k), HASTLS_ADDRMAP_MAX_NAMES);
    assert_true(hastls_addrmap_count(m) <= HASTLS_ADDRMAP_MAX_NAMES);
    assert_int_equal(decide(m, k, 80, HASTLS_CLIENT_CFB, 100, &v), 1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    assert_string_equal(v.name, "shop.example");
    /* A bogus name joins, then 4000 more names with (0 443): bogus stays. */
    put(m, k, "badsig.example", HASTLS_REC_BOGUS, NULL, 0, 300, 100);
    for (int i = 0; i < 4000; i++)
        put(m, k, nth(n, sizeof n, "tls", i), HASTLS_REC_SECURE, tls443, 1,
            400 + (uint64_t)i, 100);
    assert_int_equal(hastls_addrmap_names(m, k), HASTLS_ADDRMAP_MAX_NAMES);
    assert_int_equal(decide(m, k, 443, HASTLS_CLIENT_CFB, 100, &v), 1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    assert_string_equal(v.name, "badsig.example");
    hastls_addrmap_free(m);
}

/* Names whose verdicts no other name gives: none can go, so the 65th live
 * one is refused (its address must not be handed out for it); an expired
 * name makes room; a name that allows everything is simply not kept. */
static void test_full_address_refuses_distinct_records(void **state)
{
    (void)state;
    struct hastls_addrmap *m = hastls_addrmap_new(1024);
    struct hastls_addrmap_verdict v;
    uint8_t k[16];
    char n[64];
    key4("192.0.2.81", k);
    struct hastls_pair p[HASTLS_ADDRMAP_MAX_NAMES + 1];
    for (int i = 0; i < HASTLS_ADDRMAP_MAX_NAMES; i++) {
        p[i] = (struct hastls_pair){0, (uint16_t)(1000 + i)};
        /* The first expires at 150, the rest at 500. */
        put(m, k, nth(n, sizeof n, "d", i), HASTLS_REC_SECURE, &p[i], 1,
            i == 0 ? 150 : 500, 100);
    }
    p[HASTLS_ADDRMAP_MAX_NAMES] = (struct hastls_pair){0, 2000};
    uint64_t ref = 77;
    assert_int_equal(hastls_addrmap_record(m, k, "late.example", HASTLS_REC_SECURE,
                                           &p[HASTLS_ADDRMAP_MAX_NAMES], 1, 500, 100,
                                           &ref),
                     HASTLS_ADDRMAP_FULL);
    assert_int_equal(ref, 77);
    assert_int_equal(hastls_addrmap_names(m, k), HASTLS_ADDRMAP_MAX_NAMES);
    /* Allows everything: not kept, every name there is stricter. */
    ref = 0;
    assert_int_equal(hastls_addrmap_record(m, k, "plain.example", HASTLS_REC_NONE, NULL,
                                           0, 500, 100, &ref),
                     0);
    assert_true(hastls_addrmap_holds(m, ref));
    assert_int_equal(hastls_addrmap_names(m, k), HASTLS_ADDRMAP_MAX_NAMES);
    assert_int_equal(decide(m, k, 1000, HASTLS_CLIENT_CFB, 100, &v), 1);
    assert_int_equal(v.rec, HASTLS_REC_SECURE);
    /* Once d0 expired, it makes room for the new one. */
    put(m, k, "late.example", HASTLS_REC_SECURE, &p[HASTLS_ADDRMAP_MAX_NAMES], 1, 500,
        200);
    assert_int_equal(hastls_addrmap_names(m, k), HASTLS_ADDRMAP_MAX_NAMES);
    hastls_addrmap_free(m);
}

/* Of two names with the same verdicts the one that expires first goes, and
 * the new name is not kept when it would expire before its twin. */
static void test_full_address_drops_earliest_twin(void **state)
{
    (void)state;
    struct hastls_addrmap *m = hastls_addrmap_new(1024);
    struct hastls_addrmap_verdict v;
    uint8_t k[16];
    char n[64];
    key4("192.0.2.82", k);
    struct hastls_pair p[HASTLS_ADDRMAP_MAX_NAMES];
    for (int i = 0; i < HASTLS_ADDRMAP_MAX_NAMES; i++) {
        p[i] = (struct hastls_pair){0, (uint16_t)(1000 + i)};
        put(m, k, nth(n, sizeof n, "d", i), HASTLS_REC_SECURE, &p[i], 1, 900, 100);
    }
    /* A twin of d5 that expires sooner: not kept; d5 stands for it. */
    uint64_t ref = 0;
    assert_int_equal(hastls_addrmap_record(m, k, "twin.example", HASTLS_REC_SECURE, &p[5],
                                           1, 300, 100, &ref),
                     0);
    assert_true(hastls_addrmap_holds(m, ref));
    /* A twin of d7 that lasts longer: d7 goes, the twin stays. */
    put(m, k, "long.example", HASTLS_REC_SECURE, &p[7], 1, 2000, 100);
    assert_int_equal(hastls_addrmap_names(m, k), HASTLS_ADDRMAP_MAX_NAMES);
    /* At 1000 only long.example is live: it decides, d7 is gone. */
    assert_int_equal(decide(m, k, 1007, HASTLS_CLIENT_CFB, 1000, &v), 1);
    assert_string_equal(v.name, "long.example");
    assert_int_equal(v.stale, 0);
    hastls_addrmap_free(m);
}

/* A failed record (the HASTLS answer never came) never replaces a live
 * secure or bogus record of the same name; once that one expired, it does. */
static void test_failed_never_loosens(void **state)
{
    (void)state;
    struct hastls_addrmap *m = hastls_addrmap_new(64);
    struct hastls_addrmap_verdict v;
    uint8_t k[16];
    key4("192.0.2.83", k);
    uint64_t r1 = put(m, k, "shop.example", HASTLS_REC_SECURE, tls443, 1, 500, 100);
    uint64_t r2 = put(m, k, "shop.example", HASTLS_REC_FAILED, NULL, 0, 600, 200);
    assert_true(r1 == r2 && hastls_addrmap_holds(m, r2));
    decide(m, k, 80, HASTLS_CLIENT_CFB, 200, &v);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    put(m, k, "bad.example", HASTLS_REC_BOGUS, NULL, 0, 500, 100);
    put(m, k, "bad.example", HASTLS_REC_FAILED, NULL, 0, 500, 200);
    decide(m, k, 443, HASTLS_CLIENT_CFB, 200, &v);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    assert_string_equal(v.name, "bad.example");
    /* A real answer replaces it either way. */
    put(m, k, "bad.example", HASTLS_REC_NONE, NULL, 0, 500, 200);
    decide(m, k, 443, HASTLS_CLIENT_CFB, 200, &v);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_ALLOW);
    /* Expired: the failure is all there is now. */
    put(m, k, "shop.example", HASTLS_REC_FAILED, NULL, 0, 900, 600);
    decide(m, k, 80, HASTLS_CLIENT_CFB, 600, &v);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_ALLOW);
    hastls_addrmap_free(m);
}

/* Whatever order names arrive in, the strictest still decides: names that
 * allow everything never hide a stricter one, nor does a bogus record that
 * bogus = ignore lets through. */
static void test_order_never_hides_strictest(void **state)
{
    (void)state;
    struct hastls_addrmap *m = hastls_addrmap_new(64);
    struct hastls_addrmap_verdict v;
    uint8_t k[16];
    key4("192.0.2.84", k);
    put(m, k, "a.example", HASTLS_REC_NONE, NULL, 0, 500, 100);
    put(m, k, "b.example", HASTLS_REC_FAILED, NULL, 0, 500, 100);
    put(m, k, "old.example", HASTLS_REC_SECURE, tls443, 1, 150, 100); /* expires */
    put(m, k, "c.example", HASTLS_REC_INSECURE, NULL, 0, 500, 100);
    put(m, k, "bad.example", HASTLS_REC_BOGUS, NULL, 0, 500, 100);
    put(m, k, "shop.example", HASTLS_REC_SECURE, tls443, 1, 500, 100);
    put(m, k, "d.example", HASTLS_REC_NONE, NULL, 0, 500, 100);
    assert_int_equal(
        hastls_addrmap_decide(m, k, 80, HASTLS_CLIENT_CFB, HASTLS_BOGUS_IGNORE, 200, &v),
        1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    assert_string_equal(v.name, "shop.example");
    hastls_addrmap_decide(m, k, 443, HASTLS_CLIENT_CFB, HASTLS_BOGUS_IGNORE, 200, &v);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_ALLOW);
    hastls_addrmap_decide(m, k, 443, HASTLS_CLIENT_CFB, HASTLS_BOGUS_BLOCK, 200, &v);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    assert_string_equal(v.name, "bad.example");
    /* The live names decide; the expired strict one does not. */
    put(m, k, "shop.example", HASTLS_REC_NONE, NULL, 0, 500, 200);
    put(m, k, "bad.example", HASTLS_REC_NONE, NULL, 0, 500, 200);
    decide(m, k, 80, HASTLS_CLIENT_CFB, 200, &v);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_ALLOW);
    /* All expired: the stale ones govern, the strictest first. */
    decide(m, k, 80, HASTLS_CLIENT_CFB, 600, &v);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    assert_string_equal(v.name, "old.example");
    assert_int_equal(v.stale, 1);
    hastls_addrmap_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ungoverned_and_secure),
        cmocka_unit_test(test_strictest_wins),
        cmocka_unit_test(test_cleartext_note_and_cso),
        cmocka_unit_test(test_expiry_live_over_stale),
        cmocka_unit_test(test_v4_mapped),
        cmocka_unit_test(test_bogus_insecure_failed),
        cmocka_unit_test(test_replace_and_bound),
        cmocka_unit_test(test_references),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_many_names_bounded_strictest_kept),
        cmocka_unit_test(test_full_address_refuses_distinct_records),
        cmocka_unit_test(test_full_address_drops_earliest_twin),
        cmocka_unit_test(test_failed_never_loosens),
        cmocka_unit_test(test_order_never_hides_strictest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
